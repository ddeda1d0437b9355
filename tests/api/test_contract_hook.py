"""The contract hook itself (openapi_contract, conftest): what it refuses,
on a small document and answers made here (issue 19, item 1 to 4), and
that an answer asked for outside Server.request is checked too."""

import json

import pytest
import requests

import openapi_contract
from conftest import hdr, session_from
from openapi_contract import Contract, ContractError, check

DOC = {
    "openapi": "3.1.0",
    "paths": {
        "/v1/things": {
            "post": {
                "requestBody": {"content": {"application/json": {"schema": {
                    "type": "object", "required": ["name"], "additionalProperties": False,
                    "properties": {"name": {"type": "string"}}}}}},
                "responses": {
                    "201": {"content": {"application/json": {"schema": {
                        "type": "object", "properties": {
                            "created_at": {"type": "string", "format": "date-time"},
                            "born": {"type": "string", "format": "date"},
                            "id": {"type": "string", "format": "uuid"},
                            "email": {"type": "string", "format": "email"}}}}}},
                    "409": {"content": {"application/problem+json": {"schema": {
                        "allOf": [{"$ref": "#/components/schemas/Problem"},
                                  {"properties": {"code": {"enum": ["CONFLICT",
                                                                    "NAME_TAKEN"]}}}]}}}},
                    # A JSON answer of any shape, or a problem: a problem
                    # still needs a status of its own.
                    "default": {"content": {
                        "application/json": {"schema": {}},
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}}}},
                },
            },
        },
    },
    "components": {"schemas": {"Problem": {
        "type": "object", "required": ["type", "title", "status", "code"],
        "properties": {"code": {"type": "string"}}}}},
}


def answer(status, body, ctype="application/json", sent=None):
    """A requests.Response as if POST /v1/things answered it."""
    r = requests.Response()
    r.status_code = status
    r.headers["Content-Type"] = ctype
    r._content = json.dumps(body).encode()
    req = requests.Request("POST", "http://127.0.0.1:1/v1/things",
                           json=sent if sent is not None else {"name": "a"}).prepare()
    r.request = req
    r.url = req.url
    return r


@pytest.fixture(scope="module")
def contract():
    if openapi_contract.jsonschema is None:
        pytest.fail("python3-jsonschema is needed (scripts/install-deps)")
    return Contract(DOC)


def problem_doc(status, code):
    return {"type": "about:blank", "title": "t", "status": status, "code": code}


def test_an_answer_as_declared_passes(contract):
    check(contract, "POST", "http://h/v1/things", answer(201, {
        "created_at": "2026-03-01T10:00:00.123Z", "born": "1991-04-17",
        "id": "01939d6e-1a2b-7c3d-8e4f-5a6b7c8d9e0f", "email": "a@example.org"}))
    check(contract, "POST", "http://h/v1/things", answer(
        409, problem_doc(409, "NAME_TAKEN"), "application/problem+json"))


@pytest.mark.parametrize("field,value", [
    ("created_at", "2026-13-01T10:00:00Z"),      # no 13th month
    ("created_at", "2026-03-01 10:00:00"),       # no T, no offset
    ("created_at", "2026-02-30T10:00:00Z"),      # no 30 February
    ("created_at", "1772359200000"),             # ms, not RFC 3339
    ("born", "1991-4-17"),
    ("id", "not-a-uuid"),
    ("email", "nobody"),
])
def test_formats_are_checked(contract, field, value):
    with pytest.raises(ContractError, match="does not match its schema"):
        check(contract, "POST", "http://h/v1/things", answer(201, {field: value}))


def test_a_problem_with_a_status_not_declared_fails_whatever_default_says(contract):
    with pytest.raises(ContractError, match="does not declare"):
        check(contract, "POST", "http://h/v1/things", answer(
            404, problem_doc(404, "NOT_FOUND"), "application/problem+json"))


def test_a_problem_code_outside_its_answers_enum_fails(contract):
    with pytest.raises(ContractError, match="'EMAIL_TAKEN' is not one of"):
        check(contract, "POST", "http://h/v1/things", answer(
            409, problem_doc(409, "EMAIL_TAKEN"), "application/problem+json"))


def test_a_request_body_accepted_but_not_declared_fails(contract):
    with pytest.raises(ContractError, match="requestBody schema"):
        check(contract, "POST", "http://h/v1/things",
              answer(201, {}, sent={"name": "a", "colour": "red"}))
    # Refused (4xx), a body the document forbids is no contract error.
    check(contract, "POST", "http://h/v1/things", answer(
        409, problem_doc(409, "CONFLICT"), "application/problem+json",
        sent={"colour": "red"}))


def test_requests_calls_outside_server_request_are_checked(server, monkeypatch):
    """requests.get and a test's own Session, to a live server, go through
    the server's contract check as Server.request's answers do."""
    seen = []
    real = type(server)._check_contract

    def spy(self, method, r, streamed):
        seen.append((method, r.request.path_url))
        return real(self, method, r, streamed)

    monkeypatch.setattr(type(server), "_check_contract", spy)
    assert requests.get(server.url("/healthz"), timeout=5).status_code == 200
    with requests.Session() as s:
        assert s.get(server.url("/readyz"), timeout=5).status_code == 200
    assert server.get("/healthz").status_code == 200
    assert [(m.upper(), p) for m, p in seen] == [
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/healthz")], seen


# The lists written by hand answer their page as a declared list does
# (resource_page_query): a bad limit 400 INVALID_PARAMETER, a bad cursor 400
# INVALID_CURSOR, a parameter they do not take 400 UNKNOWN_PARAMETER; and the
# document declares limit and cursor, and those codes, and no 422 (issue 19,
# o19q items 2, 3, 11, 13).
HAND_PAGED = ["/v1/me/sessions", "/v1/users/{me}/sessions", "/v1/report-runs",
              "/v1/me/courses", "/v1/therapist-directory", "/v1/resource-library"]


@pytest.mark.parametrize("path", HAND_PAGED)
def test_hand_written_lists_answer_and_declare_their_page(server, admin, path):
    doc = server.get("/v1/openapi.json").json()
    op = doc["paths"][path.replace("{me}", "{id}")]["get"]
    names = {p.get("name") for p in op.get("parameters", []) if p.get("in") == "query"}
    assert {"limit", "cursor"} <= names, (path, names)
    assert "422" not in op["responses"], (path, sorted(op["responses"]))
    codes = op["responses"]["400"]["content"]["application/problem+json"]["schema"]
    codes = set(codes["allOf"][1]["properties"]["code"]["enum"])
    assert {"INVALID_PARAMETER", "INVALID_CURSOR", "UNKNOWN_PARAMETER"} <= codes, codes
    url = path.replace("{me}", admin["id"])
    for query, code in (("limit=0", "INVALID_PARAMETER"), ("cursor=zz", "INVALID_CURSOR"),
                        ("bogus=1", "UNKNOWN_PARAMETER")):
        r = server.get(f"{url}?{query}", headers=hdr(admin))
        assert (r.status_code, r.json().get("code")) == (400, code), (url, query, r.text)
    assert server.get(url, headers=hdr(admin)).status_code == 200


def _raw(server, head):
    """The bytes a socket reads for head (one request, then closed)."""
    import socket
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(head)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_transport_problems_are_declared_by_every_operation(server):
    """libmicrohttpd's own answers (mhd_answers.c: 400 MALFORMED, 505
    HTTP_VERSION_NOT_SUPPORTED) come before any route: every operation
    declares them (issue 19, o19q item 4)."""
    doc = server.get("/v1/openapi.json").json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in openapi_contract.METHODS:
                continue
            for status, code in (("400", "MALFORMED"), ("505", "HTTP_VERSION_NOT_SUPPORTED")):
                schema = op["responses"][status]["content"]["application/problem+json"]["schema"]
                assert code in schema["allOf"][1]["properties"]["code"]["enum"], \
                    (method, path, status)


def test_an_answer_read_raw_is_checked(server):
    """check_raw parses what a socket read and checks it as requests'
    answers are (issue 19, o19q item 7): a whole answer passes; one whose
    body breaks the schema fails."""
    r = server.check_raw("GET", "/healthz", _raw(
        server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert r.status_code == 200 and r.json()["status"] == "ok"
    bad = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
           b'{"status":1}\n')
    with pytest.raises(pytest.fail.Exception, match="OpenAPI contract"):
        server.check_raw("GET", "/healthz", bad)


def test_the_document_says_what_item_12_found_missing(server):
    """GET /v1/report-runs' page requires data and next_cursor; the report
    catalogue's parameters say their members; every webhook has an
    operationId (issue 19, o19q item 12)."""
    doc = server.get("/v1/openapi.json").json()
    runs = doc["paths"]["/v1/report-runs"]["get"]["responses"]["200"]
    assert set(runs["content"]["application/json"]["schema"]["required"]) == \
        {"data", "next_cursor"}
    cat = doc["paths"]["/v1/reports"]["get"]["responses"]["200"]
    params = cat["content"]["application/json"]["schema"]["properties"]["data"]["items"]
    params = params["properties"]["parameters"]
    assert set(params["properties"]) == set(params["required"]) == \
        {"from", "to", "period", "format"}
    for name, item in doc["webhooks"].items():
        for method, op in item.items():
            assert op.get("operationId"), (name, method)


def head_answer(status, ctype, path="/v1/things", method="HEAD"):
    r = requests.Response()
    r.status_code = status
    r.headers["Content-Type"] = ctype
    r._content = b""
    r.request = requests.Request(method, "http://127.0.0.1:1" + path).prepare()
    return r


def test_a_head_answer_of_an_undeclared_media_type_fails(contract):
    """HEAD answers GET's type: compared though no body comes (o19q item 9)."""
    doc = dict(DOC, paths={"/v1/things": {"get": {"responses": {"200": {"content": {
        "application/json": {"schema": {}}}}}}}})
    c = Contract(doc)
    check(c, "HEAD", "http://h/v1/things", head_answer(200, "application/json"))
    with pytest.raises(ContractError, match="declared"):
        check(c, "HEAD", "http://h/v1/things", head_answer(200, "text/html"))


def test_a_problem_where_no_operation_is_must_be_a_routing_one(contract):
    """On an unknown route only NOT_FOUND, METHOD_NOT_ALLOWED or a transport
    code, as a problem document (o19q item 10)."""
    def nowhere(status, body, ctype="application/problem+json"):
        r = answer(status, body, ctype)
        r.request = requests.Request("GET", "http://127.0.0.1:1/v1/nowhere").prepare()
        return r
    check(contract, "GET", "http://h/v1/nowhere", nowhere(404, problem_doc(404, "NOT_FOUND")))
    with pytest.raises(ContractError, match="no operation answers it"):
        check(contract, "GET", "http://h/v1/nowhere",
              nowhere(409, problem_doc(409, "NAME_TAKEN")))
    with pytest.raises(ContractError, match="not a problem document"):
        check(contract, "GET", "http://h/v1/nowhere",
              nowhere(404, {"error": "nope"}, "application/json"))


def test_row_schemas_are_closed_and_require_what_is_always_answered(server):
    """A resource's row answers its declared members and no other, and
    those everyone sees are always there (rows_decode writes null for
    NULL): additionalProperties false, id and created_at required (o19q
    item 1). The users row: a member only staff see is not required."""
    doc = server.get("/v1/openapi.json").json()
    rows = [name for name, s in doc["components"]["schemas"].items()
            if isinstance(s.get("properties"), dict) and "created_at" in s["properties"]
            and not name.endswith(("_create", "_update"))]
    assert len(rows) > 40, rows
    for name in rows:
        s = doc["components"]["schemas"][name]
        assert s.get("additionalProperties") is False, name
        assert {"id", "created_at"} <= set(s.get("required", [])), name
        assert set(s["required"]) <= set(s["properties"]), name


# -- issue 19, rv19 items 5, 7, 8, 9 (o19r) ---------------------------------

QUERY_DOC = dict(DOC, paths={
    "/v1/things": {"get": {
        "parameters": [
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "status", "in": "query", "schema": {"type": "string",
                                                         "enum": ["open", "closed"]}},
            {"name": "live", "in": "query", "schema": {"type": "boolean"}},
            {"name": "id", "in": "path", "schema": {"type": "string"}}],
        "responses": {
            "200": {"content": {"application/json": {"schema": {}}}},
            "400": {"content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}},
            "404": {"content": {"application/problem+json": {
                "schema": {"$ref": "#/components/schemas/Problem"}}}}}}},
    "/v1/things.csv": {"get": {"responses": {"200": {"content": {
        "text/csv": {"schema": {"type": "string"}}}}}}},
    "/v1/things.pdf": {"get": {"responses": {"200": {"content": {
        "application/pdf": {"schema": {"type": "string"}}}}}}},
    "/v1/things/export.edf": {"get": {"responses": {"200": {"content": {
        "application/octet-stream": {"schema": {"type": "string"}}}}}}},
})


def got(path, status=200, body=b"{}", ctype="application/json"):
    """A requests.Response as if GET path answered it."""
    r = requests.Response()
    r.status_code = status
    r.headers["Content-Type"] = ctype
    r._content = body
    r.request = requests.Request("GET", "http://127.0.0.1:1" + path).prepare()
    return r


@pytest.mark.parametrize("query,why", [
    ("foo=1", "does not declare"),                   # a name the operation does not take
    ("id=1", "does not declare"),                    # a path parameter is no query one
    ("status=pending", "does not take"),             # outside the enum
    ("limit=0", "does not take"),                    # under the minimum
    ("limit=ten", "does not take"),                  # not an integer
    ("live=yes", "does not take"),                   # not a boolean
    ("status=open&status=closed", "times"),          # twice, and not an array
])
def test_a_query_the_operation_does_not_declare_fails(query, why):
    """rv19 item 5: the query a request sent is checked against the
    operation's parameters, names and values, when it was not refused."""
    c = Contract(QUERY_DOC)
    for status in (200, 404):
        with pytest.raises(ContractError, match=why):
            check(c, "GET", f"http://h/v1/things?{query}", got(f"/v1/things?{query}", status,
                  json.dumps(problem_doc(404, "NOT_FOUND")).encode() if status == 404 else b"{}",
                  "application/json" if status == 200 else "application/problem+json"))


def test_a_declared_query_passes_and_a_refused_one_is_no_contract_error():
    c = Contract(QUERY_DOC)
    url = "/v1/things?limit=5&status=open&live=true"
    check(c, "GET", "http://h" + url, got(url))
    # The test sent it to see it refused: 400 UNKNOWN_PARAMETER naming it.
    url = "/v1/things?foo=1"
    check(c, "GET", "http://h" + url, got(url, 400, json.dumps(
        dict(problem_doc(400, "UNKNOWN_PARAMETER"), parameter="foo")).encode(),
        "application/problem+json"))
    url = "/v1/things?cursor=zz"
    check(c, "GET", "http://h" + url, got(url, 400, json.dumps(
        problem_doc(400, "INVALID_CURSOR")).encode(), "application/problem+json"))


REFUSED_FOR_SOMETHING_ELSE = [
    # f19s item 1: a misspelt parameter with a bad body: refused for the
    # body, not the query.
    (400, dict(problem_doc(400, "MALFORMED"))),
    (422, dict(problem_doc(422, "VALIDATION_FAILED"),
               errors=[{"field": "name", "code": "REQUIRED", "detail": "d"}])),
    # A query code that names another key than the one misspelt.
    (400, dict(problem_doc(400, "UNKNOWN_PARAMETER"), parameter="limitt")),
    (400, dict(problem_doc(400, "INVALID_PARAMETER"), parameter="limit")),
    (400, problem_doc(400, "INVALID_CURSOR")),
    (400, problem_doc(400, "UNKNOWN_PARAMETER")),
]


@pytest.mark.parametrize("status,problem", REFUSED_FOR_SOMETHING_ELSE)
def test_a_query_refusal_must_be_about_the_query_sent(status, problem):
    """f19s item 1: a 400 or 422 exempts the query only when it refuses
    a key that was sent (a query code naming it, an errors[].field)."""
    doc = json.loads(json.dumps(QUERY_DOC))
    doc["paths"]["/v1/things"]["get"]["responses"]["422"] = \
        doc["paths"]["/v1/things"]["get"]["responses"]["400"]
    c = Contract(doc)
    url = "/v1/things?fooo=1"
    with pytest.raises(ContractError, match="does not declare"):
        check(c, "GET", "http://h" + url, got(url, status, json.dumps(problem).encode(),
                                              "application/problem+json"))
    # The same answer naming the key sent exempts it.
    if "errors" in problem:
        problem = dict(problem, errors=[{"field": "fooo", "code": "C", "detail": "d"}])
        check(c, "GET", "http://h" + url, got(url, status, json.dumps(problem).encode(),
                                              "application/problem+json"))
    elif problem.get("code") == "UNKNOWN_PARAMETER":
        problem = dict(problem, parameter="fooo")
        check(c, "GET", "http://h" + url, got(url, status, json.dumps(problem).encode(),
                                              "application/problem+json"))


def test_a_422_excuses_only_the_query_keys_it_names():
    """e19u item 3: a 422 whose errors[] name one key sent excuses that
    key, not the others: an undeclared key beside it, which the answer
    does not name, is still a contract error (the server took it
    silently), and so is a declared key with a value its schema refuses."""
    doc = json.loads(json.dumps(QUERY_DOC))
    doc["paths"]["/v1/things"]["get"]["responses"]["422"] = \
        doc["paths"]["/v1/things"]["get"]["responses"]["400"]
    c = Contract(doc)
    named = dict(problem_doc(422, "VALIDATION_FAILED"),
                 errors=[{"field": "fooo", "code": "C", "detail": "d"}])
    for url, why in (("/v1/things?fooo=1&barr=2", "'barr', which the operation does not"),
                     ("/v1/things?fooo=1&limit=0", "limit=")):
        with pytest.raises(ContractError, match=why):
            check(c, "GET", "http://h" + url, got(url, 422, json.dumps(named).encode(),
                                                  "application/problem+json"))
    # Named, or declared and taken: no error.
    for url in ("/v1/things?fooo=1", "/v1/things?fooo=1&limit=5"):
        check(c, "GET", "http://h" + url, got(url, 422, json.dumps(named).encode(),
                                              "application/problem+json"))
    both = dict(named, errors=named["errors"] + [{"field": "barr", "code": "C", "detail": "d"}])
    url = "/v1/things?fooo=1&barr=2"
    check(c, "GET", "http://h" + url, got(url, 422, json.dumps(both).encode(),
                                          "application/problem+json"))


@pytest.mark.parametrize("path,body,why", [
    ("/v1/things.csv", b"a,b\r\n1,2,3\r\n", "row 2 has 3 columns"),
    ("/v1/things.csv", b"", "no header row"),
    ("/v1/things.csv", b"a,b\r\n\xff,1\r\n", "not UTF-8"),
    ("/v1/things.pdf", b"<html>not a pdf</html>", "no %PDF- head"),
    ("/v1/things/export.edf", b"{}", "no EDF header"),
])
def test_a_file_answer_that_is_not_of_its_media_type_fails(path, body, why):
    """rv19 item 9: the bytes of a CSV, PDF or EDF answer (written in chunks
    by the server) are checked for what their media type says."""
    c = Contract(QUERY_DOC)
    ctype = {"csv": "text/csv", "pdf": "application/pdf"}.get(
        path.rsplit(".", 1)[1], "application/octet-stream")
    with pytest.raises(ContractError, match=why):
        check(c, "GET", "http://h" + path, got(path, body=body, ctype=ctype))
    if path.endswith(".csv"):
        check(c, "GET", "http://h" + path, got(path, body=b'a,b\r\n"1,5",2\r\n',
                                               ctype="text/csv"))


def test_a_json_answer_read_as_a_stream_is_checked(contract):
    """rv19 item 9: stream=True no longer skips a JSON body."""
    with pytest.raises(ContractError, match="does not match its schema"):
        check(contract, "POST", "http://h/v1/things",
              answer(201, {"id": "not-a-uuid"}), streamed=True)


def test_an_http_client_answer_is_checked(server):
    """rv19 item 7: check_answer takes what http.client read."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        c.request("GET", "/healthz")
        r = c.getresponse()
        body = r.read()
    finally:
        c.close()
    assert server.check_answer("GET", "/healthz", r, body).json()["status"] == "ok"

    class Liar:
        status = 200

        def getheaders(self):
            return [("Content-Type", "application/json")]
    with pytest.raises(pytest.fail.Exception, match="OpenAPI contract"):
        server.check_answer("GET", "/healthz", Liar(), b'{"status": 1}')


def test_an_answer_from_another_client_address_is_checked(server, monkeypatch):
    """rv19 item 7: session_from (the tests that send from 127.0.0.2...)
    goes through the contract hook."""
    seen = []
    real = type(server)._check_contract

    def spy(self, method, r, streamed):
        seen.append((method.upper(), r.request.path_url))
        return real(self, method, r, streamed)

    monkeypatch.setattr(type(server), "_check_contract", spy)
    with session_from("127.0.0.2") as s:
        assert s.get(server.url("/healthz"), timeout=5).status_code == 200
    assert seen == [("GET", "/healthz")]


@pytest.mark.parametrize("path,members", [
    ("/v1/webhooks/simplybook", {"action", "booking_code"}),
    ("/v1/webhooks/storyblok", {"action", "story_id"}),
    ("/v1/webhooks/stripe", {"id", "type", "data"}),
])
def test_webhook_bodies_declare_their_members(server, path, members):
    """rv19 item 8: each webhook's body is required and declares its
    members with their types; an accepted body is validated against it."""
    doc = server.get("/v1/openapi.json").json()
    body = doc["paths"][path]["post"]["requestBody"]
    assert body["required"] is True
    media = body["content"]["application/json"]
    schema = media["schema"]
    assert set(schema["required"]) == members
    assert members <= set(schema["properties"])
    for name, prop in schema["properties"].items():
        assert "type" in prop or "enum" in prop, (path, name)
    # The example /docs shows is a body the schema takes.
    c = Contract(doc)
    assert not list(c.validator(schema).iter_errors(media["example"]))



@pytest.mark.parametrize("schema,text,value", [
    ({"type": "integer"}, "42", 42),
    ({"type": "integer"}, "-7", -7),
    ({"type": "integer"}, "\u0664\u0662", "\u0664\u0662"),  # Arabic-Indic digits
    ({"type": "integer"}, "1_0", "1_0"),
    ({"type": "integer"}, " 1", " 1"),
    ({"type": "number"}, "1.5", 1.5),
    ({"type": "number"}, "-2e3", -2000.0),
    ({"type": "number"}, "nan", "nan"),
    ({"type": "number"}, "inf", "inf"),
    ({"type": "number"}, "-Infinity", "-Infinity"),
    ({"type": "number"}, "1_0", "1_0"),
    ({"type": "number"}, "\u0661", "\u0661"),
    ({"type": "boolean"}, "true", True),
])
def test_a_query_value_is_read_as_json_would_write_it(schema, text, value):
    """f19s item 6: ASCII digits only, and a number as JSON writes one:
    Python's int() and float() take more, which no schema should be
    satisfied by."""
    got_ = openapi_contract._query_value(schema, text)
    assert got_ == value and type(got_) is type(value), (text, got_)


PATH_DOC = dict(DOC, paths={"/v1/things/{id}": {
    "parameters": [{"name": "id", "in": "path", "required": True,
                    "schema": {"type": "string", "format": "uuid"}}],
    "get": {"responses": {"200": {"content": {"application/json": {"schema": {}}}},
                          "404": {"content": {"application/problem+json": {"schema": {
                              "$ref": "#/components/schemas/Problem"}}}}}}}})


def test_a_path_segment_accepted_must_be_what_its_parameter_declares():
    """Issue 19: a {segment} of a path the server accepted (2xx) is one its
    parameter's schema takes (an id declared a UUID was one); refused, it
    may be anything."""
    c = Contract(PATH_DOC)
    uuid = "0190a5e2-7c4b-7b2a-8f00-0123456789ab"
    check(c, "GET", f"http://h/v1/things/{uuid}", got(f"/v1/things/{uuid}"))
    with pytest.raises(ContractError, match="accepted id='first'"):
        check(c, "GET", "http://h/v1/things/first", got("/v1/things/first"))
    check(c, "GET", "http://h/v1/things/first", got(
        "/v1/things/first", 404, json.dumps(problem_doc(404, "NOT_FOUND")).encode(),
        "application/problem+json"))


def test_an_unread_answer_is_not_checked_as_an_empty_body():
    """b19i item 7: unread (a browser's answer whose body was not at hand,
    web_browser.py) checks what the head says, and does not take the
    missing body for an empty one: neither as a Problem where no
    operation is, nor as a 400 that names no refused query key."""
    c = Contract(QUERY_DOC)
    r = got("/v1/nowhere", 404, b"", "application/problem+json")
    check(c, "GET", "http://h/v1/nowhere", r, unread=True)
    with pytest.raises(ContractError):
        check(c, "GET", "http://h/v1/nowhere", r)
    url = "/v1/things?fooo=1"
    check(c, "GET", "http://h" + url, got(url, 400, b"", "application/problem+json"),
          unread=True)
    # Still checked: a head no operation may answer.
    with pytest.raises(ContractError, match="not a problem document"):
        check(c, "GET", "http://h/v1/nowhere", got("/v1/nowhere", 404, b"", "text/html"),
              unread=True)
