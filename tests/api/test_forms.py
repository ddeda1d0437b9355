"""Form labels are bounded as the document says: a field's label and a
scoring band's label are texts of 1 to maxLength characters, counted in code
points (JSON Schema's length), not in the bytes of their UTF-8: a label of
maxLength three-byte characters is taken, one more character is refused."""
import json

import pytest

from conftest import hdr, person, problem

EURO = "\u20ac"     # three bytes in UTF-8, one character
E_ACUTE = "\u00e9"  # two bytes


def _doc_labels(server):
    """maxLength of a form field's label and of a scoring band's label, as
    /v1/openapi.json states them for POST /v1/forms."""
    doc = server.get("/v1/openapi.json").json()

    def plain(s):
        # A $ref followed; a nullable schema is anyOf [schema, {"type": "null"}].
        while "$ref" in s:
            s = doc["components"]["schemas"][s["$ref"].rsplit("/", 1)[1]]
        return next((b for b in s.get("anyOf", [s]) if b.get("type") != "null"), s)

    body = doc["paths"]["/v1/forms"]["post"]["requestBody"]["content"]["application/json"]
    props = plain(body["schema"])["properties"]

    field = plain(props["fields"])["items"]["properties"]["label"]
    band = plain(props["scoring"])["properties"]["bands"]["items"]["properties"]["label"]
    return field, band


@pytest.fixture
def admin(server):
    return person(server, "formadmin", "admin")


def _form(label, band):
    return {"title": "Labels", "type": "custom",
            "fields": [{"id": "r1", "label": label, "type": "radio",
                        "options": ["no", "yes"]}],
            "scoring": {"method": "sum", "items": ["r1"],
                        "bands": [{"min": 0, "label": band}]}}


def test_the_document_bounds_labels_in_characters(server):
    field, band = _doc_labels(server)
    assert (field.get("minLength"), field.get("maxLength")) == (1, 1000), field
    assert (band.get("minLength"), band.get("maxLength")) == (1, 1000), band


# (case, field label, band label, refused entry or None)
CASES = [
    ("field label of 1000 three-byte characters", EURO * 1000, "low", None),
    ("band label of 1000 two-byte characters", "Q", E_ACUTE * 1000, None),
    ("both at the limit", EURO * 1000, EURO * 1000, None),
    ("field label one character over", EURO * 1001, "low", "fields[0].label"),
    ("field label one ASCII character over", "a" * 1001, "low", "fields[0].label"),
    ("band label one character over", "Q", E_ACUTE * 1001, "scoring.bands[0]"),
    ("empty band label", "Q", "", "scoring.bands[0]"),
]


@pytest.mark.parametrize("case,label,band,refused", CASES, ids=[c[0] for c in CASES])
def test_labels_are_counted_in_characters(server, admin, case, label, band, refused):
    r = server.post("/v1/forms", headers=hdr(admin), json=_form(label, band))
    if refused is None:
        assert r.status_code == 201, r.text[:500]
        got = r.json()
        assert got["fields"][0]["label"] == label
        assert got["scoring"]["bands"][0]["label"] == band
        return
    body = problem(r, 422, "VALIDATION_FAILED")
    assert [e["field"] for e in body["errors"]] == [refused], body["errors"]


def test_a_label_changed_by_update_is_counted_alike(server, admin):
    r = server.post("/v1/forms", headers=hdr(admin), json=_form("Q", "low"))
    assert r.status_code == 201, r.text
    form = r.json()
    fields = [dict(form["fields"][0], label=EURO * 1000)]
    r = server.request("PATCH", f"/v1/forms/{form['id']}", headers=hdr(admin, **{"If-Match": r.headers["ETag"]}),
                     json={"fields": fields})
    assert r.status_code == 200, r.text[:500]
    fields = [dict(form["fields"][0], label=EURO * 1001)]
    body = problem(server.request("PATCH", f"/v1/forms/{form['id']}",
                                headers=hdr(admin, **{"If-Match": r.headers["ETag"]}),
                                json={"fields": fields}), 422, "VALIDATION_FAILED")
    assert [e["field"] for e in body["errors"]] == ["fields[0].label"], body["errors"]


@pytest.mark.parametrize("stored", ["", "x" * 1001], ids=["empty", "1001 characters"])
def test_a_stored_band_label_is_not_refused_on_a_patch_of_fields(server, admin, stored):
    """A form stored before band labels were bounded may hold "" or a longer
    one: a PATCH of its fields alone re-checks the stored scoring for shape
    only (its items must still name radio or select fields), never for a
    label the caller did not send; a PATCH that sends the scoring is checked
    whole."""
    r = server.post("/v1/forms", headers=hdr(admin), json=_form("Q", "low"))
    assert r.status_code == 201, r.text
    form = r.json()
    scoring = {"method": "sum", "items": ["r1"], "bands": [{"min": 0, "label": stored}]}
    server.db.execute("UPDATE forms SET scoring = '%s' WHERE id = '%s'"
                      % (json.dumps(scoring), form["id"]))
    # contract=False: answers of a planted row the document does not allow.
    r = server.request("GET", f"/v1/forms/{form['id']}", contract=False, headers=hdr(admin))
    assert r.status_code == 200, r.text
    assert r.json()["scoring"]["bands"][0]["label"] == stored
    fields = [dict(form["fields"][0], label="Changed")]
    r = server.request("PATCH", f"/v1/forms/{form['id']}", contract=False,
                       headers=hdr(admin, **{"If-Match": r.headers["ETag"]}),
                       json={"fields": fields})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["fields"][0]["label"] == "Changed"
    assert r.json()["scoring"]["bands"][0]["label"] == stored
    etag = r.headers["ETag"]
    # The stored scoring's items are still checked against the new fields.
    body = problem(server.request("PATCH", f"/v1/forms/{form['id']}",
                                  headers=hdr(admin, **{"If-Match": etag}),
                                  json={"fields": [dict(fields[0], type="text", options=None)]}),
                   422, "VALIDATION_FAILED")
    assert [e["field"] for e in body["errors"]] == ["scoring.items[0]"], body["errors"]
    # Sent, the same scoring is refused for its label.
    body = problem(server.request("PATCH", f"/v1/forms/{form['id']}",
                                  headers=hdr(admin, **{"If-Match": etag}),
                                  json={"scoring": scoring}),
                   422, "VALIDATION_FAILED")
    assert [e["field"] for e in body["errors"]] == ["scoring.bands[0]"], body["errors"]
