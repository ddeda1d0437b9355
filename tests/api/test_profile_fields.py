"""A partner's brand colour and a person's time zone (issue 18): the
partner's public page takes its band and buttons from brand_colour
("#rrggbb"), and times are shown in the person's time_zone (an IANA name
of the tzdata compiled in). Accepted, refused with the field named, null
clears, the public branding and the GDPR export carry them, the OpenAPI
document shows their formats, and migration 0053 taken down and up keeps
the rows. Runs on SQLite and PostgreSQL."""

import pytest

from conftest import PASSWORD, hdr, login, make_partner, person, problem, undo_migration


def refused(r, field):
    body = problem(r, 422, "VALIDATION_FAILED")
    assert field in [e["field"] for e in body["errors"]], body
    return body


def test_partner_brand_colour_set_checked_cleared_and_public(server, admin):
    p = make_partner(server, admin, "Colour Co", brand_colour="#1A7f3c")
    assert p["brand_colour"] == "#1A7f3c"
    for bad in ("1a7f3c", "#1a7f3", "#1a7f3cc", "#1g7f3c", "red", "#fff", 7):
        refused(server.request("PATCH", f"/v1/partners/{p['id']}", headers=hdr(admin),
                               json={"brand_colour": bad}), "brand_colour")
    refused(server.post("/v1/partners", headers=hdr(admin),
                        json={"name": "Bad Colour", "brand_colour": "#12345z"}), "brand_colour")
    # The public branding, by name, to anyone.
    pub = server.get("/v1/partners/colour co").json()
    assert pub["brand_colour"] == "#1A7f3c"
    r = server.request("PATCH", f"/v1/partners/{p['id']}", headers=hdr(admin),
                       json={"brand_colour": None})
    assert r.status_code == 200, r.text
    assert r.json()["brand_colour"] is None
    assert server.get("/v1/partners/colour co").json()["brand_colour"] is None
    # A member may not set it.
    member = person(server, "mo")
    r = server.request("PATCH", f"/v1/partners/{p['id']}", headers=hdr(member),
                       json={"brand_colour": "#000000"})
    assert r.status_code in (403, 404), r.text


def test_time_zone_on_me_checked_cleared_and_exported(server, admin):
    pat = person(server, "pat")
    assert server.get("/v1/me", headers=hdr(pat)).json()["time_zone"] is None
    # Zones and the links a browser may name (Asia/Calcutta, UTC).
    for zone in ("Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Calcutta",
                 "UTC", "Etc/GMT+5"):
        r = server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": zone})
        assert r.status_code == 200, r.text
        assert r.json()["time_zone"] == zone
        assert server.get("/v1/me", headers=hdr(pat)).json()["time_zone"] == zone
    for bad in ("Europe/Atlantis", "europe/berlin", "Berlin", "", "../etc/passwd",
                "Europe/Berlin ", "A" * 300, 5):
        refused(server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": bad}),
                "time_zone")
    assert server.get("/v1/me", headers=hdr(pat)).json()["time_zone"] == "Etc/GMT+5"
    # Staff set it through the users resource too.
    r = server.request("PATCH", f"/v1/users/{pat['id']}", headers=hdr(admin),
                       json={"time_zone": "Pacific/Auckland"})
    assert r.status_code == 200, r.text
    refused(server.request("PATCH", f"/v1/users/{pat['id']}", headers=hdr(admin),
                           json={"time_zone": "Mars/Olympus_Mons"}), "time_zone")
    doc = server.get("/v1/me/export", headers=hdr(pat)).json()
    assert doc["user"]["time_zone"] == "Pacific/Auckland"
    r = server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": None})
    assert r.status_code == 200, r.text
    assert r.json()["time_zone"] is None
    assert server.get("/v1/me/export", headers=hdr(pat)).json()["user"]["time_zone"] is None


def test_openapi_shows_the_formats(server):
    doc = server.get("/v1/openapi.json").json()
    schemas = doc["components"]["schemas"]
    colour = schemas["partners"]["properties"]["brand_colour"]
    assert colour["format"] == "colour" and colour["pattern"] == "^#[0-9A-Fa-f]{6}$", colour
    zone = schemas["users"]["properties"]["time_zone"]
    assert zone["format"] == "time-zone" and "pattern" in zone, zone
    assert "null" in zone["type"] and "null" in colour["type"]
    public = doc["paths"]["/v1/partners/{id}"]["get"]["responses"]["200"]
    assert "brand_colour" in str(public)


@pytest.mark.dialect
def test_migration_0053_down_and_up_keeps_the_rows(start_server, db):
    server = start_server(db=db)
    boss = person(server, "boss", "admin")
    p = make_partner(server, boss, "Round Trip", brand_colour="#abcdef")
    pat = person(server, "pat")
    server.request("PATCH", "/v1/me", headers=hdr(pat), json={"time_zone": "Europe/Paris"})
    server.stop()
    undo_migration(db, "0053_brand_colour_time_zone")
    assert db.count("partners", f"id = '{p['id']}'") == 1
    server.cli_ok("migrate")  # 0053 again
    server.start(migrate=False)
    assert db.scalar(f"SELECT brand_colour FROM partners WHERE id = '{p['id']}'") is None
    tok = login(server, pat["email"], PASSWORD)
    me = server.get("/v1/me", headers=hdr(tok)).json()
    assert me["id"] == pat["id"] and me["time_zone"] is None
    r = server.request("PATCH", "/v1/me", headers=hdr(tok), json={"time_zone": "Europe/Paris"})
    assert r.status_code == 200 and r.json()["time_zone"] == "Europe/Paris", r.text
