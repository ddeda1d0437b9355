"""Relationships and consent: admins create them pending; consent makes them
active; only an active relationship lets the lead see the follower; the
digital-consent rule (GET /v1/me/health-consent) for a 12-year-old in GB."""

import pytest

from conftest import hdr, person, problem, years_ago


@pytest.fixture
def cast(server):
    return {
        "admin": person(server, "admin", "admin"),
        "therapist": person(server, "therapist", "therapist"),
        "guardian": person(server, "guardian", date_of_birth=years_ago(40), country="GB"),
        "child": person(server, "child", date_of_birth=years_ago(12), country="GB"),
        "client": person(server, "client", date_of_birth=years_ago(30), country="GB"),
        "other": person(server, "other", date_of_birth=years_ago(35), country="DE"),
    }


def create(server, cast, lead, follower, kind):
    r = server.post("/v1/relationships", headers=hdr(cast["admin"]["token"]),
                    json={"lead_id": cast[lead]["id"], "follower_id": cast[follower]["id"],
                          "kind": kind})
    assert r.status_code == 201, r.text
    rel = r.json()
    assert rel["status"] == "pending" and rel["consent_at"] is None
    return rel


def health(server, who):
    r = server.get("/v1/me/health-consent", headers=hdr(who["token"]))
    assert r.status_code == 200, r.text
    return r.json()


def sees_user(server, viewer, target):
    return server.get(f"/v1/users/{target['id']}", headers=hdr(viewer["token"])).status_code


def test_health_consent_rule_for_a_12_year_old_in_gb(server, cast):
    assert health(server, cast["guardian"]) == {"allowed": True, "reason": "adult"}
    assert health(server, cast["child"]) == {"allowed": False, "reason": "consent_required"}
    rel = create(server, cast, "guardian", "child", "guardian_of")
    # Pending is not enough.
    assert health(server, cast["child"])["allowed"] is False
    r = server.post(f"/v1/relationships/{rel['id']}/consent",
                    headers=hdr(cast["admin"]["token"]), json={"method": "signed_form"})
    assert r.status_code == 200, r.text
    assert health(server, cast["child"]) == {"allowed": True, "reason": "guardian_consent"}
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(cast["guardian"]["token"]))
    assert r.status_code == 200, r.text
    assert health(server, cast["child"])["allowed"] is False


def test_health_consent_ages_come_from_config(start_server):
    srv = start_server(env={"CAREBASE_CONSENT_AGES": "GB:13,DE:16"})
    child = person(srv, "child", date_of_birth=years_ago(14), country="GB")
    assert health(srv, child) == {"allowed": True, "reason": "adult"}
    younger = person(srv, "younger", date_of_birth=years_ago(12), country="GB")
    assert health(srv, younger)["allowed"] is False
    teen = person(srv, "teen", date_of_birth=years_ago(15), country="DE")
    assert health(srv, teen)["allowed"] is False
    # No birth date: never counted as an adult, however they registered.
    grown = person(srv, "grown", date_of_birth=None, country=None)
    assert health(srv, grown) == {"allowed": False, "reason": "date_of_birth_required"}
    problem(srv.get("/v1/me/health-consent"), 401, "UNAUTHORIZED")


def test_guardian_sees_the_child_only_once_consent_is_recorded(server, cast):
    child, guardian, other = cast["child"], cast["guardian"], cast["other"]
    # Only admins create relationships.
    r = server.post("/v1/relationships", headers=hdr(guardian["token"]),
                    json={"lead_id": guardian["id"], "follower_id": child["id"],
                          "kind": "guardian_of"})
    assert r.status_code in (403, 404), r.text
    rel = create(server, cast, "guardian", "child", "guardian_of")
    assert sees_user(server, guardian, child) == 404
    # The child is too young to consent; the guardian cannot consent in the app.
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(child["token"])),
            403, "CONSENT_REQUIRED")
    problem(server.post(f"/v1/relationships/{rel['id']}/consent",
                        headers=hdr(guardian["token"])), 403, "CONSENT_REQUIRED")
    # Someone not in it: as if it did not exist.
    problem(server.get(f"/v1/relationships/{rel['id']}", headers=hdr(other["token"])),
            404, "NOT_FOUND")
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(other["token"])),
            404, "NOT_FOUND")
    problem(server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(other["token"])),
            404, "NOT_FOUND")
    # Bad method, unknown member.
    problem(server.post(f"/v1/relationships/{rel['id']}/consent",
                        headers=hdr(cast["admin"]["token"]), json={"method": "telepathy"}),
            422, "VALIDATION_FAILED")
    problem(server.post(f"/v1/relationships/{rel['id']}/consent",
                        headers=hdr(cast["admin"]["token"]), json={"status": "active"}),
            422, "UNKNOWN_FIELD")
    r = server.post(f"/v1/relationships/{rel['id']}/consent",
                    headers=hdr(cast["admin"]["token"]), json={"method": "signed_form"})
    assert r.status_code == 200, r.text
    active = r.json()
    assert active["status"] == "active"
    assert active["consent_method"] == "signed_form"
    assert active["consent_by"] == guardian["id"]      # the guardian's consent
    assert active["consent_at"] is not None
    assert sees_user(server, guardian, child) == 200
    assert sees_user(server, other, child) == 404
    assert sees_user(server, child, guardian) == 404   # not the other way round
    # Consent once only.
    problem(server.post(f"/v1/relationships/{rel['id']}/consent",
                        headers=hdr(cast["admin"]["token"])), 409, "CONFLICT")
    # Both parties see it; others do not; admins see all.
    for who, n in (("guardian", 1), ("child", 1), ("other", 0), ("admin", 1)):
        r = server.get("/v1/relationships", headers=hdr(cast[who]["token"]))
        assert r.status_code == 200, r.text
        assert len(r.json()["data"]) == n, (who, r.json())
    assert server.get(f"/v1/relationships/{rel['id']}",
                      headers=hdr(child["token"])).status_code == 200
    # A child cannot end their guardian's relationship; the guardian can.
    problem(server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(child["token"])),
            403, "FORBIDDEN")
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(guardian["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ended" and r.json()["ended_at"] is not None
    assert sees_user(server, guardian, child) == 404
    problem(server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(guardian["token"])),
            409, "CONFLICT")
    # Each step is in the audit log.
    actions = [r[0] for r in server.db.query(
        f"SELECT action FROM audit_log WHERE entity_id = '{rel['id']}' ORDER BY seq")]
    assert actions[-2:] == ["relationships.consent", "relationships.end"]


def test_practitioner_sees_a_client_once_the_client_consents(server, cast):
    therapist, client, other = cast["therapist"], cast["client"], cast["other"]
    rel = create(server, cast, "therapist", "client", "practitioner_of")
    assert sees_user(server, therapist, client) == 404
    problem(server.post(f"/v1/relationships/{rel['id']}/consent",
                        headers=hdr(therapist["token"])), 403, "CONSENT_REQUIRED")
    r = server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(client["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["consent_method"] == "in_app"
    assert r.json()["consent_by"] == client["id"]
    assert sees_user(server, therapist, client) == 200
    assert sees_user(server, therapist, other) == 404
    assert sees_user(server, other, client) == 404
    # The client withdraws.
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(client["token"]))
    assert r.status_code == 200, r.text
    assert sees_user(server, therapist, client) == 404


def test_relationship_validation_and_filters(server, cast):
    admin = cast["admin"]
    r = server.post("/v1/relationships", headers=hdr(admin["token"]),
                    json={"lead_id": cast["guardian"]["id"],
                          "follower_id": cast["guardian"]["id"], "kind": "guardian_of"})
    assert r.status_code == 422, r.text
    r = server.post("/v1/relationships", headers=hdr(admin["token"]),
                    json={"lead_id": cast["guardian"]["id"], "follower_id": cast["child"]["id"],
                          "kind": "guardian_of", "status": "active"})
    assert r.status_code == 422, r.text
    create(server, cast, "guardian", "child", "guardian_of")
    create(server, cast, "therapist", "client", "practitioner_of")
    create(server, cast, "therapist", "child", "practitioner_of")
    r = server.post("/v1/relationships", headers=hdr(admin["token"]),
                    json={"lead_id": cast["guardian"]["id"], "follower_id": cast["child"]["id"],
                          "kind": "guardian_of"})
    assert r.status_code == 409, r.text
    q = server.get("/v1/relationships?kind=practitioner_of", headers=hdr(admin["token"]))
    assert {x["kind"] for x in q.json()["data"]} == {"practitioner_of"}
    assert len(q.json()["data"]) == 2
    seen, cursor = [], None
    while True:
        url = "/v1/relationships?limit=1" + (f"&cursor={cursor}" if cursor else "")
        page = server.get(url, headers=hdr(admin["token"])).json()
        seen += [x["id"] for x in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 3 and len(set(seen)) == 3
    problem(server.get("/v1/relationships?kind=cousin_of", headers=hdr(admin["token"])),
            422, "VALIDATION_FAILED")
    problem(server.get("/v1/relationships?limit=500", headers=hdr(admin["token"])),
            422, "VALIDATION_FAILED")
    problem(server.get("/v1/relationships"), 401, "UNAUTHORIZED")


def test_no_birth_date_means_no_health_data_until_it_is_known(server, cast):
    unknown = person(server, "unknown", date_of_birth=None)
    assert health(server, unknown) == {"allowed": False, "reason": "date_of_birth_required"}
    # Giving the birth date settles it.
    r = server.request("PATCH", "/v1/me", headers=hdr(unknown["token"]),
                       json={"date_of_birth": years_ago(30)})
    assert r.status_code == 200, r.text
    assert health(server, unknown) == {"allowed": True, "reason": "adult"}
    # Without one, a guardian's recorded consent is what allows it.
    nodob = person(server, "nodob", date_of_birth=None)
    cast["nodob"] = nodob
    rel = create(server, cast, "guardian", "nodob", "guardian_of")
    r = server.post(f"/v1/relationships/{rel['id']}/consent",
                    headers=hdr(cast["admin"]["token"]), json={"method": "signed_form"})
    assert r.status_code == 200, r.text
    assert health(server, nodob) == {"allowed": True, "reason": "guardian_consent"}


HRV = "00000000-0000-7000-8000-0000000000d1"


def test_a_missing_birth_date_is_named_when_health_data_is_refused(server, cast):
    """Recording, answering a form or getting shared notes without a birth
    date is refused as 403 DATE_OF_BIRTH_REQUIRED, not as being under the
    digital-consent age (issue 15, item 3)."""
    from conftest import PHQ9, PHQ_OPTS, book, profile, relate
    unknown = person(server, "unknown", date_of_birth=None)
    body = problem(server.post("/v1/recordings", headers=hdr(unknown),
                               json={"data_type_id": HRV}), 403, "DATE_OF_BIRTH_REQUIRED")
    assert "date of birth" in body["detail"] and "consent age" not in body["detail"], body
    answers = {f"q{i}": PHQ_OPTS[0] for i in range(1, 10)}
    body = problem(server.post("/v1/form-responses", headers=hdr(unknown),
                               json={"form_id": PHQ9, "responses": answers}),
                   403, "DATE_OF_BIRTH_REQUIRED")
    assert "date of birth" in body["detail"], body
    t = cast["therapist"]
    t["profile"] = profile(server, cast["admin"], t)
    relate(server, cast["admin"], t, unknown, "practitioner_of")
    r = book(server, t, t, unknown, "2031-03-03T09:00:00.000Z", "2031-03-03T10:00:00.000Z",
             shared_notes="first session")
    problem(r, 403, "DATE_OF_BIRTH_REQUIRED")
    # Under the consent age, with a birth date: the consent is what is missing.
    problem(server.post("/v1/recordings", headers=hdr(cast["child"]),
                        json={"data_type_id": HRV}), 403, "CONSENT_REQUIRED")
    # Giving the birth date settles it.
    r = server.request("PATCH", "/v1/me", headers=hdr(unknown),
                       json={"date_of_birth": years_ago(30)})
    assert r.status_code == 200, r.text
    r = server.post("/v1/recordings", headers=hdr(unknown), json={"data_type_id": HRV})
    assert r.status_code == 201, r.text
