"""Stored links (issue 15, item 1): every field that holds a link a client
renders or follows (therapy resources' url, partners' logo_url, website and
social_links, course materials' file_url) is one field type, FIELD_URL or
FIELD_URL_MAP, which takes http(s) only (and a path on this site where the
field means one): javascript:, data:, vbscript:, a scheme behind blanks or
control characters, or in mixed case, are refused with 422
VALIDATION_FAILED and an entry coded invalid_url, on create and on change.
A link stored before the rule (or by anything but the API) is served as
null, never as it is: in the resource's own routes, the resource library,
the public partner branding and the GDPR export."""

import pytest

from conftest import hdr, make_partner, person, problem, profile, relate
from training_helpers import training_course

UNSAFE = [
    "javascript:alert(document.cookie)",
    "JaVaScRiPt:alert(document.cookie)",
    " javascript:alert(1)",
    "\u0001javascript:alert(1)",
    "\tjavascript:alert(1)",
    "java\nscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DaTa:text/html;base64,PHNjcmlwdD4=",
    "vbscript:msgbox(1)",
    "VBScript:msgbox(1)",
    "file:///etc/passwd",
    "//evil.example/x",
    "https://",
]
SAFE = "https://example.org/a.pdf"

# (resource path, field, map?) of every URL field the API declares; the test
# below holds this list to the OpenAPI document, so a new one is walked too.
URL_FIELDS = {
    ("/v1/resources", "url", False),
    ("/v1/partners", "logo_url", False),
    ("/v1/partners", "website", False),
    ("/v1/partners", "social_links", True),
    ("/v1/course-materials", "file_url", False),
}


def url_fields_of(doc):
    """(path, field, map?) of every URL field in the OpenAPI document's
    create bodies."""
    def resolve(s):
        while "$ref" in s:                # a JSON pointer into the document
            node = doc
            for part in s["$ref"][2:].split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            s = node
        return s

    found = set()
    for path, item in doc["paths"].items():
        post = item.get("post", {})
        schema = resolve(post.get("requestBody", {}).get("content", {})
                         .get("application/json", {}).get("schema", {}))
        for name, s in schema.get("properties", {}).items():
            s = resolve(s)
            if s.get("format") in ("uri", "uri-reference"):
                found.add((path, name, False))
            elif s.get("additionalProperties", {}).get("format") == "uri":
                found.add((path, name, True))
    return found


@pytest.fixture
def rows(server):
    """A row of each resource with URL fields, and who writes it."""
    admin = person(server, "admin", "admin")
    t = person(server, "therapist", "therapist")
    t["profile"] = profile(server, admin, t)
    res = server.post("/v1/resources", headers=hdr(t), json={
        "title": "Breathing", "type": "pdf", "url": SAFE, "is_public": True})
    assert res.status_code == 201, res.text
    partner = make_partner(server, admin, "Linkers", logo_url=SAFE)
    course = training_course(server, admin)
    mat = server.post("/v1/course-materials", headers=hdr(admin), json={
        "course_id": course["id"], "title": "Handbook", "material_type": "pdf",
        "file_url": SAFE, "is_public": True})
    assert mat.status_code == 201, mat.text
    return {"admin": admin, "therapist": t,
            "/v1/resources": (t, res.json()),
            "/v1/partners": (admin, partner),
            "/v1/course-materials": (admin, mat.json())}


def test_the_walk_covers_every_declared_url_field(server):
    doc = server.get("/v1/openapi.json").json()
    assert url_fields_of(doc) == URL_FIELDS


@pytest.mark.parametrize("path,field,is_map", sorted(URL_FIELDS))
def test_every_url_field_refuses_unsafe_links(server, rows, path, field, is_map):
    who, row = rows[path]
    for bad in UNSAFE:
        value = {"site": bad} if is_map else bad
        r = server.request("PATCH", f"{path}/{row['id']}", headers=hdr(who),
                           json={field: value})
        body = problem(r, 422, "VALIDATION_FAILED")
        assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, "invalid_url")], \
            (bad, body)
    value = {"site": SAFE} if is_map else SAFE
    r = server.request("PATCH", f"{path}/{row['id']}", headers=hdr(who), json={field: value})
    assert r.status_code == 200 and r.json()[field] == value, r.text


def test_create_refuses_the_reported_link(server, rows):
    t = rows["therapist"]
    for bad in UNSAFE:
        r = server.post("/v1/resources", headers=hdr(t), json={
            "title": "XSS", "type": "link", "url": bad, "is_public": True})
        body = problem(r, 422, "VALIDATION_FAILED")
        assert body["errors"] == [{"field": "url", "code": "invalid_url",
                                   "detail": body["errors"][0]["detail"]}], body
    assert server.get("/v1/resources", headers=hdr(t)).json()["data"][0]["title"] \
        == "Breathing"


def test_relative_paths_only_where_the_field_means_one(server, rows):
    t = rows["therapist"]
    r = server.post("/v1/resources", headers=hdr(t), json={
        "title": "Local", "type": "pdf", "url": "/files/local.pdf"})
    assert r.status_code == 201 and r.json()["url"] == "/files/local.pdf", r.text
    admin, mat = rows["/v1/course-materials"]
    r = server.request("PATCH", f"/v1/course-materials/{mat['id']}", headers=hdr(admin),
                       json={"file_url": "/files/local.pdf"})
    assert problem(r, 422, "VALIDATION_FAILED")["errors"][0]["code"] == "invalid_url"


@pytest.mark.dialect
def test_links_stored_before_the_rule_are_never_served(server, rows, db):
    admin, t = rows["admin"], rows["therapist"]
    member = person(server, "member")
    relate(server, admin, t, member, "practitioner_of")
    _, res = rows["/v1/resources"]
    _, partner = rows["/v1/partners"]
    _, mat = rows["/v1/course-materials"]
    evil = "javascript:alert(document.cookie)"
    db.execute(f"UPDATE resources SET url = '{evil}' WHERE id = '{res['id']}';"
               f"UPDATE partners SET logo_url = ' {evil}', website = 'https://ok.example', "
               f"social_links = '{{\"x\": \"{evil}\", \"ok\": \"https://ok.example/x\"}}' "
               f"WHERE id = '{partner['id']}';"
               f"UPDATE course_materials SET file_url = 'data:text/html,x' "
               f"WHERE id = '{mat['id']}';")
    seen = []
    r = server.get(f"/v1/resources/{res['id']}", headers=hdr(t))
    assert r.status_code == 200 and r.json()["url"] is None, r.text
    seen.append(r.text)
    r = server.get("/v1/resource-library", headers=hdr(member))
    assert r.status_code == 200, r.text
    mine = [x for x in r.json()["data"] if x["id"] == res["id"]]
    assert mine and mine[0]["url"] is None, r.text
    seen.append(r.text)
    r = server.get("/v1/partners/Linkers")
    b = r.json()
    assert r.status_code == 200 and b["logo_url"] is None, r.text
    assert b["website"] == "https://ok.example"
    assert b["social_links"] == {"ok": "https://ok.example/x"}
    seen.append(r.text)
    r = server.get("/v1/partners?name=Linkers", headers=hdr(admin))
    assert r.json()["data"][0]["logo_url"] is None, r.text
    seen.append(r.text)
    r = server.get(f"/v1/course-materials/{mat['id']}", headers=hdr(member))
    assert r.status_code == 200 and r.json()["file_url"] is None, r.text
    seen.append(r.text)
    r = server.get("/v1/me/export", headers=hdr(t))
    assert r.status_code == 200, r.text
    seen.append(r.text)
    for text in seen:
        assert "javascript" not in text.lower() and "data:text" not in text, text
    assert "event=url_withheld table=resources column=url" in server.log()
