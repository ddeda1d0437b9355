"""The request examples of the OpenAPI document are requests the server
takes (issue 19): each create operation's (a POST on a collection) example
body, sent by an admin to a fresh server, is not refused for what it holds.
test_openapi.py checks that every example is valid to its schema; this
checks that the schema says what the server enforces (a pattern, an enum,
the members of an array's items), so that an example made from it passes.

An answer that refuses the example for a row it names that does not exist
(404, 409, or a 422 entry not_found/inactive/not_staff: the UUIDs name no
row of a fresh server) is the example's luck, not its shape: a 400/422
whose code says the input itself is bad (VALIDATION_FAILED with another
entry, UNKNOWN_FIELD, MALFORMED_*, INVALID_*), or REPORT_NOT_FOUND (the
reports are a fixed catalogue, not rows), fails."""


from conftest import hdr

# The entries of a VALIDATION_FAILED that say a referenced row is not there
# (or not one that may be named: a report's recipient who is no staff).
ROW_CODES = {"not_found", "inactive", "not_staff"}
# Besides the collections: the operations that take what a person types
# (an access code), sent as their examples are.
TYPED = ("/v1/partner-access/validate-code", "/v1/partner-access/assign")
# How many create examples must be taken (2xx), not let pass for a row
# they name that a fresh server does not hold (404, 409, a 422 of
# ROW_CODES): 11 of 34 are now; the others name rows by made-up UUIDs.
# Raise it as examples are taken; never lower it.
MADE_MIN = 11


def create_operations(doc):
    """(path, operation) of every POST on a collection (a path without a
    parameter that is listed, GET, too), and TYPED's."""
    for path, item in sorted(doc["paths"].items()):
        if "post" in item and (("{" not in path and "get" in item) or path in TYPED):
            yield path, item["post"]


def request_example(op):
    media = ((op.get("requestBody") or {}).get("content") or {}).get("application/json")
    if media is None:
        return None
    if "example" in media:
        return media["example"]
    examples = media.get("examples") or {}
    for ex in examples.values():
        if "value" in ex:
            return ex["value"]
    return None


def refusal(r):
    """What about the example r refuses, or None. Taken: 2xx; a 404 or 409
    (a row the example names that this database does not hold, or holds
    already); a 422 whose every entry is about such a row (ROW_CODES).
    Anything else (a 5xx, a 400, a 403, a 422 about the example's shape)
    is a refusal."""
    if 200 <= r.status_code < 300:
        return None
    try:
        body = r.json()
    except ValueError:
        return f"{r.status_code} {r.text[:200]}"
    code = body.get("code", "")
    if r.status_code in (404, 409) and code != "REPORT_NOT_FOUND":
        return None
    # Bloom's answer for a code no partner issued (the example's is one
    # of the alphabet no database holds): 400, kept for its clients.
    if r.status_code == 400 and code == "DOES_NOT_EXIST":
        return None
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    if (r.status_code == 422 and code == "VALIDATION_FAILED" and errors
            and all(e.get("code") in ROW_CODES for e in errors)):
        return None
    fields = [f"{e.get('field')}: {e.get('code')}" for e in errors]
    return f"{r.status_code} {code} {fields or body.get('detail', '')}"


def test_every_create_example_is_taken_by_the_server(server, admin):
    doc = server.get("/v1/openapi.json").json()
    ops = list(create_operations(doc))
    assert len(ops) >= 30, [p for p, _ in ops]
    missing, refused, made = [], [], []
    for path, op in ops:
        example = request_example(op)
        if example is None:
            missing.append(path)
            continue
        r = server.post(path, json=example, headers=hdr(admin))
        why = refusal(r)
        if why is not None:
            refused.append(f"POST {path} {example}: {why}")
        elif 200 <= r.status_code < 300:
            made.append(path)
    assert not missing, f"create operations without a request example: {missing}"
    assert not refused, (f"{len(refused)} of {len(ops)} create examples refused:\n"
                         + "\n".join(refused))
    # A 404 or 409 for a row the example names is its luck, not its shape,
    # but only a taken example shows the shape is what the server takes:
    # at least MADE_MIN are.
    assert len(made) >= MADE_MIN, (
        f"only {len(made)} of {len(ops)} create examples taken (2xx): "
        f"{sorted(set(p for p, _ in ops) - set(made))}")
