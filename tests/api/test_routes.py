"""Authentication is the dispatcher's, for every route: walk the route table
(`carebase routes`) and call each route without a token. A route not marked
public answers 401 before its handler runs, with a body or without; a public
route never does, and the README lists every public route."""
import re
import uuid
from pathlib import Path

from conftest import read_answer

ROOT = Path(__file__).resolve().parents[2]


def route_table(server):
    out = server.cli_ok("routes").stdout
    rows = [line.split("\t") for line in out.splitlines() if line.strip()]
    assert all(len(r) == 5 for r in rows), out
    return [{"method": r[0], "pattern": r[1], "public": r[2] == "public",
             "module": r[3]} for r in rows]


def concrete(pattern):
    """The pattern with every {param} filled by a UUID nothing names."""
    return re.sub(r"\{[^}]+\}", lambda m: str(uuid.uuid4()), pattern)


def test_the_route_table_is_served_as_listed(server):
    routes = route_table(server)
    assert len(routes) > 100
    assert {"GET /healthz", "POST /v1/auth/login", "GET /v1/me"} <= {
        f"{r['method']} {r['pattern']}" for r in routes}
    assert not any(r["public"] for r in routes if r["pattern"] == "/v1/me")


def test_every_route_not_marked_public_answers_401_without_a_token(server):
    refused = 0
    for r in route_table(server):
        if r["public"]:
            continue
        path = concrete(r["pattern"])
        calls = [{}]
        if r["method"] in ("POST", "PUT", "PATCH"):
            # With a body too: refused from the headers, body or not.
            calls.append({"json": {"x": 1}})
        for kw in calls:
            resp = server.request(r["method"], path, **kw)
            assert resp.status_code == 401, (r, kw, resp.status_code, resp.text[:300])
            assert resp.headers.get("WWW-Authenticate") == "Bearer", (r, dict(resp.headers))
            assert resp.json()["code"] == "UNAUTHORIZED", (r, resp.text)
            refused += 1
        # A token that is not valid is refused the same way.
        resp = server.request(r["method"], path,
                              headers={"Authorization": "Bearer " + "a" * 43})
        assert resp.status_code == 401, (r, resp.text[:300])
    assert refused > 100


# Public to the dispatcher, with credentials of their own that a request
# without any is refused for (401): GET /metrics takes the scrape token or a
# staff token unless metrics_public or metrics_listen (test_metrics.py).
OWN_CREDENTIALS = {("GET", "/metrics")}


def test_public_routes_never_answer_401_without_a_token(server):
    for r in route_table(server):
        if not r["public"] or (r["method"], r["pattern"]) in OWN_CREDENTIALS:
            continue
        kw = {"json": {}} if r["method"] in ("POST", "PUT", "PATCH") else {}
        resp = server.request(r["method"], concrete(r["pattern"]), **kw)
        # Webhooks not configured answer 503; forms with nothing in them 4xx.
        assert resp.status_code != 401, (r, resp.status_code, resp.text[:300])


def readme_public_table():
    """The (method, pattern) pairs of the README's table of public routes:
    the rows after its "| public route |" header, up to the first line
    that is not a table row."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = next(i for i, l in enumerate(lines) if l.startswith("| public route |"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])
    return set(re.findall(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`", "\n".join(rows)))


def test_the_readme_table_of_public_routes_is_the_route_table(server):
    """Both ways: every public route is in the README's table, and every
    route the table names is public (a route that needs a token listed
    there would tell an operator it is open)."""
    listed = readme_public_table()
    assert listed, "no rows in the README's public route table"
    table = route_table(server)
    public = {(r["method"], r["pattern"]) for r in table if r["public"]}
    known = {(r["method"], r["pattern"]) for r in table}
    missing = public - listed
    assert not missing, f"public routes not in the README's table: {sorted(missing)}"
    not_public = (listed & known) - public
    assert not not_public, f"routes in the README's public table that need a token: {sorted(not_public)}"
    unknown = listed - known
    assert not unknown, f"routes in the README's public table that do not exist: {sorted(unknown)}"


def test_a_large_upload_without_a_token_is_refused_before_its_body(server):
    """No byte of the body is needed to refuse: the answer comes at once,
    without 100 Continue, even though the client never sends the body."""
    import socket
    rec = str(uuid.uuid4())
    head = (f"POST /v1/recordings/{rec}/points HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Length: 60000000\r\nExpect: 100-continue\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(head.encode())
        data = read_answer(s)
    server.check_raw("POST", f"/v1/recordings/{rec}/points", data)
    status_line = data.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 401"), data[:300]
