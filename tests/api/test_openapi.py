"""The API describes itself: GET /v1/openapi.json is valid OpenAPI 3.1 (checked
by an independent validator from the npm registry), lists every route the
server serves, and /docs renders it for people."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tests" / "openapi"


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None or not (VALIDATOR / "node_modules").is_dir():
        pytest.fail("node and tests/openapi/node_modules are needed "
                    "(scripts/test installs them with npm ci)")
    return exe


def test_openapi_document_is_valid_3_1(start_server, node, tmp_path):
    s = start_server()
    r = s.get("/v1/openapi.json")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("application/json")
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    path = tmp_path / "openapi.json"
    path.write_text(json.dumps(doc))
    out = subprocess.run([node, str(VALIDATOR / "validate.mjs"), str(path)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[:4000]


@pytest.mark.parametrize("path,method", [
    ("/v1/users", "get"), ("/v1/users", "post"), ("/v1/users/{id}", "get"),
    ("/v1/users/{id}", "patch"), ("/v1/users/{id}", "delete"),
    ("/v1/me", "get"), ("/v1/me", "patch"), ("/v1/auth/login", "post"),
    ("/v1/auth/register", "post"), ("/v1/relationships", "get"),
    ("/healthz", "get"), ("/readyz", "get"),
])
def test_openapi_lists_the_routes_served(start_server, path, method):
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    assert path in doc["paths"], sorted(doc["paths"])
    assert method in doc["paths"][path], (path, sorted(doc["paths"][path]))


def test_docs_page_is_html_and_names_the_paths(start_server):
    s = start_server()
    r = s.get("/docs")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    assert "/v1/users" in r.text and "/v1/auth/login" in r.text
