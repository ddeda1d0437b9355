"""The API describes itself: GET /v1/openapi.json is valid OpenAPI 3.1 (checked
by an independent validator from the npm registry), lists every route the
server serves. /docs, the reference page that reads it, is
tests/api/test_web_assets.py's."""
import hashlib
import hmac
import json
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import hdr, person

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = ROOT / "tests" / "openapi"


# The tests that only read the document of a server in the default
# configuration share one (on one xdist worker): a server each, started
# and stopped under ASan+UBSan, cost more than the reading.
DOC_READER = pytest.mark.xdist_group("openapi_doc_reader")


@pytest.fixture(scope="module")
def doc_server(module_server):
    """A server of the default configuration whose document tests read:
    nothing is sent to it but GET /v1/openapi.json."""
    return module_server()


@pytest.fixture(scope="module")
def node():
    exe = shutil.which("node")
    if exe is None or not (VALIDATOR / "node_modules").is_dir():
        pytest.fail("node and tests/openapi/node_modules are needed "
                    "(scripts/test installs them with npm ci)")
    return exe


@pytest.mark.dbless
@pytest.mark.tooling
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


@pytest.mark.dbless
@pytest.mark.tooling
def test_openapi_document_lints_and_makes_a_strict_typescript_client(
        start_server, node, tmp_path):
    """Redocly CLI's recommended rules find no error in the document, and
    openapi-typescript makes types from it that a small client (client.ts)
    compiles against with tsc --strict: the tools pinned in
    tests/openapi/package-lock.json, run from what npm ci installs."""
    s = start_server()
    doc = tmp_path / "openapi.json"
    doc.write_text(s.get("/v1/openapi.json").text)
    bins = VALIDATOR / "node_modules" / ".bin"
    for tool in ("redocly", "openapi-typescript", "tsc"):
        if not (bins / tool).exists():
            pytest.fail(f"{tool} is not in tests/openapi/node_modules: run npm ci there")
    out = subprocess.run([str(bins / "redocly"), "lint", str(doc), "--format=stylish"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    # Redocly exits 1 on an error (warnings, such as unused components, pass).
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]
    out = subprocess.run([str(bins / "openapi-typescript"), str(doc), "-o",
                          str(tmp_path / "api.d.ts")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-4000:]
    shutil.copy(VALIDATOR / "client.ts", tmp_path / "client.ts")
    out = subprocess.run([str(bins / "tsc"), "--strict", "--noEmit", "--target", "es2022",
                          "--module", "es2022", "--moduleResolution", "bundler", "--lib",
                          "es2022,dom", str(tmp_path / "client.ts")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-6000:]


@pytest.mark.dbless
@pytest.mark.parametrize("path,method", [
    ("/v1/users", "get"), ("/v1/users", "post"), ("/v1/users/{id}", "get"),
    ("/v1/users/{id}", "patch"), ("/v1/users/{id}", "delete"),
    ("/v1/me", "get"), ("/v1/me", "patch"), ("/v1/auth/login", "post"),
    ("/v1/auth/register", "post"), ("/v1/relationships", "get"),
    ("/healthz", "get"), ("/readyz", "get"),
])
@DOC_READER
def test_openapi_lists_the_routes_served(doc_server, path, method):
    doc = doc_server.get("/v1/openapi.json").json()
    assert path in doc["paths"], sorted(doc["paths"])
    assert method in doc["paths"][path], (path, sorted(doc["paths"][path]))


STORYBLOK_SECRET = "sb-secret-for-openapi-test"
SIMPLYBOOK_SECRET = "simplybook-secret-for-openapi-test"


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, op


def test_public_routes_answer_without_a_token_and_others_do_not(start_server):
    """security: [] exactly on the routes that answer without a bearer token:
    every other operation answers 401 to a request without one. Webhooks
    answer without one too: their security is their own signature scheme
    (sent here), declared in securitySchemes."""
    s = start_server(env={"CAREBASE_STORYBLOK_WEBHOOK_SECRET": STORYBLOK_SECRET,
                          "CAREBASE_SIMPLYBOOK_WEBHOOK_SECRET": SIMPLYBOOK_SECRET})
    doc = s.get("/v1/openapi.json").json()
    # A bearer token, or the browser's session cookie (test_web_sessions.py).
    assert doc["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    wrong, public = [], set()
    for path, method, op in operations(doc):
        url = path.replace("{name}", "nobody")
        url = re.sub(r"\{[a-z_]*id\}", "0190f2a4-1111-7000-8000-00000000000a", url)
        body = b"{}"
        headers = {"Content-Type": "application/json"}
        if path == "/v1/webhooks/storyblok":
            headers["webhook-signature"] = hmac.new(
                STORYBLOK_SECRET.encode(), body, hashlib.sha1).hexdigest()
        elif path == "/v1/webhooks/simplybook":
            headers["X-Simplybook-Token"] = SIMPLYBOOK_SECRET
        if "requestBody" not in op and "webhooks" not in path:
            r = s.request(method, url)
        else:
            r = s.request(method, url, data=body, headers=headers)
        security = op.get("security", doc["security"])
        is_public = all("bearerAuth" not in s for s in security)
        # Public: no token, or credentials of its own (a webhook's
        # signature; /metrics's scrape token, which a staff token may
        # stand for).
        assert not is_public or security == [] or "webhooks" in path or \
            path == "/metrics", (method, path)
        if path == "/metrics":
            # Its own credentials (metricsToken): 401 without them.
            assert r.status_code == 401, r.text
            continue
        if is_public:
            public.add((method, path))
        if is_public == (r.status_code == 401):
            wrong.append((method, path, r.status_code, is_public))
    assert not wrong, wrong
    # The routes a client calls before it has a token are among them.
    schemes = doc["components"]["securitySchemes"]
    for path, scheme, header in [("/v1/webhooks/storyblok", "storyblokSignature",
                                  "webhook-signature"),
                                 ("/v1/webhooks/simplybook", "simplybookToken",
                                  "X-Simplybook-Token"),
                                 ("/v1/webhooks/stripe", "stripeSignature",
                                  "Stripe-Signature")]:
        assert doc["paths"][path]["post"]["security"] == [{scheme: []}], path
        assert schemes[scheme] | {"description": ""} == {
            "type": "apiKey", "in": "header", "name": header, "description": ""}
    for want in [("post", "/v1/auth/register"), ("post", "/v1/auth/login"),
                 ("post", "/v1/auth/password-reset"),
                 ("post", "/v1/auth/password-reset/confirm"),
                 ("post", "/v1/partner-access/validate-code"),
                 ("get", "/v1/partners/{id}"), ("get", "/healthz"),
                 ("get", "/readyz"),
                 ("get", "/v1/openapi.json"), ("get", "/docs"),
                 ("post", "/v1/webhooks/storyblok"),
                 ("post", "/v1/webhooks/simplybook")]:
        assert want in public, want


@pytest.mark.dbless
def test_custom_routes_are_tagged_by_their_module(start_server):
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    tags = {t["name"] for t in doc["tags"]}
    assert "other" not in tags
    for path, method, want in [("/v1/auth/login", "post", "people"),
                               ("/v1/partner-access/assign", "post", "partners"),
                               ("/v1/recordings/{id}/points", "post", "biometrics"),
                               ("/v1/webhooks/storyblok", "post", "learning"),
                               ("/healthz", "get", "ops")]:
        assert doc["paths"][path][method]["tags"] == [want], (path, method)
        assert want in tags
    for path, method, op in operations(doc):
        assert len(op["tags"]) == 1 and op["tags"][0] in tags, (path, method)


@pytest.mark.dbless
def test_the_routes_clients_call_first_have_bodies_and_answers(start_server):
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    paths = doc["paths"]

    def body(path, method, ctype="application/json"):
        return paths[path][method]["requestBody"]["content"][ctype]["schema"]

    def answer(path, method, status, ctype="application/json"):
        return paths[path][method]["responses"][status]["content"][ctype]["schema"]

    login = body("/v1/auth/login", "post")
    assert set(login["required"]) == {"email", "password"}
    # The token is answered but to the browser (X-Carebase-Client: web),
    # whose cookie holds it: test_web_sessions.py.
    session = answer("/v1/auth/login", "post", "200")
    assert {"expires_at", "user"} <= set(session["required"])
    assert "token" in session["properties"]
    assert session["dependentRequired"] == {"token_type": ["token"]}
    assert "accept_terms" in body("/v1/auth/register", "post")["required"]
    assert "partner_access_code" in body("/v1/auth/register", "post")["properties"]
    assert answer("/v1/auth/register", "post", "201")["required"] == ["id", "email", "role"]
    assert "204" in paths["/v1/auth/logout"]["post"]["responses"]
    assert "202" in paths["/v1/auth/password-reset"]["post"]["responses"]
    assert set(body("/v1/auth/password-reset/confirm", "post")["required"]) == {
        "token", "new_password"}
    assert answer("/v1/me", "get", "200") == {"$ref": "#/components/schemas/users"}
    assert answer("/v1/me", "patch", "200") == {"$ref": "#/components/schemas/users"}
    assert "current_password" in body("/v1/me/password", "post")["required"]
    assert "200" in paths["/v1/me/export"]["get"]["responses"]
    for p in ("/v1/partner-access/validate-code", "/v1/partner-access/assign"):
        assert body(p, "post")["required"] == ["code"]
        assert "200" in paths[p]["post"]["responses"]
    points = paths["/v1/recordings/{id}/points"]["post"]["requestBody"]["content"]
    assert set(points) == {"application/vnd.carebase.points", "application/json",
                           "text/csv"}
    assert points["application/json"]["schema"]["required"] == ["seq", "channels"]
    assert answer("/v1/recordings/{id}/points", "post", "201")["properties"][
        "duplicate"] == {"type": "boolean"}


@pytest.mark.dbless
def test_webhooks_and_the_points_upload_answer_at_the_top_level(start_server):
    """Issue 15: webhook answers nested their outcome under "result" while the
    points upload answered at the top level. Both put their members at the top
    level now; a webhook's inbox_id and outcome stand beside the source's own,
    and the idempotent writes say "duplicate" in the same place."""
    s = start_server()
    paths = s.get("/v1/openapi.json").json()["paths"]

    def answer(path, status):
        return paths[path]["post"]["responses"][status]["content"]["application/json"][
            "schema"]

    for hook, own in [("/v1/webhooks/storyblok", {"course", "course_session", "ignored"}),
                      ("/v1/webhooks/simplybook", {"booking", "duplicate",
                                                   "already_cancelled"}),
                      ("/v1/webhooks/stripe", {"event_id", "type", "duplicate", "effect"})]:
        sch = answer(hook, "200")
        assert {"inbox_id", "outcome"} <= set(sch["required"]), hook
        assert own <= set(sch["properties"]) and "result" not in sch["properties"], hook
    for status in ("200", "201"):
        points = answer("/v1/recordings/{id}/points", status)
        assert "duplicate" in points["required"] and "result" not in points["properties"]
    for hook in ("/v1/webhooks/simplybook", "/v1/webhooks/stripe"):
        assert answer(hook, "200")["properties"]["duplicate"] == {"type": "boolean"}


@pytest.mark.dbless
def test_problem_answers_are_problem_documents(start_server):
    """Every 4xx/5xx a custom route documents is an RFC 9457 problem, and
    together they cover the statuses the API answers with."""
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    seen = set()
    for path, method, op in operations(doc):
        for status, r in op["responses"].items():
            if status[0] in "45":
                assert list(r["content"]) == ["application/problem+json"], (path, status)
                schema = r["content"]["application/problem+json"]["schema"]
                assert schema["allOf"][0] == {"$ref": "#/components/schemas/Problem"}, (
                    path, status)
                seen.add(status)
        if op.get("security") != []:
            assert "401" in op["responses"], (path, method)
    # The call carebase makes to the booking system is among the webhooks.
    cancel = doc["webhooks"]["bookingCancelled"]["post"]
    body = cancel["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["event"] == {"const": "booking.cancelled"}
    assert {p["name"] for p in cancel["parameters"]} == {
        "X-Carebase-Timestamp", "X-Carebase-Signature", "X-Carebase-Delivery"}
    assert {"400", "401", "403", "404", "409", "412", "422", "429", "503"} <= seen
    login = doc["paths"]["/v1/auth/login"]["post"]["responses"]
    assert "INVALID_CREDENTIALS" in login["401"]["description"]
    assert {"400", "413", "415", "429", "503"} <= set(login)


def test_every_problem_answer_declares_its_codes(start_server):
    """Each operation's problem answers say which codes they come with (an
    enum per status, the generic code of the status among them), never a
    catch-all "default" problem; the transport's and the authenticator's
    codes are on every operation, and a route's own on its answers."""
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    for path, method, op in operations(doc):
        responses = op["responses"]
        default = responses.get("default", {}).get("content", {})
        assert "application/problem+json" not in default, (method, path)
        for status in ("400", "413", "429", "431", "500", "503"):
            assert status in responses, (method, path, status)
        for status, r in responses.items():
            if status[0] not in "45":
                continue
            enum = r["content"]["application/problem+json"]["schema"]["allOf"][1][
                "properties"]["code"]["enum"]
            assert enum and all(re.fullmatch(r"[A-Z][A-Z0-9_]*", c) for c in enum), (
                method, path, status, enum)
        codes = {st: set(r["content"]["application/problem+json"]["schema"]["allOf"][1][
            "properties"]["code"]["enum"]) for st, r in responses.items() if st[0] in "45"}
        assert {"BAD_HEADER", "MALFORMED_PATH", "BODY_NOT_ALLOWED"} <= codes["400"], path
        # The authenticator's where it runs (public ones: the f19s test
        # below).
        if any("bearerAuth" in x for x in op.get("security", doc["security"])):
            assert {"UNAUTHORIZED", "SESSION_EXPIRED", "TOKEN_IN_QUERY"} <= codes["401"], path
        assert codes["500"] == {"INTERNAL"}, path
        if "404" in codes:
            assert "NOT_FOUND" in codes["404"], path
    ops = doc["paths"]
    codes = lambda path, m, st: set(ops[path][m]["responses"][st]["content"][  # noqa: E731
        "application/problem+json"]["schema"]["allOf"][1]["properties"]["code"]["enum"])
    # Login reads no session: its 401 is bad credentials (f19s).
    assert codes("/v1/auth/login", "post", "401") == {"UNAUTHORIZED", "INVALID_CREDENTIALS"}
    assert "EMAIL_TAKEN" in codes("/v1/auth/register", "post", "409")
    assert "UNKNOWN_PARAMETER" in codes("/v1/therapy-sessions", "get", "400")
    assert "UNKNOWN_PARAMETER" in codes("/v1/recordings/{id}/points", "get", "400")
    assert "SESSION_OVERLAP" in codes("/v1/therapy-sessions", "post", "409")
    assert "INVALID_TRANSITION" in codes("/v1/course-schedules/{id}/cancel", "post", "409")
    # A problem code is never a status's only when the route says more.
    assert "CONFLICT" in codes("/v1/auth/register", "post", "409")


def test_the_main_operations_show_examples_that_match_their_schemas(start_server):
    """Sign-in, registration, the caller's account, the course list and the
    problem document carry hand-written examples (/docs shows them), and
    each example is valid against the schema it illustrates."""
    import jsonschema
    from openapi_contract import format_checker
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    resolver = jsonschema.RefResolver.from_schema(doc)

    def valid(example, schema):
        v = jsonschema.Draft202012Validator(schema, resolver=resolver,
                                            format_checker=format_checker())
        errs = list(v.iter_errors(example))
        assert not errs, [e.message for e in errs]

    ops = doc["paths"]
    shown = [
        (ops["/v1/auth/login"]["post"]["requestBody"], None),
        (ops["/v1/auth/login"]["post"]["responses"]["200"], None),
        (ops["/v1/auth/register"]["post"]["requestBody"], None),
        (ops["/v1/auth/register"]["post"]["responses"]["201"], None),
        (ops["/v1/me"]["get"]["responses"]["200"], None),
        (ops["/v1/courses"]["get"]["responses"]["200"], None),
        (ops["/v1/courses/{id}"]["get"]["responses"]["200"], None),
    ]
    for holder, _ in shown:
        media = holder["content"]["application/json"]
        assert "example" in media, holder
        valid(media["example"], media["schema"])
    assert ops["/v1/courses"]["get"]["responses"]["200"]["content"]["application/json"][
        "example"]["data"][0]["name"]
    problem_schema = doc["components"]["schemas"]["Problem"]
    (example,) = problem_schema["examples"]
    assert example["errors"] and example["code"] == "VALIDATION_FAILED"
    valid(example, problem_schema)


@pytest.mark.dbless
def test_every_tag_shows_examples_and_every_example_matches_its_schema(start_server):
    """rv19 item 14: the JSON request bodies and success answers of every
    operation carry an example (hand-written where the api text gives one,
    else made from the schema, src/resource/openapi_examples.c), in every
    tag that has JSON operations; each example is valid against the schema
    it illustrates (one that could not be made valid is left out)."""
    import jsonschema
    from openapi_contract import format_checker
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    resolver = jsonschema.RefResolver.from_schema(doc)
    shown, missing, bad, tags = 0, [], [], {}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            holders = [("requestBody", op.get("requestBody") or {})] + [
                (status, a) for status, a in op["responses"].items() if status[0] == "2"]
            for where, holder in holders:
                media = (holder.get("content") or {}).get("application/json")
                if media is None:
                    continue
                tag = tags.setdefault(op["tags"][0], [0, 0])
                tag[1] += 1
                if "example" not in media:
                    missing.append(f"{method} {path} {where}")
                    continue
                shown += 1
                tag[0] += 1
                v = jsonschema.Draft202012Validator(media.get("schema", {}), resolver=resolver,
                                                    format_checker=format_checker())
                err = jsonschema.exceptions.best_match(v.iter_errors(media["example"]))
                if err is not None:
                    bad.append(f"{method} {path} {where}: {err.message[:200]}")
    assert not bad, bad
    assert {t for t, (n, _) in tags.items() if n == 0} == set(), tags
    # Every one is made (a schema past what a made example honours would
    # need an example in its api text).
    assert not missing, missing


# -- f19s (review of o19r) ----------------------------------------------------

def public_operations(doc):
    """(path, method, op) of the operations that need no session: security
    [] or a webhook's own scheme only."""
    for path, method, op in operations(doc):
        security = op.get("security", doc["security"])
        if all("bearerAuth" not in s and "cookieAuth" not in s for s in security):
            yield path, method, op


def problem_codes(op, status):
    r = op["responses"].get(status)
    if r is None:
        return set()
    return set(r["content"]["application/problem+json"]["schema"]["allOf"][1][
        "properties"]["code"]["enum"])


@pytest.mark.dbless
def test_public_operations_declare_the_session_401_only_where_a_token_is_read(
        start_server):
    """f19s item 2: the authenticator's codes (401 SESSION_EXPIRED,
    TOKEN_IN_QUERY, 503 PERMISSIONS_UNAVAILABLE) are on an operation only
    where it runs: not on /healthz, the document, /docs, login or a
    webhook. Each public operation sent a token that is no session's
    answers as it declares (the contract hook checks every answer).
    e19u item 2: every operation of the document, sent no token and a
    token that is no session's (path parameters a random UUID), answers
    the session's 401 (UNAUTHORIZED, SESSION_EXPIRED: a public one reading
    a token refuses a bad one too) exactly where it declares those
    codes."""
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    seen, answered, declared = set(), set(), set()
    public = {(m, p) for p, m, _ in public_operations(doc)}
    session = {"UNAUTHORIZED", "SESSION_EXPIRED", "TOKEN_IN_QUERY"}
    for path, method, op in operations(doc):
        seen.add((method, path))
        url = path.replace("{name}", "nobody").replace("{file}", "x.js")
        url = re.sub(r"\{[a-z_]*id\}", lambda _: str(uuid.uuid4()), url)
        if session <= problem_codes(op, "401"):
            declared.add((method, path))
        for token in ("A" * 43, None):
            headers = {} if token is None else {"Authorization": "Bearer " + token}
            if "requestBody" in op or "webhooks" in path:
                headers["Content-Type"] = "application/json"
                r = s.request(method, url, data=b"{}", headers=headers)
            else:
                r = s.request(method, url, headers=headers)
            if r.status_code != 401:
                continue
            if r.json().get("code") in session:
                answered.add((method, path))
            if (method, path) in public and token is not None:
                assert session <= problem_codes(op, "401"), (method, path, r.text)
    assert answered == declared, (
        f"answer the session's 401 but do not declare it: {sorted(answered - declared)}; "
        f"declare it but never answer it: {sorted(declared - answered)}")
    for method, path in [("get", "/healthz"), ("get", "/v1/openapi.json"),
                         ("get", "/docs"), ("post", "/v1/auth/login"),
                         ("post", "/v1/webhooks/stripe"),
                         ("post", "/v1/webhooks/storyblok")]:
        assert (method, path) in seen, (method, path)
        op = doc["paths"][path][method]
        assert not {"SESSION_EXPIRED", "TOKEN_IN_QUERY"} & problem_codes(op, "401"), \
            (method, path, problem_codes(op, "401"))
        assert "PERMISSIONS_UNAVAILABLE" not in problem_codes(op, "503"), (method, path)
    # Login's own 401 is real: bad credentials.
    assert "INVALID_CREDENTIALS" in problem_codes(doc["paths"]["/v1/auth/login"]["post"],
                                                  "401")
    # An operation behind a session keeps them.
    assert {"UNAUTHORIZED", "SESSION_EXPIRED", "TOKEN_IN_QUERY"} <= problem_codes(
        doc["paths"]["/v1/therapy-sessions"]["get"], "401")


def test_a_body_may_spell_an_enum_the_deprecated_way_and_the_document_says_so(server):
    """f19s item 3: a body's enum field takes the deprecated spellings the
    server stores as the choice they name (validate.c's field_choice), in
    a branch of their own marked deprecated, as the filters have it; the
    contract hook checks the accepted body against the create schema."""
    doc = server.get("/v1/openapi.json").json()
    prop = doc["components"]["schemas"]["notification_preferences_create"][
        "properties"]["notification_type"]
    assert {"enum": ["canceled"], "deprecated": True} in prop["anyOf"], prop
    assert "cancelled" in prop["anyOf"][0]["enum"], prop
    # A row answers the current spelling only.
    assert "canceled" not in doc["components"]["schemas"]["notification_preferences"][
        "properties"]["notification_type"].get("enum", []), doc
    m = person(server, "member")
    r = server.post("/v1/notification-preferences", headers=hdr(m),
                    json={"notification_type": "canceled", "channel": "email",
                          "enabled": False})
    assert r.status_code == 201, r.text
    assert r.json()["notification_type"] == "cancelled", r.text


@pytest.mark.dbless
def test_the_document_is_served_the_same_with_an_etag_and_304(start_server):
    """f19s item 4: the document is made once and served as the same bytes,
    with an ETag; If-None-Match naming it answers 304 with no body."""
    s = start_server()
    a, b = s.get("/v1/openapi.json"), s.get("/v1/openapi.json")
    assert a.status_code == b.status_code == 200
    assert a.content == b.content
    tag = a.headers["ETag"]
    assert re.fullmatch(r'W/"[0-9a-f]{32}"', tag), tag
    assert b.headers["ETag"] == tag
    assert a.headers["Content-Type"] == "application/json"
    assert json.loads(a.content)["openapi"].startswith("3.1.")
    for inm in (tag, tag[2:], f'"x", {tag}', "*"):
        r = s.get("/v1/openapi.json", headers={"If-None-Match": inm})
        assert r.status_code == 304, (inm, r.status_code)
        assert r.content == b"" and r.headers["ETag"] == tag
    r = s.get("/v1/openapi.json", headers={"If-None-Match": 'W/"0000"'})
    assert r.status_code == 200 and r.content == a.content
    # Served from its one copy: what a HEAD says matches.
    h = s.request("HEAD", "/v1/openapi.json")
    assert h.status_code == 200 and h.headers["ETag"] == tag


# -- c19t (issue 19, part 1): success answers say every member they send ------

# A value the client stores as it sends it (a resource's FIELD_JSON field:
# any object or array, validate.c): its keys are the client's, so it stays
# open. Told by its type, ["object", "array"] (and "null" when nullable),
# which nothing else has.
CLIENT_JSON = ({"object", "array"}, {"object", "array", "null"})
# The fields that hold a client's own JSON, by name (row schema.field): a
# value the server writes itself declares its schema (struct field's
# schema) and is checked.
CLIENT_JSON_FIELDS = {
    "data_types.meta", "exercises.meta", "form_responses.meta", "forms.meta",
    "recordings.meta", "resource_assignments.meta", "resources.meta", "therapists.meta",
    "therapy_sessions.meta",              # "additional metadata", the client's
    "form_responses.responses",           # answers keyed by the form's own field ids
    "settings.validation_rules",          # an admin's rules for a setting
    "therapists.calendar_integration",    # the therapist's calendar's own settings
    "users.demographics",                 # what a person tells of themselves
    "users_exported.demographics",        # the same in their GDPR export
}
# Left open, each with why (keep it short: a map keyed by data declares
# its values' schema in additionalProperties instead, and passes).
OPEN_BY_DESIGN = {
    # OpenAPI 3.1's own schema: the validator checks the whole document
    # (test_openapi_document_is_valid_3_1).
    "get /v1/openapi.json 200": "the document itself",
    # What each action's writer recorded (its keys the fields changed, its
    # values theirs), kept as written: the hash chain covers the text.
    "audit_record.changes": "an audit row's changes",
}


# The keywords that say which kind of value a schema takes: one without
# any of them takes any value.
SAYS_KIND = {"type", "$ref", "enum", "const", "allOf", "anyOf", "oneOf", "not"}


def open_success_nodes(doc):
    """(where, why) of every open node in a 2xx JSON answer's schema ($ref
    followed): an object with neither properties nor additionalProperties,
    one with properties that is not closed (additionalProperties false, or
    unevaluatedProperties false over an allOf), a map whose values are any
    (additionalProperties {} or true), an array whose items are any, a
    member of any value ({} or true)."""
    found = []

    def resolve(s, seen, name):
        while isinstance(s, dict) and "$ref" in s:
            ref = s["$ref"]
            if ref in seen:
                return None, seen, name
            seen, name = seen | {ref}, ref.rsplit("/", 1)[1]
            node = doc
            for part in ref[2:].split("/"):
                node = node[part]
            s = node
        return s, seen, name

    def any_value(s):
        # A schema that says nothing of its value's kind (no type, $ref,
        # enum, const or combinator: {}, true, or a description alone)
        # takes any value.
        return s is True or (isinstance(s, dict) and not SAYS_KIND & s.keys())

    def closes(s, seen, name):
        s = resolve(s, seen, name)[0]
        return isinstance(s, dict) and s.get("additionalProperties") is False

    def walk(s, where, seen, name=None, closed=False, client=False):
        s, seen, name = resolve(s, seen, name)
        if not isinstance(s, dict) or where in OPEN_BY_DESIGN:
            return
        t = s.get("type")
        t = set(t) if isinstance(t, list) else {t} if t else set()
        if t in CLIENT_JSON and "properties" not in s and client:
            return
        ap = s.get("additionalProperties")
        # Closed from outside (a branch of a closed allOf) unless it takes
        # any member itself: additionalProperties true or {} evaluates
        # every member, so unevaluatedProperties false above refuses none.
        closed = ((closed and ap not in (True, {})) or ap is False
                  or s.get("unevaluatedProperties") is False)
        if ap is True or ap == {}:
            # Any member, whatever the node's type (or none): a branch of
            # a closed allOf saying only this opens it.
            found.append((where, "additionalProperties of any value"))
        elif "object" in t or "properties" in s:
            if "properties" in s and not closed:
                found.append((where, "properties without additionalProperties false"))
            elif "properties" not in s and ap is None:
                found.append((where, "an object of any members"))
        if "array" in t and any_value(s.get("items", True)):
            found.append((where, "an array of any items"))
        for k, v in (s.get("properties") or {}).items():
            if f"{name}.{k}" in OPEN_BY_DESIGN or f"{where}.{k}" in OPEN_BY_DESIGN:
                continue
            if any_value(v) and f"{name}.{k}" not in CLIENT_JSON_FIELDS:
                found.append((f"{where}.{k}", "a member of any value"))
            walk(v, f"{where}.{k}", seen, name, client=f"{name}.{k}" in CLIENT_JSON_FIELDS)
        if isinstance(ap, dict):
            walk(ap, f"{where}.*", seen, name)
        if isinstance(s.get("items"), dict):
            walk(s["items"], f"{where}[]", seen, name)
        for comb in ("allOf", "anyOf", "oneOf"):
            branches = s.get(comb) or []
            # An allOf is closed by one closed branch (a member none of
            # them names fails that one) or by unevaluatedProperties; that
            # excuses each branch's own level only: every branch is walked
            # and its members (and any member it takes) are checked.
            shut = comb == "allOf" and (closed or any(closes(b, seen, name) for b in branches))
            for i, v in enumerate(branches):
                walk(v, f"{where}({comb}[{i}])", seen, name, shut)

    for path, method, op in operations(doc):
        for status, answer in op["responses"].items():
            media = (answer.get("content") or {}).get("application/json")
            if status[0] == "2" and media is not None and "schema" in media:
                walk(media["schema"], f"{method} {path} {status}", frozenset())
    return found


def stale_client_fields(doc, names=None):
    """The names of CLIENT_JSON_FIELDS (or names) that are no field of a
    component of doc of a client's JSON type: a name gone stale would
    excuse nothing, and one renamed would leave its field unexcused."""
    schemas = doc["components"]["schemas"]
    stale = []
    for n in sorted(CLIENT_JSON_FIELDS if names is None else names):
        schema, _, field = n.partition(".")
        f = ((schemas.get(schema) or {}).get("properties") or {}).get(field)
        t = f.get("type") if isinstance(f, dict) else None
        if not isinstance(t, list) or set(t) not in CLIENT_JSON:
            stale.append(n)
    return stale


@pytest.mark.dbless
def test_client_json_fields_are_fields_of_the_document(start_server):
    """Each CLIENT_JSON_FIELDS name is schema.field of the document, a
    client's JSON ({"object", "array"}, and null); a stale one fails."""
    doc = start_server().get("/v1/openapi.json").json()
    assert stale_client_fields(doc) == []
    planted = {"users.demographics", "users.no_such_field", "no_such_row.meta",
               "users.email"}
    assert stale_client_fields(doc, planted) == [
        "no_such_row.meta", "users.email", "users.no_such_field"]


def planted(schema, **components):
    """A document of one operation answering schema (200), with components."""
    return {"paths": {"/x": {"get": {"responses": {"200": {"content": {
        "application/json": {"schema": schema}}}}}}},
        "components": {"schemas": components}}


def test_the_walker_checks_every_branch_of_a_closed_all_of():
    """The walker (open_success_nodes): an allOf closed by
    unevaluatedProperties false, or by one closed branch, excuses its
    branches' own level only: a branch that takes any member
    (additionalProperties true or {}) opens it, and every branch's members
    are checked, whether the branch is inline or a $ref."""
    closed_a = {"type": "object", "properties": {"a": {"type": "string"}},
                "additionalProperties": False}
    open_b = {"type": "object", "properties": {"b": {"type": "object"}}}
    cases = [
        # unevaluatedProperties false over a branch that takes any member
        ({"allOf": [{"properties": {"a": {"type": "string"}}},
                    {"properties": {"b": {"type": "string"}},
                     "additionalProperties": True}],
          "unevaluatedProperties": False}, {}, ["get /x 200(allOf[1])"]),
        ({"allOf": [{"properties": {"a": {"type": "string"}}},
                    {"$ref": "#/components/schemas/B"}],
          "unevaluatedProperties": False},
         {"B": {"properties": {"b": {"type": "string"}}, "additionalProperties": {}}},
         ["get /x 200(allOf[1])"]),
        # one branch closed: the other's open member is still found
        ({"allOf": [{"$ref": "#/components/schemas/A"}, {"$ref": "#/components/schemas/B"}]},
         {"A": closed_a, "B": open_b}, ["get /x 200(allOf[1]).b"]),
        # unevaluatedProperties false: a branch's open member is found
        ({"allOf": [closed_a, open_b], "unevaluatedProperties": False}, {},
         ["get /x 200(allOf[1]).b"]),
        # neither: each branch is open at its own level
        ({"allOf": [{"properties": {"a": {"type": "string"}}},
                    {"properties": {"b": {"type": "string"}}}]}, {},
         ["get /x 200(allOf[0])", "get /x 200(allOf[1])"]),
        # a member of any value
        ({"type": "object", "properties": {"c": {}}, "additionalProperties": False}, {},
         ["get /x 200.c"]),
        # a closed allOf's branch saying only that it takes any member
        ({"allOf": [{"properties": {"a": {"type": "string"}}},
                    {"additionalProperties": True}],
          "unevaluatedProperties": False}, {}, ["get /x 200(allOf[1])"]),
        # the same branch as a $ref to additionalProperties {}
        ({"allOf": [{"properties": {"a": {"type": "string"}}},
                    {"$ref": "#/components/schemas/C"}],
          "unevaluatedProperties": False},
         {"C": {"additionalProperties": {}}}, ["get /x 200(allOf[1])"]),
        # a member that only describes itself takes any value
        ({"type": "object", "properties": {"d": {"description": "anything"}},
          "additionalProperties": False}, {}, ["get /x 200.d"]),
        # closed and every member declared: nothing found
        ({"allOf": [{"properties": {"a": {"type": "string"}}},
                    {"properties": {"b": {"type": "array", "items": {"type": "string"}}}}],
          "unevaluatedProperties": False}, {}, []),
    ]
    for schema, components, want in cases:
        found = sorted(w for w, _ in open_success_nodes(planted(schema, **components)))
        assert found == want, (schema, found)


@pytest.mark.dbless
@DOC_READER
def test_success_answers_declare_every_member_they_send(doc_server):
    """Issue 19: every object in a 2xx JSON answer names its members and is
    closed (additionalProperties false), or is a map whose values have a
    schema; every array's items have one. The contract hook
    (openapi_contract.py) then refuses a member the document does not name,
    in every API test. Only a client's own JSON stays open, each field by
    name (CLIENT_JSON_FIELDS); one the server writes declares its schema."""
    found = open_success_nodes(doc_server.get("/v1/openapi.json").json())
    answers = {where.split(" ")[0] + " " + where.split(" ")[1] for where, _ in found}
    assert not found, (f"{len(found)} open nodes in {len(answers)} operations:\n"
                       + "\n".join(f"{w}: {why}" for w, why in found))


@pytest.mark.dbless
@DOC_READER
def test_row_ids_in_paths_are_declared_uuids(doc_server):
    """Issue 19: an {id} or {session_id} of a path is a row's id, which
    every route taking one reads as a UUID only (anything else is 404):
    the document says format uuid, and the contract hook checks each path
    the server accepts against it (openapi_contract._check_path). The one
    {id} that is not always a UUID says so (a partner's id or name)."""
    doc = doc_server.get("/v1/openapi.json").json()
    ids, not_uuid = 0, []
    for path, method, op in operations(doc):
        params = {p["name"]: p for p in doc["paths"][path].get("parameters", [])}
        params.update({p["name"]: p for p in op.get("parameters", []) if p.get("in") == "path"})
        for name in ("id", "session_id"):
            if "{" + name + "}" not in path:
                continue
            ids += 1
            if params[name]["schema"].get("format") != "uuid":
                not_uuid.append(f"{method} {path} {name}")
    assert ids > 100
    assert not_uuid == ["get /v1/partners/{id} id"]


@pytest.mark.dbless
@DOC_READER
def test_the_booking_cancel_call_shows_its_signature_and_an_example(doc_server):
    """Issue 19: the call carebase makes to the booking system (webhooks'
    bookingCancelled) names the scheme it is signed with, declared among
    the securitySchemes (what notify.c sends: X-Carebase-Signature,
    sha256= HMAC over timestamp and body), and shows a body that its
    schema takes."""
    import jsonschema
    from openapi_contract import format_checker
    doc = doc_server.get("/v1/openapi.json").json()
    op = doc["webhooks"]["bookingCancelled"]["post"]
    assert op["security"] == [{"carebaseSignature": []}]
    scheme = doc["components"]["securitySchemes"]["carebaseSignature"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == (
        "apiKey", "header", "X-Carebase-Signature")
    assert "HMAC-SHA256" in scheme["description"]
    media = op["requestBody"]["content"]["application/json"]
    jsonschema.Draft202012Validator(media["schema"], format_checker=format_checker()).validate(
        media["example"])
    # Only the webhook names it: the cancel route itself takes a session.
    cancel = doc["paths"]["/v1/therapy-bookings/{id}/cancel"]["post"]
    assert "carebaseSignature" not in json.dumps(cancel.get("security", doc["security"]))


@pytest.mark.dbless
def test_options_is_answered_on_every_path_as_the_document_says(start_server):
    """Issue 19: no operation lists OPTIONS; the document's description
    says how every served path answers it, and the server does so: 204
    without credentials, Allow naming the methods, 404 off the API."""
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    assert all("options" not in item for item in doc["paths"].values())
    assert "OPTIONS is answered alike on every path" in doc["info"]["description"]
    for path, allow in (("/v1/users", {"GET", "POST"}), ("/v1/me", {"GET", "PATCH"}),
                        ("/healthz", {"GET"})):
        r = s.request("OPTIONS", path)
        assert r.status_code == 204, (path, r.status_code, r.text)
        assert allow <= {m.strip() for m in r.headers["Allow"].split(",")}, r.headers
    assert s.request("OPTIONS", "/v1/no-such-thing").status_code == 404


@pytest.mark.dbless
def test_commit_outcome_unknown_is_declared_on_writes_only_with_its_own_words(start_server):
    """503 COMMIT_OUTCOME_UNKNOWN (a write's COMMIT unanswered,
    src/http/response.c) is a write's: declared on every POST, PUT, PATCH
    and DELETE, never on a GET, whose 503 says to try again after
    Retry-After; a write's 503 description says apart that this one has
    no Retry-After and the change must be read back first (before: listed
    on every operation under "try again after Retry-After" alone)."""
    s = start_server()
    doc = s.get("/v1/openapi.json").json()
    reads = writes = 0
    for path, method, op in operations(doc):
        codes = problem_codes(op, "503")
        if method == "get":
            reads += 1
            assert "COMMIT_OUTCOME_UNKNOWN" not in codes, (method, path)
            continue
        # Every write declares it: one with no 503 at all is a gap.
        writes += 1
        assert "COMMIT_OUTCOME_UNKNOWN" in codes, (method, path, codes)
        why = op["responses"]["503"]["description"]
        assert "COMMIT_OUTCOME_UNKNOWN (no Retry-After)" in why, (method, path, why)
        assert "read it back" in why, (method, path, why)
    assert reads > 50 and writes > 50, (reads, writes)
