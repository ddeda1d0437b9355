"""The web application's API types (docs/WEB.md): web/src/app/api-types.d.ts
is what openapi-typescript makes of this server's /v1/openapi.json (a change
to the API that the committed file does not follow fails here: regenerate
it), and tsc checks the application's JavaScript against it, so a page that
calls an operation that does not exist, sends a field the operation does
not take or reads a member of its answer as another type fails the suite.

The document is the same on both databases: this runs on the SQLite tier."""
import json
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.sqlite_only]

WEB = ROOT / "web"
TYPES = WEB / "src" / "app" / "api-types.d.ts"
REGENERATE = ("scripts/web-types (serves the binary on a free port and runs openapi-typescript "
              "on its document)")

# Three calls made wrongly: tsc must find each one (line numbers below).
WRONG = """import { call } from "API";
// a field the operation does not take
call("post", "/v1/auth/login", { body: { email: "a@example.org", pasword: "x" } });
// an operation the API does not have
call("get", "/v1/no-such-things");
// a member of its answer used as another type (email is a string, or null)
call("get", "/v1/me").then((me) => me.email.toFixed(2));
"""
WRONG_LINES = {3, 5, 7}


@pytest.fixture
def node():
    exe = shutil.which("node")
    if exe is None or not (WEB / "node_modules" / "typescript").is_dir():
        pytest.fail("node and web/node_modules are needed (the build runs npm ci in web/)")
    return exe


def test_the_committed_api_types_are_made_from_this_servers_document(server, node, tmp_path):
    doc = tmp_path / "openapi.json"
    doc.write_bytes(server.get("/v1/openapi.json").content)
    out = tmp_path / "api-types.d.ts"
    r = subprocess.run([node, str(WEB / "node_modules/openapi-typescript/bin/cli.js"), str(doc),
                        "-o", str(out)], cwd=WEB, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert out.read_text() == TYPES.read_text(), \
        f"web/src/app/api-types.d.ts is stale: {REGENERATE}"


def test_tsc_checks_the_pages_calls_against_the_types(node, tmp_path):
    wrong = tmp_path / "wrong-call.js"
    wrong.write_text(WRONG.replace("API", str(WEB / "src" / "app" / "api.js")))
    config = tmp_path / "tsconfig.json"
    config.write_text(json.dumps({
        "extends": str(WEB / "tsconfig.json"),
        "include": [str(WEB / "src" / "app" / "**" / p) for p in ("*.js", "*.jsx", "*.d.ts")]
        + [str(wrong)],
    }))
    r = subprocess.run([node, str(WEB / "node_modules/typescript/bin/tsc"), "-p", str(config),
                        "--pretty", "false"], cwd=WEB, capture_output=True, text=True,
                       timeout=600)
    errors = [line for line in r.stdout.splitlines() if re.search(r"\(\d+,\d+\): error", line)]
    app = [e for e in errors if "wrong-call.js" not in e]
    assert app == [], "the application does not type-check:\n" + "\n".join(app)
    found = {int(m.group(1)) for e in errors
             if (m := re.search(r"wrong-call\.js\((\d+),", e))}
    assert found == WRONG_LINES, r.stdout
