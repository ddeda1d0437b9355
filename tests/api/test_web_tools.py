"""The web application's hand-run tools stay runnable (docs/WEB.md, "What
it looks like"; docs/BENCHMARKS.md, "Web pages: Lighthouse"): neither runs
in make test (a Lighthouse pass or a set of screenshots takes minutes), so
this checks what would break them quietly: bench/lighthouse's lock file
pins the package.json's Lighthouse (npm ci refuses a lock that disagrees)
at a version Debian 12's Node.js runs, the script parses, and
scripts/web-shots answers --help with its pages."""
import json
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LH = ROOT / "tests" / "lighthouse"
# Debian 12's nodejs (18.19), the oldest Node.js carebase builds with.
DEBIAN_NODE = (18, 19, 0)

pytestmark = [pytest.mark.dbless, pytest.mark.tooling]


def _version(v):
    return tuple(int(x) for x in v.split("."))


def test_lighthouse_lock_pins_the_package_json_and_runs_on_debian_node():
    pkg = json.loads((LH / "package.json").read_text())
    lock = json.loads((LH / "package-lock.json").read_text())
    assert lock["lockfileVersion"] >= 2
    root = lock["packages"][""]
    assert root.get("dependencies") == pkg["dependencies"]
    assert not pkg.get("devDependencies") and not root.get("devDependencies")
    for name, want in pkg["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", want), f"{name} is not pinned: {want}"
        got = lock["packages"][f"node_modules/{name}"]
        assert got["version"] == want
    # Every package the lock installs is checked against a hash it names
    # (the registry is npm's configured one), and none asks for a newer Node.js than Debian 12's.
    for where, p in lock["packages"].items():
        if not where:
            continue
        assert p.get("integrity", "").startswith("sha512-"), where
        floor = re.fullmatch(r">=\s*(\d+(?:\.\d+){0,2})", p.get("engines", {}).get("node", ">=0"))
        if floor:
            need = _version(floor.group(1))
            need += (0,) * (3 - len(need))
            assert need <= DEBIAN_NODE, f"{where} needs node {floor.group(1)}"


def test_bench_lighthouse_parses():
    out = subprocess.run(["sh", "-n", str(ROOT / "bench" / "lighthouse")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr


def test_web_shots_help_names_its_pages():
    out = subprocess.run(["/usr/bin/python3", str(ROOT / "scripts" / "web-shots"), "--help"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "390x844" in out.stdout and "1280x800" in out.stdout
    assert "sign-in:/sign-in:-" in out.stdout and "courses:/courses:member" in out.stdout
