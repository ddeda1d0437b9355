"""The API's own contract, checked on every answer the API tests receive.

conftest hands each response from a carebase server to check() (its
Server.request, and any other requests call to a server it started): the
operation is found in the server's GET /v1/openapi.json by method and path
template, the answer by its status (a problem document only by a status the
operation declares, never by "default": its code must be one the answer's
enum lists), the media type among those the answer declares, and a JSON body
(application/json, application/problem+json) is validated against the
declared schema with python3-jsonschema ($ref resolved in the document,
formats checked: date-time by RFC 3339's grammar below, date, email, uuid,
uri by jsonschema's own). A JSON request body the server accepted (2xx) is
validated against the operation's requestBody: a body the server takes but
the document forbids is a contract error too, and so is a query the
operation does not declare (a parameter name it does not take, a value its
schema refuses) unless the request was refused for it (_refused_query: a 422
excuses only the keys its errors[] name).
A body of another type is checked for what its type says (a CSV table, a
PDF, a spreadsheet, an EDF recording, an SVG drawing: _check_file), and a
JSON answer the test streams is read and checked too. A mismatch fails the
test, naming the operation, status and the failing part of the body.

UNVALIDATED lists the operations whose answers are not checked yet, each
with why: the list only shrinks. Everything not in it is checked.
"""

import csv
import datetime
import io
import json
import os
import re
import threading
import zipfile
from urllib.parse import parse_qsl, unquote, urlsplit
from xml.etree import ElementTree

import pytest

try:
    import jsonschema
except ImportError:                  # scripts/install-deps installs python3-jsonschema
    jsonschema = None

# RFC 3339 section 5.6's date-time (Debian 12 has no python3-rfc3339-validator,
# which jsonschema would use): the grammar, then the calendar by datetime (a
# leap second, :60, is the grammar's and datetime's :59).
_DATE_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
                        r"([Zz]|[+-](\d{2}):(\d{2}))$")


def _is_date_time(value):
    if not isinstance(value, str):
        return True
    m = _DATE_TIME.match(value)
    if m is None:
        return False
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    try:
        datetime.datetime(y, mo, d, h, mi, min(sec, 59))
    except ValueError:
        return False
    if sec > 60:
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def format_checker():
    fc = jsonschema.FormatChecker()
    fc.checks("date-time")(_is_date_time)
    return fc

METHODS = ("get", "post", "put", "patch", "delete")

# The codes a request no operation takes may be answered with: no such
# route or method, or the transport's and dispatcher's before any route
# (openapi.c's shared_problems).
NO_OPERATION_CODES = {
    "NOT_FOUND", "METHOD_NOT_ALLOWED", "BAD_HEADER", "MALFORMED_PATH", "MALFORMED",
    "BODY_NOT_ALLOWED", "UNAUTHORIZED", "PAYLOAD_TOO_LARGE", "TOO_LARGE", "URI_TOO_LONG",
    "UNSUPPORTED_MEDIA_TYPE", "RATE_LIMITED", "HEADERS_TOO_LARGE", "COOKIE_TOO_LARGE",
    "INTERNAL", "SERVER_BUSY", "MAINTENANCE_MODE", "HTTP_VERSION_NOT_SUPPORTED",
}

# A request whose query the operation does not declare (a name it does not
# take, a value outside its schema) is a contract error unless it was
# refused for that query: the tests that send an unknown or bad parameter
# to see it refused expect a 400 whose code is about the query and whose
# `parameter` names a key sent (src/resource/query.c, page.c; a cursor's
# INVALID_CURSOR and a name that cannot be read name none: the cursor must
# have been sent, the name is unreadable), or a 422 whose errors[].field
# names a key sent; a credential in the query to see it is none (401), or
# a request line past the bounds (413, 414, 431: refused before any
# parameter is read). Any other answer (a 2xx, a 403, a 404, a 400 or 422
# about the body) to a query the document does not declare fails the test.
REFUSED_QUERY_STATUSES = (401, 413, 414, 431)
QUERY_PROBLEM_CODES = ("UNKNOWN_PARAMETER", "INVALID_PARAMETER", "INVALID_CURSOR")

# (METHOD, path template): why its answers are not validated yet.
UNVALIDATED = {
}


class ContractError(AssertionError):
    pass


class Contract:
    """One OpenAPI document, indexed for lookups; validators made once."""

    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver.from_schema(doc) if jsonschema else None
        self.validators = {}
        self.lock = threading.Lock()
        self.templates = []
        for path, item in doc.get("paths", {}).items():
            params = len(re.findall(r"\{[^}]*\}", path))
            rx = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$")
            self.templates.append((params, -len(path), path, rx, item))
        # Literal segments win over templates: /v1/partners/by-name/{name}
        # before /v1/partners/{id}/{x}.
        self.templates.sort(key=lambda t: (t[0], t[1]))

    def operation(self, method, path):
        """(template, operation) for a request, (template, None) when the
        path is known but not the method, (None, None) when neither."""
        known = None
        for _, _, template, rx, item in self.templates:
            if rx.match(path):
                op = item.get(method.lower())
                if op is not None:
                    return template, op
                known = known or template
        return known, None

    def resolve(self, ref):
        return self.resolver.resolve(ref)[1]

    def validator(self, schema):
        # The schemas live as long as the document: id() is a stable key.
        key = id(schema)
        with self.lock:
            v = self.validators.get(key)
            if v is None:
                v = jsonschema.Draft202012Validator(
                    schema, resolver=self.resolver, format_checker=format_checker())
                self.validators[key] = v
            return v


def _media(ctype):
    return (ctype or "").split(";")[0].strip().lower()


def _is_json(media):
    return media == "application/json" or media.endswith("+json")


def _where(err):
    return "/" + "/".join(str(p) for p in err.absolute_path)


def check(contract, method, url, response, streamed=False, unread=False):
    """Raise ContractError when response does not answer as the document says.
    unread: the body is not at hand (a browser's answer whose body was gone
    before it could be asked for, web_browser.py): the operation, status,
    query and media type are checked, the bytes are not."""
    method = method.upper()
    if method in ("OPTIONS",):
        return
    path = unquote(urlsplit(url).path)
    template, op = contract.operation("GET" if method == "HEAD" else method, path)
    status = response.status_code
    media = _media(response.headers.get("Content-Type"))
    name = f"{method} {template or path}"
    if op is None:
        # A page of the web application (src/web: what no route matches,
        # asked for as HTML, outside /v1/) is not an API operation.
        if (method in ("GET", "HEAD") and media == "text/html"
                and not path.startswith("/v1/") and status in (200, 304)):
            return
        # Not an operation: only a problem (unknown route, 405, or the
        # transport's before any route) may answer.
        if 200 <= status < 400:
            raise ContractError(f"OpenAPI contract: {name} answered {status} but the "
                                f"document declares no such operation")
        if method == "HEAD" or streamed:
            return
        if media != "application/problem+json":
            raise ContractError(f"OpenAPI contract: {name} answered {status} as "
                                f"{media or 'no Content-Type'}, not a problem document")
        if unread:
            # No body to validate as a Problem or to read the code of.
            return
        _validate(contract, name, status, media, response,
                  {"$ref": "#/components/schemas/Problem"})
        if _code(response) not in NO_OPERATION_CODES:
            raise ContractError(f"OpenAPI contract: {name} answered {status} "
                                f"{_code(response)}: no operation answers it, and only "
                                f"{sorted(NO_OPERATION_CODES)} may")
        return
    if (method, template) in UNVALIDATED:
        return
    responses = op.get("responses", {})
    answer = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX")
    if answer is None and media != "application/problem+json":
        answer = responses.get("default")
    if answer is None:
        raise ContractError(f"OpenAPI contract: {name} answered {status}"
                            f"{' ' + _code(response) if media.endswith('problem+json') else ''}"
                            f", which the operation does not declare "
                            f"(declared: {sorted(responses)})")
    if 200 <= status < 300:
        _check_request_body(contract, name, op, response.request)
        _check_path(contract, name, template, op, path)
    # Unread, a 400/422 problem's body (which names the refused keys) is
    # not at hand: its query is not checked against an empty one.
    excused = True if unread and status in (400, 422) else \
        _refused_query(status, media, response, url)
    if excused is not True:
        _check_query(contract, name, template, op, url, excused)
    content = answer.get("content") or {}
    declared = {_media(k): v for k, v in content.items()}
    # A HEAD answer (and a 304 that names one) says the type GET's body
    # would have: checked though no body comes.
    if method == "HEAD" or status == 304:
        if media and declared and media not in declared and not any(
                k.endswith("/*") and media.startswith(k[:-1]) for k in declared):
            raise ContractError(f"OpenAPI contract: {name} answered {status} as "
                                f"{media}, declared: {sorted(declared)}")
        return
    if not content:
        if response.content and not streamed:
            raise ContractError(f"OpenAPI contract: {name} answered {status} with a "
                                f"{media or 'untyped'} body, but the answer declares none")
        return
    if media not in declared:
        # "text/*"-style ranges count too.
        ranged = [k for k in declared if k.endswith("/*") and media.startswith(k[:-1])]
        if not ranged:
            raise ContractError(f"OpenAPI contract: {name} answered {status} as "
                                f"{media or 'no Content-Type'}, declared: {sorted(declared)}")
        media = ranged[0]
    if unread:
        return
    schema = declared[media].get("schema")
    if not _is_json(media):
        # A file, a page, a stream of rows: its bytes are what its media
        # type says (read whole; a stream the test reads itself is not
        # read here).
        if not streamed:
            _check_file(name, status, media, response.content)
        return
    if schema is None:
        return
    # A JSON answer the test asked to stream (stream=True) is read here, so
    # that its body is checked too: requests keeps what it read for the
    # test.
    _validate(contract, name, status, media, response, schema)


def check_file(name, media, body):
    """Raise ContractError when body (a file as a page saved it, for
    one) is not of its media type (_check_file's rules)."""
    _check_file(name, 200, _media(media), body)


def _check_file(name, status, media, body):
    """The bytes of a non-JSON answer are of its media type: a CSV table
    whose rows all have the header's columns, a PDF, a spreadsheet (a zip),
    an EDF recording (its fixed header), an SVG drawing. Other types (a
    page, a script, Prometheus text) are taken as they come."""
    def bad(why):
        raise ContractError(f"OpenAPI contract: {name} answered {status} {media} "
                            f"that is not one: {why}")
    if media == "text/csv":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as e:
            bad(f"not UTF-8 ({e})")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if not rows or not rows[0]:
            bad("no header row")
        for i, row in enumerate(rows[1:], 2):
            if len(row) != len(rows[0]):
                bad(f"row {i} has {len(row)} columns, the header {len(rows[0])}")
    elif media == "application/pdf":
        if not body.startswith(b"%PDF-") or b"%%EOF" not in body[-1024:]:
            bad(f"no %PDF- head or %%EOF tail: {body[:16]!r}")
    elif media == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
        try:
            names = zipfile.ZipFile(io.BytesIO(body)).namelist()
        except zipfile.BadZipFile as e:
            bad(f"not a zip ({e})")
        if "[Content_Types].xml" not in names:
            bad("a zip with no [Content_Types].xml")
    elif media == "application/octet-stream" and name.endswith(".edf"):
        # EDF: a 256-byte header, "0" and seven spaces first, then 256
        # bytes per signal, then the data records.
        if len(body) < 256 or body[:8] != b"0       ":
            bad(f"no EDF header: {body[:16]!r}")
        try:
            head, signals = int(body[184:192]), int(body[252:256])
        except ValueError:
            bad("the EDF header's sizes are not numbers")
        if head != 256 * (1 + signals) or len(body) < head:
            bad(f"an EDF header of {head} bytes for {signals} signals")
    elif media == "image/svg+xml":
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError as e:
            bad(f"not XML ({e})")
        if root.tag != "{http://www.w3.org/2000/svg}svg":
            bad(f"the root is {root.tag}, not an svg element")


def _code(response):
    try:
        return str(json.loads(response.content).get("code"))
    except (ValueError, AttributeError):
        return "(no code)"


def _refused_query(status, media, response, url):
    """What of the query the answer refuses (see QUERY_PROBLEM_CODES),
    which need not be what the operation declares: True for the whole
    query, a set for the keys a 422's errors[] name (the others are
    checked: one it does not name was taken), False for none."""
    if status in REFUSED_QUERY_STATUSES:
        return True
    if status not in (400, 422) or media != "application/problem+json":
        return False
    sent = {k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    try:
        problem = json.loads(response.content)
    except ValueError:
        return False
    if not isinstance(problem, dict):
        return False
    if status == 422:
        errors = problem.get("errors")
        named = {e.get("field") for e in errors if isinstance(e, dict)} \
            if isinstance(errors, list) else set()
        return (named & sent) or False
    code = problem.get("code")
    if code not in QUERY_PROBLEM_CODES:
        return False
    if "parameter" in problem:
        return problem["parameter"] in sent
    if code == "INVALID_CURSOR":
        return "cursor" in sent
    # INVALID_PARAMETER with no name: a name that is not valid text.
    return code == "INVALID_PARAMETER" and bool(sent)


def _query_value(schema, value):
    """A query parameter's text as the JSON value its schema's type reads
    it as (OpenAPI's form style): text that is not one stays text, and
    fails the schema's type."""
    types = schema.get("type", "string")
    types = types if isinstance(types, list) else [types]
    # ASCII digits only, and a number as JSON writes one: int() and
    # float() also take "١٢", "1_0", " 1", "nan", "inf", which the
    # server's parsers do not.
    if "integer" in types and re.fullmatch(r"-?[0-9]{1,19}", value, re.ASCII):
        return int(value)
    if "number" in types and re.fullmatch(
            r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?", value, re.ASCII):
        return float(value)
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    return value


def _declared(contract, template, op, where):
    """The parameters in where ("query", "path") the operation declares,
    its own or its path item's ($ref followed), by name."""
    declared = {}
    item = contract.doc.get("paths", {}).get(template, {})
    for p in item.get("parameters", []) + op.get("parameters", []):
        if "$ref" in p:
            p = contract.resolve(p["$ref"])
        if p.get("in") == where:
            declared[p["name"]] = p
    return declared


def _check_query(contract, name, template, op, url, excused=False):
    """Every query parameter a request sent is one the operation declares
    (its own or its path item's), with a value its schema takes; but the
    keys in excused (a set: the ones a refusal named)."""
    query = urlsplit(url).query
    if not query:
        return
    declared = _declared(contract, template, op, "query")
    sent = {}
    for k, v in parse_qsl(query, keep_blank_values=True):
        sent.setdefault(k, []).append(v)
    for k, values in sent.items():
        if excused and k in excused:
            continue
        p = declared.get(k)
        if p is None:
            raise ContractError(f"OpenAPI contract: {name} was sent the query parameter "
                                f"{k!r}, which the operation does not declare (declared: "
                                f"{sorted(declared) or 'none'}), and it was not refused")
        schema = p.get("schema") or {}
        if schema.get("type") == "array":
            value = [_query_value(schema.get("items") or {}, v) for v in values]
        elif len(values) > 1:
            raise ContractError(f"OpenAPI contract: {name} was sent the query parameter "
                                f"{k!r} {len(values)} times, and it is not an array")
        else:
            value = _query_value(schema, values[0])
        err = jsonschema.exceptions.best_match(contract.validator(schema).iter_errors(value))
        if err is not None:
            raise ContractError(f"OpenAPI contract: {name} was sent {k}={values!r}, which "
                                f"its schema does not take: {err.message[:300]}, and it was "
                                f"not refused")


def _check_path(contract, name, template, op, path):
    """Each {segment} of a path the server accepted (2xx) is one its
    parameter's schema takes: an id declared format uuid was one."""
    names = re.findall(r"\{([^}]*)\}", template)
    if not names:
        return
    rx = "^" + re.sub(r"\\\{[^}]*\\\}", "([^/]+)", re.escape(template)) + "$"
    m = re.match(rx, path)
    if m is None:
        return
    declared = _declared(contract, template, op, "path")
    for k, value in zip(names, m.groups()):
        schema = (declared.get(k) or {}).get("schema")
        if schema is None:
            continue
        err = jsonschema.exceptions.best_match(contract.validator(schema).iter_errors(value))
        if err is not None:
            raise ContractError(f"OpenAPI contract: {name} accepted {k}={value!r}, which "
                                f"its schema does not take: {err.message[:300]}")


def _check_request_body(contract, name, op, request):
    """A JSON body the server accepted must be one the operation declares."""
    body = getattr(request, "body", None)
    if request is None or body is None or body == b"" or body == "":
        return
    media = _media(request.headers.get("Content-Type"))
    if not _is_json(media):
        return
    content = (op.get("requestBody") or {}).get("content") or {}
    declared = {_media(k): v for k, v in content.items()}
    if media not in declared:
        raise ContractError(f"OpenAPI contract: {name} accepted a {media} body, but the "
                            f"operation declares {sorted(declared) or 'no body'}")
    schema = declared[media].get("schema")
    if schema is None:
        return
    try:
        sent = json.loads(body)
    except ValueError:
        raise ContractError(f"OpenAPI contract: {name} accepted a {media} body that is "
                            f"not JSON") from None
    err = jsonschema.exceptions.best_match(contract.validator(schema).iter_errors(sent))
    if err is not None:
        raise ContractError(
            f"OpenAPI contract: {name} accepted a request body that does not match its "
            f"requestBody schema: at {_where(err)}: {err.message[:600]} "
            f"(schema path: {'/'.join(str(p) for p in err.absolute_schema_path)})")


def _validate(contract, name, status, media, response, schema):
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise ContractError(f"OpenAPI contract: {name} answered {status} {media} "
                            f"that is not JSON: {e}") from None
    err = jsonschema.exceptions.best_match(contract.validator(schema).iter_errors(body))
    if err is not None:
        raise ContractError(
            f"OpenAPI contract: {name} answered {status} {media} that does not match its "
            f"schema: at {_where(err)}: {err.message[:600]} "
            f"(schema path: {'/'.join(str(p) for p in err.absolute_schema_path)})")


def response_from_raw(method, url, raw):
    """A requests.Response made of the bytes of one whole HTTP/1.x answer
    (status line, head, body; a chunked body decoded), as if requests had
    asked for it: what a test read through http.client or a socket, for
    check(). The body ends where Content-Length says, or at the bytes' end."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("iso-8859-1").split("\r\n")
    m = re.match(r"^HTTP/\d\.\d (\d{3})", lines[0])
    if m is None:
        raise ContractError(f"OpenAPI contract: {method} {url} answered no HTTP status "
                            f"line: {lines[0][:80]!r}")
    headers = []
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.append((k.strip(), v.strip()))
    return response_from_parts(method, url, int(m.group(1)), headers, body, raw=True)


def response_from_parts(method, url, status, headers, body, raw=False):
    """A requests.Response of a status, [(header, value)] and a body (read
    by http.client, decoded; raw: as it came, chunks and all)."""
    import requests
    r = requests.Response()
    r.status_code = status
    for k, v in headers:
        r.headers[k] = v
    if raw and r.headers.get("Transfer-Encoding", "").lower() == "chunked":
        out = b""
        while body:
            size, _, body = body.partition(b"\r\n")
            n = int(size.split(b";")[0] or b"0", 16)
            if n == 0:
                break
            out, body = out + body[:n], body[n + 2:]
        body = out
    elif raw and "Content-Length" in r.headers:
        body = body[:int(r.headers["Content-Length"])]
    r._content = b"" if method.upper() == "HEAD" else body
    req = requests.Request(method.upper(), url).prepare()
    r.request = req
    r.url = req.url
    return r


_SHARED = {}
_SHARED_LOCK = threading.Lock()


def contract_for(key, fetch):
    """The Contract of a binary, fetched once a session through fetch()."""
    with _SHARED_LOCK:
        c = _SHARED.get(key)
    if c is None:
        r = fetch()
        if r.status_code != 200:
            pytest.fail(f"GET /v1/openapi.json answered {r.status_code}: {r.text[:500]}")
        c = Contract(r.json())
        with _SHARED_LOCK:
            _SHARED.setdefault(key, c)
    return c
