"""Guardians onboard their own family (issue 15 item 12): an adult invites
an existing account as their child (POST /v1/me/family/invite, 202 whatever
the address) or makes the account of a child under the digital-consent age
(POST /v1/me/family/children, active at once with their in-app consent); a
child's other active guardian accepts a new guardian for a child under the
age; the child's data reaches the guardian only once the relationship is
active; invitations are bounded, audited and erased with their parties."""

import hashlib
import json
import re
import uuid

import pytest

from conftest import (ROOT, PASSWORD, hdr, login, person, problem, queue_job, register,
                      smtp_env, undo_migration, wait_until, years_ago)

HRV = "00000000-0000-7000-8000-0000000000d1"
NEW_PW = "a brand new passphrase 42"


@pytest.fixture
def cast(server):
    return {
        "admin": person(server, "admin", "admin"),
        "guardian": person(server, "guardian", date_of_birth=years_ago(40), country="GB"),
        "second": person(server, "second", date_of_birth=years_ago(42), country="GB"),
        "teen": person(server, "teen", date_of_birth=years_ago(14), country="GB"),
        "other": person(server, "other", date_of_birth=years_ago(35), country="GB"),
    }


def invite(server, who, email, **extra):
    return server.post("/v1/me/family/invite", headers=hdr(who), json={"email": email, **extra})


def invited(server, who, email):
    """An invitation that must be accepted for sending, its job run."""
    r = invite(server, who, email)
    assert r.status_code == 202, r.text
    jobs_done(server)
    return r


def jobs_done(server):
    wait_until(lambda: server.db.count("jobs", "kind = 'people.family_invite'") == 0,
               what="the family invitation job")


def rels(server, who, **params):
    r = server.get("/v1/relationships", headers=hdr(who), params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def pending_of(server, follower):
    """The pending guardian_of relationships the follower sees."""
    return [x for x in rels(server, follower, kind="guardian_of") if x["status"] == "pending"]


def make_child(server, guardian, **body):
    return server.post("/v1/me/family/children", headers=hdr(guardian), json=body)


def child_signs_in(server, child_id, email):
    """The child sets their password through the welcome mail's reset token
    (its hash replaced by one of a token the test knows); their token."""
    wait_until(lambda: server.db.count("password_resets", f"user_id = '{child_id}'") == 1,
               what="the welcome mail's reset link")
    tok = "W" * 43
    h = hashlib.sha256(tok.encode()).hexdigest()
    server.db.execute(f"UPDATE password_resets SET token_hash = '{h}' "
                      f"WHERE user_id = '{child_id}'")
    r = server.post("/v1/auth/password-reset/confirm",
                    json={"token": tok, "new_password": NEW_PW})
    assert r.status_code == 204, r.text
    return {"id": child_id, "email": email, "token": login(server, email, NEW_PW)}


def actions(server, rel_id):
    return [r[0] for r in server.db.query(
        f"SELECT action FROM audit_log WHERE entity_id = '{rel_id}' ORDER BY seq")]


def export_shape(server, who):
    """What of who's export could differ between two inviters: the audit
    records (but their ids, times and the actor's pseudonym), the
    relationships and the invitations (but ids and times)."""
    r = server.get("/v1/me/export", headers=hdr(who))
    assert r.status_code == 200, r.text
    doc = r.json()
    varying = {"seq", "id", "at", "actor_ref", "entity_id", "request_id", "created_at",
               "updated_at"}
    def strip(rows):
        rows = rows["data"] if isinstance(rows, dict) else rows
        return [{k: v for k, v in x.items() if k not in varying} for x in rows]
    return {"audit_log": strip(doc["audit_log"]),
            "relationships": strip(doc["relationships"]),
            "family_invites": strip(doc["family_invites"])}


def test_an_invitation_tells_nothing_of_whether_the_address_has_an_account(server, cast):
    g, teen = cast["guardian"], cast["teen"]
    a = invite(server, g, teen["email"], kind="guardian_of")
    b = invite(server, g, "nobody.at.all@example.org")
    assert a.status_code == b.status_code == 202, (a.text, b.text)
    # The same answer but the invitation's own id (made for every address).
    ja, jb = a.json(), b.json()
    assert ja.pop("id") != jb.pop("id") and ja == jb
    jobs_done(server)
    # The inviter sees no relationship either way until it is answered.
    assert rels(server, g) == []
    assert server.db.count("family_invites", f"lead_id = '{g['id']}'") == 2
    # Their export has both, with kind and time only.
    export = server.get("/v1/me/export", headers=hdr(g)).json()
    rows = export["family_invites"]["data"] if isinstance(export["family_invites"], dict) \
        else export["family_invites"]
    assert len(rows) == 2 and all("relationship_id" not in x for x in rows), rows
    # The invitee sees it, pending, and was mailed.
    (rel,) = pending_of(server, teen)
    assert rel["lead_id"] == g["id"] and rel["consent_at"] is None
    assert server.db.count("email_log", f"template = 'family_invitation' AND "
                           f"user_id = '{teen['id']}'") == 1
    assert server.db.count("email_log", "template = 'family_invitation'") == 1
    assert actions(server, rel["id"]) == ["relationships.create"]
    # Inviting again (the same person) changes nothing.
    invited(server, g, teen["email"])
    assert len(pending_of(server, teen)) == 1
    # Nor does the inviter's export tell: an invitation to an account and
    # one to no account leave the same records (each audited
    # family.invite, the inviter the actor; the relationship the job made
    # is the system's).
    one = person(server, "one", date_of_birth=years_ago(40), country="GB")
    two = person(server, "two", date_of_birth=years_ago(40), country="GB")
    invited(server, one, cast["other"]["email"])
    invited(server, two, "nobody.either@example.org")
    assert len(pending_of(server, cast["other"])) == 1
    assert export_shape(server, one) == export_shape(server, two)
    mine = [a for a in server.get("/v1/me/export", headers=hdr(one)).json()["audit_log"]
            if a["action"] == "family.invite"]
    assert len(mine) == 1 and mine[0]["entity_type"] == "family_invites", mine
    assert mine[0]["actor_ref"] is not None
    # Only guardian_of, only the address; an address is needed.
    problem(invite(server, g, teen["email"], kind="practitioner_of"), 422, "VALIDATION_FAILED")
    problem(invite(server, g, teen["email"], role="admin"), 422, "VALIDATION_FAILED")
    problem(invite(server, g, "not-an-address"), 422, "VALIDATION_FAILED")
    problem(server.post("/v1/me/family/invite", json={"email": teen["email"]}),
            401, "UNAUTHORIZED")


def test_only_an_active_relationship_shows_the_child_to_the_guardian(server, cast):
    g, teen = cast["guardian"], cast["teen"]
    # 14 in GB is over the consent age (13): the teen records their own data.
    r = server.post("/v1/recordings", headers=hdr(teen), json={"data_type_id": HRV})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    invited(server, g, teen["email"])
    (rel,) = pending_of(server, teen)
    # Pending: nothing of the teen's.
    problem(server.get(f"/v1/users/{teen['id']}", headers=hdr(g)), 404, "NOT_FOUND")
    problem(server.get(f"/v1/recordings/{rid}", headers=hdr(g)), 404, "NOT_FOUND")
    listed = server.get("/v1/recordings", headers=hdr(g)).json()["data"]
    assert rid not in [x["id"] for x in listed]
    # The inviter cannot act on an invitation they cannot see.
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(g)),
            404, "NOT_FOUND")
    # The teen accepts in the app: their own consent suffices.
    r = server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(teen))
    assert r.status_code == 200, r.text
    active = r.json()
    assert active["status"] == "active" and active["consent_method"] == "in_app"
    assert active["consent_by"] == teen["id"]
    assert server.get(f"/v1/users/{teen['id']}", headers=hdr(g)).status_code == 200
    assert server.get(f"/v1/recordings/{rid}", headers=hdr(g)).status_code == 200
    listed = server.get("/v1/recordings", headers=hdr(g)).json()["data"]
    assert rid in [x["id"] for x in listed]
    assert [x["id"] for x in rels(server, g)] == [rel["id"]]
    # Someone else still sees nothing.
    problem(server.get(f"/v1/recordings/{rid}", headers=hdr(cast["other"])), 404, "NOT_FOUND")
    assert actions(server, rel["id"]) == ["relationships.create", "relationships.consent"]


def test_an_invitee_declines(server, cast):
    g, teen = cast["guardian"], cast["teen"]
    invited(server, g, teen["email"])
    (rel,) = pending_of(server, teen)
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(teen))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ended"
    assert actions(server, rel["id"]) == ["relationships.create", "relationships.decline"]
    problem(server.get(f"/v1/users/{teen['id']}", headers=hdr(g)), 404, "NOT_FOUND")
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(teen)),
            409, "CONFLICT")


def test_a_guardian_makes_their_childs_account_with_consent(server, cast):
    g = cast["guardian"]
    email = "kit.child@example.org"
    r = make_child(server, g, first_name="Kit", last_name="Guardian",
                   date_of_birth=years_ago(8), email=email)
    assert r.status_code == 201, r.text
    body = r.json()
    child, rel = body["user"], body["relationship"]
    assert child["first_name"] == "Kit" and child["country"] == "GB"   # the guardian's
    assert rel["lead_id"] == g["id"] and rel["follower_id"] == child["id"]
    assert rel["kind"] == "guardian_of" and rel["status"] == "active"
    assert rel["consent_method"] == "in_app" and rel["consent_by"] == g["id"]
    assert rel["consent_at"] is not None
    assert server.get(f"/v1/users/{child['id']}", headers=hdr(g)).status_code == 200
    assert actions(server, rel["id"]) == ["relationships.create"]
    # The child sets a password through the welcome mail and may hold health data.
    wait_until(lambda: server.db.count("email_log", "template = 'family_welcome' AND "
                                       f"user_id = '{child['id']}'") == 1,
               what="the welcome mail")
    kid = child_signs_in(server, child["id"], email)
    r = server.get("/v1/me/health-consent", headers=hdr(kid))
    assert r.json() == {"allowed": True, "reason": "guardian_consent"}
    r = server.post("/v1/recordings", headers=hdr(kid), json={"data_type_id": HRV})
    assert r.status_code == 201, r.text
    assert server.get(f"/v1/recordings/{r.json()['id']}", headers=hdr(g)).status_code == 200
    # Without an address: an account with no sign-in yet.
    r = make_child(server, g, first_name="Bo", date_of_birth=years_ago(3))
    assert r.status_code == 201, r.text
    assert r.json()["user"]["email"] is None


def test_a_childs_welcome_carries_no_address_of_their_guardians(start_server):
    """A child's welcome is a reset link their guardian asked for: the
    address that asked is the guardian's, not the child's, so neither the
    queued job's payload nor the child's reset row holds one."""
    s = start_server(env={"CAREBASE_JOB_WORKERS": "0"})
    g = person(s, "guardian", date_of_birth=years_ago(40), country="GB")
    r = make_child(s, g, first_name="Kit", date_of_birth=years_ago(8),
                   email="kit.welcome@example.org")
    assert r.status_code == 201, r.text
    child = r.json()["user"]["id"]
    [(payload,)] = s.db.query("SELECT payload FROM jobs WHERE kind = 'people.password_reset'")
    assert set(json.loads(payload)) == {"email", "template"}, payload
    s.spawn("worker")
    wait_until(lambda: s.db.count("password_resets", f"user_id = '{child}'") == 1,
               what="the welcome mail's reset link")
    assert s.db.count("password_resets", f"user_id = '{child}' AND ip IS NULL") == 1


def test_a_childs_account_is_refused_with_a_stable_code(server, cast):
    g, teen = cast["guardian"], cast["teen"]
    # Over the consent age of their country: they consent; invite them instead.
    body = problem(make_child(server, g, first_name="Al", date_of_birth=years_ago(15)),
                   422, "OVER_CONSENT_AGE")
    assert "/v1/me/family/invite" in body["detail"]
    # 14 is under 16 in DE: the child's country decides.
    r = make_child(server, g, first_name="Lu", date_of_birth=years_ago(14), country="DE")
    assert r.status_code == 201, r.text
    problem(make_child(server, g, first_name="Al"), 422, "VALIDATION_FAILED")
    problem(make_child(server, g, date_of_birth=years_ago(5)), 422, "VALIDATION_FAILED")
    problem(make_child(server, g, first_name="Al", date_of_birth="yesterday"),
            422, "VALIDATION_FAILED")
    # A date that is no date (31 February) is refused like a bad format.
    problem(make_child(server, g, first_name="Al", date_of_birth="2019-02-31"),
            422, "VALIDATION_FAILED")
    problem(make_child(server, g, first_name="Al", date_of_birth=years_ago(5), role="admin"),
            422, "VALIDATION_FAILED")
    problem(make_child(server, g, first_name="Al", date_of_birth=years_ago(5),
                       email=teen["email"]), 409, "EMAIL_TAKEN")
    # Only an adult known to be over the age adds a child.
    problem(make_child(server, teen, first_name="Al", date_of_birth=years_ago(5)),
            403, "ADULT_REQUIRED")
    problem(invite(server, teen, cast["other"]["email"]), 403, "ADULT_REQUIRED")
    nodob = person(server, "nodob", date_of_birth=None)
    problem(make_child(server, nodob, first_name="Al", date_of_birth=years_ago(5)),
            403, "DATE_OF_BIRTH_REQUIRED")
    problem(invite(server, nodob, teen["email"]), 403, "DATE_OF_BIRTH_REQUIRED")


def test_a_second_guardian_of_a_young_child_needs_the_first_ones_acceptance(server, cast):
    g, second, other = cast["guardian"], cast["second"], cast["other"]
    email = "ziggy.child@example.org"
    r = make_child(server, g, first_name="Ziggy", date_of_birth=years_ago(9), email=email)
    assert r.status_code == 201, r.text
    kid = child_signs_in(server, r.json()["user"]["id"], email)
    invited(server, second, email)
    (rel,) = pending_of(server, kid)
    assert rel["lead_id"] == second["id"]
    # The child is under the age: their consent is not enough.
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(kid)),
            403, "CONSENT_REQUIRED")
    # Not the inviter's, nor a stranger's; the first guardian sees it.
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(second)),
            404, "NOT_FOUND")
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(other)),
            404, "NOT_FOUND")
    assert rel["id"] in [x["id"] for x in rels(server, g)]
    problem(server.get(f"/v1/users/{kid['id']}", headers=hdr(second)), 404, "NOT_FOUND")
    r = server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(g))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active"
    assert r.json()["consent_by"] == g["id"] and r.json()["consent_method"] == "in_app"
    assert server.get(f"/v1/users/{kid['id']}", headers=hdr(second)).status_code == 200
    # A third adult's invitation: a guardian declines it.
    invited(server, other, email)
    (third,) = pending_of(server, kid)
    r = server.post(f"/v1/relationships/{third['id']}/end", headers=hdr(second))
    assert r.status_code == 200, r.text
    assert actions(server, third["id"]) == ["relationships.create", "relationships.decline"]
    # An active guardian's relationship is not another guardian's to end.
    problem(server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(g)),
            403, "FORBIDDEN")


def test_a_child_over_the_age_decides_alone(server, cast):
    g, second, teen = cast["guardian"], cast["second"], cast["teen"]
    invited(server, g, teen["email"])
    (first,) = pending_of(server, teen)
    assert server.post(f"/v1/relationships/{first['id']}/consent",
                       headers=hdr(teen)).status_code == 200
    invited(server, second, teen["email"])
    (rel,) = pending_of(server, teen)
    # The existing guardian is not asked: they do not even see it.
    problem(server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(g)),
            404, "NOT_FOUND")
    r = server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(teen))
    assert r.status_code == 200, r.text
    assert r.json()["consent_by"] == teen["id"]


def test_invitations_are_bounded_and_expire(start_server):
    srv = start_server(env={"CAREBASE_FAMILY_INVITES_MAX": "2"})
    g = person(srv, "guardian", date_of_birth=years_ago(40))
    teen = person(srv, "teen", date_of_birth=years_ago(14))
    invited(srv, g, teen["email"])
    invited(srv, g, "nobody.here@example.org")
    # Two open, whichever found an account: the third is refused alike.
    for r in (invite(srv, g, "someone.else@example.org"),
              make_child(srv, g, first_name="Al", date_of_birth=years_ago(5))):
        problem(r, 429, "TOO_MANY_INVITATIONS")
        assert int(r.headers["Retry-After"]) > 0
    # An answer frees one.
    (rel,) = pending_of(srv, teen)
    assert srv.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(teen)).status_code == 200
    r = make_child(srv, g, first_name="Al", date_of_birth=years_ago(5))
    assert r.status_code == 201, r.text
    problem(invite(srv, g, "someone.else@example.org"), 429, "TOO_MANY_INVITATIONS")
    # Past family_invite_ttl_s an invitation stops counting, and cannot be
    # accepted; inviting again opens it again.
    other = person(srv, "other", date_of_birth=years_ago(40))
    teen2 = person(srv, "teen2", date_of_birth=years_ago(15))
    invited(srv, other, teen2["email"])
    invited(srv, other, "nobody.there@example.org")
    (stale,) = pending_of(srv, teen2)
    old = 1000 * 15 * 86400
    srv.db.execute(f"UPDATE family_invites SET created_at = created_at - {old} "
                   f"WHERE lead_id = '{other['id']}'")
    srv.db.execute(f"UPDATE relationships SET created_at = created_at - {old} "
                   f"WHERE id = '{stale['id']}'")
    problem(srv.post(f"/v1/relationships/{stale['id']}/consent", headers=hdr(teen2)),
            409, "INVITATION_EXPIRED")
    invited(srv, other, teen2["email"])
    r = srv.post(f"/v1/relationships/{stale['id']}/consent", headers=hdr(teen2))
    assert r.status_code == 200, r.text
    assert actions(srv, stale["id"]) == ["relationships.create", "relationships.create",
                                         "relationships.consent"]


def test_erasure_removes_invitations_and_relationships(server, cast):
    g, teen = cast["guardian"], cast["teen"]
    invited(server, g, teen["email"])
    (rel,) = pending_of(server, teen)
    r = make_child(server, g, first_name="Kit", date_of_birth=years_ago(6))
    assert r.status_code == 201, r.text
    kid = r.json()["user"]["id"]
    assert server.db.count("family_invites", f"lead_id = '{g['id']}'") == 2
    r = server.request("DELETE", "/v1/me", headers=hdr(g), json={"password": PASSWORD})
    assert r.status_code == 204, r.text
    assert server.db.count("family_invites", f"lead_id = '{g['id']}'") == 0
    assert server.db.count("relationships",
                           f"lead_id = '{g['id']}' OR follower_id = '{g['id']}'") == 0
    assert pending_of(server, teen) == []
    assert kid  # the child's account stays; an admin decides what becomes of it


def undo_from_0030(db):
    """As `carebase migrate down` to 0029 would, with the server stopped:
    0030 and every migration above it taken out, the last first."""
    names = sorted((p.name[:-len(".down.sql")] for p in
                    (ROOT / "migrations" / db.kind).glob("*.down.sql")
                    if p.name >= "0030"), reverse=True)
    for name in names:
        if db.count("schema_migrations", f"name = '{name}'"):
            undo_migration(db, name)
    assert "family_invites" not in db.tables()


def test_with_0030_undone_erasure_still_works_and_families_wait(start_server, db):
    srv = start_server(db=db)
    g = person(srv, "guardian", date_of_birth=years_ago(40))
    h = person(srv, "other", date_of_birth=years_ago(40))
    srv.stop()
    undo_from_0030(db)
    srv.start(migrate=False)
    # Erasure and export skip the missing table (nothing of theirs in it).
    r = srv.get("/v1/me/export", headers=hdr(g))
    assert r.status_code == 200, r.text
    rows = r.json()["family_invites"]
    assert (rows["data"] if isinstance(rows, dict) else rows) == []
    r = srv.request("DELETE", "/v1/me", headers=hdr(g), json={"password": PASSWORD})
    assert r.status_code in (200, 204), r.text
    assert srv.db.count("users", f"id = '{g['id']}' AND deleted_at IS NOT NULL") == 1
    # The family routes say why they wait.
    problem(make_child(srv, h, first_name="Al", date_of_birth=years_ago(5)),
            503, "MIGRATIONS_PENDING")
    problem(invite(srv, h, "someone@example.org"), 503, "MIGRATIONS_PENDING")


def test_with_0037_pending_relationships_are_read_and_made_without_its_column(
        start_server, db):
    """A rolling upgrade: this binary started on a database where 0030 is
    applied and 0037 not yet (guardians_answer missing). Relationships are
    listed, read and made all the same (the child's other guardians see its
    active rows only meanwhile), no 500; the family routes wait (503)."""
    srv = start_server(db=db)
    admin = person(srv, "admin", "admin")
    g = person(srv, "guardian", date_of_birth=years_ago(40), country="GB")
    h = person(srv, "second", date_of_birth=years_ago(42), country="GB")
    kid = person(srv, "kid", date_of_birth=years_ago(8), country="GB")
    r = srv.post("/v1/relationships", headers=hdr(admin),
                 json={"lead_id": g["id"], "follower_id": kid["id"], "kind": "guardian_of"})
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    assert srv.post(f"/v1/relationships/{first}/consent",
                    headers=hdr(admin)).status_code == 200
    srv.stop()
    names = sorted((p.name[:-len(".down.sql")] for p in
                    (ROOT / "migrations" / db.kind).glob("*.down.sql")
                    if p.name >= "0037"), reverse=True)
    for name in names:
        if db.count("schema_migrations", f"name = '{name}'"):
            undo_migration(db, name)
    assert db.count("schema_migrations", "name LIKE '0030%'") == 1
    srv.start(migrate=False)
    r = srv.get("/v1/relationships", headers=hdr(g))
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()["data"]] == [first]
    r = srv.post("/v1/relationships", headers=hdr(admin),
                 json={"lead_id": h["id"], "follower_id": kid["id"], "kind": "guardian_of"})
    assert r.status_code == 201, r.text
    second = r.json()["id"]
    r = srv.get("/v1/relationships", headers=hdr(admin))
    assert r.status_code == 200, r.text
    assert {first, second} <= {x["id"] for x in r.json()["data"]}
    r = srv.get(f"/v1/relationships/{second}", headers=hdr(h))
    assert r.status_code == 200, r.text
    # The other guardian sees the child's active row, not the pending one.
    assert [x["id"] for x in rels(srv, g)] == [first]
    problem(srv.get(f"/v1/relationships/{second}", headers=hdr(g)), 404, "NOT_FOUND")
    assert "event=relationships_narrowed" in srv.log()
    problem(invite(srv, g, "someone@example.org"), 503, "MIGRATIONS_PENDING")


# --------------------------------------------------------------------------
# The review's findings (issue 15 item 12, second round)


def withdraw(server, who, invite_id):
    return server.post(f"/v1/me/family/invites/{invite_id}/withdraw", headers=hdr(who))


def export_of(server, who):
    r = server.get("/v1/me/export", headers=hdr(who))
    assert r.status_code == 200, r.text
    return r.json()


def rows_of(section):
    return section["data"] if isinstance(section, dict) else section


def test_an_adults_invitations_are_theirs_alone_and_an_ended_pair_is_invited_again(
        server, cast):
    g, second, teen = cast["guardian"], cast["second"], cast["teen"]
    invited(server, g, teen["email"])
    (first,) = pending_of(server, teen)
    assert server.post(f"/v1/relationships/{first['id']}/consent",
                       headers=hdr(teen)).status_code == 200
    invited(server, second, teen["email"])
    (rel,) = pending_of(server, teen)
    # The teen (over the consent age) decides alone: their guardian neither
    # sees the invitation nor declines it for them.
    assert rel["id"] not in [x["id"] for x in rels(server, g)]
    problem(server.get(f"/v1/relationships/{rel['id']}", headers=hdr(g)), 404, "NOT_FOUND")
    problem(server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(g)),
            404, "NOT_FOUND")
    # Declined, the pair is not barred for ever: a new invitation opens the
    # same row again, pending and hidden from its inviter as a new one is.
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(teen))
    assert r.status_code == 200, r.text
    assert [x["status"] for x in rels(server, second)] == ["ended"]   # answered
    invited(server, second, teen["email"])
    (again,) = pending_of(server, teen)
    assert again["id"] == rel["id"]
    assert again["consent_at"] is None and again["ended_at"] is None
    assert rels(server, second) == []
    r = server.post(f"/v1/relationships/{rel['id']}/consent", headers=hdr(teen))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "active" and r.json()["consent_by"] == teen["id"]
    assert actions(server, rel["id"]) == ["relationships.create", "relationships.decline",
                                          "relationships.create", "relationships.consent"]
    # Ended later by its lead: invited again too.
    assert server.post(f"/v1/relationships/{first['id']}/end",
                       headers=hdr(g)).status_code == 200
    invited(server, g, teen["email"])
    (back,) = pending_of(server, teen)
    assert back["id"] == first["id"] and back["consent_by"] is None


def test_a_childs_welcome_names_the_guardian_and_its_owner_can_refuse_the_address(
        start_server, smtp_sink):
    srv = start_server(env={**smtp_env(smtp_sink.port),
                            "CAREBASE_PUBLIC_URL": "https://app.example.test"})
    g = person(srv, "guardian", first_name="Gwen", last_name="Parent",
               date_of_birth=years_ago(40))

    def mail_to(address):
        # but the verification the guardian got when signing up
        def of():
            return [m for m in smtp_sink.messages() if address in str(m["To"])
                    and "Confirm your address" not in str(m["Subject"])]
        wait_until(of, timeout=15, what=f"mail to {address}")
        return of()

    # A grown-up's address, not yet an account's, given for a child.
    addr = "somebody.grown@example.org"
    r = make_child(srv, g, first_name="Kit", date_of_birth=years_ago(8), email=addr)
    assert r.status_code == 201, r.text
    child = r.json()["user"]["id"]
    (welcome,) = mail_to(addr)
    text = welcome.get_body(("plain",)).get_content()
    # It names who made the account, its set-password link lives as long
    # as a reset link (30 minutes), and it offers a way out.
    assert "Gwen Parent" in str(welcome["Subject"]) and "Gwen Parent" in text, text
    assert "within 30 minutes" in text, text
    assert re.search(r"https://app\.example\.test/reset-password\?token=[A-Za-z0-9_-]{43}",
                     text), text
    (span,) = srv.db.query(f"SELECT expires_at - created_at FROM password_resets "
                           f"WHERE user_id = '{child}'")
    assert int(span[0]) == 1800 * 1000
    m = re.search(r"https://app\.example\.test/not-me\?token=([A-Za-z0-9_-]{43})", text)
    assert m, text
    token = m.group(1)
    assert srv.db.count("family_invites", f"refusal_hash = '{token}'") == 0   # hashed
    problem(srv.post("/v1/auth/family-welcome/refuse", json={"token": "A" * 43}),
            422, "INVALID_TOKEN")
    # The address's owner refuses it: it is taken off the child's account
    # (its set-password link with it, and anything it proved: here an
    # address taken as proven and a verification link open), and the
    # guardian is told.
    srv.db.execute(f"UPDATE users SET email_verified_at = 1 WHERE id = '{child}'")
    srv.db.execute("INSERT INTO email_tokens (id, user_id, purpose, token_hash, created_at, "
                   f"expires_at) VALUES ('{uuid.uuid4()}', '{child}', 'verify_email', "
                   f"'{'0' * 64}', 0, 9999999999999)")
    r = srv.post("/v1/auth/family-welcome/refuse", json={"token": token},
                 headers={"User-Agent": "Zyxrefuser/1"})
    assert r.status_code == 204, r.text
    assert srv.db.count("users", f"id = '{child}' AND email IS NULL AND "
                        "email_index IS NULL AND password_hash IS NULL AND "
                        "email_verified_at IS NULL") == 1
    assert srv.db.count("email_tokens", f"user_id = '{child}' AND used_at IS NULL") == 0
    # Whoever refused is not the child: their address and agent are not
    # sealed into the child's name (nor in their export), only indexed.
    admin = person(srv, "admin", "admin")
    r = srv.get(f"/v1/users/{child}/export", headers=hdr(admin))
    assert r.status_code == 200, r.text
    assert "Zyxrefuser/1" not in json.dumps(r.json().get("audit_log")), r.json()["audit_log"]
    ((ip, agent),) = srv.db.query("SELECT ip, user_agent FROM audit_log WHERE "
                                  "action = 'users.email_refused'")
    assert ip.startswith("index:") and agent.startswith("index:"), (ip, agent)
    assert srv.db.count("password_resets", f"user_id = '{child}'") == 0
    r = srv.get(f"/v1/users/{child}", headers=hdr(g))
    assert r.status_code == 200 and r.json()["email"] is None, r.text
    assert "users.email_refused" in actions(srv, child)
    (told,) = mail_to(g["email"])
    assert "Kit" in told.get_body(("plain",)).get_content()
    # The address is free for its owner; the link worked once.
    assert register(srv, addr).status_code == 201
    problem(srv.post("/v1/auth/family-welcome/refuse", json={"token": token}),
            422, "INVALID_TOKEN")


def test_a_taken_address_counts_against_the_bound(start_server):
    srv = start_server(env={"CAREBASE_FAMILY_INVITES_MAX": "2"})
    g = person(srv, "guardian", date_of_birth=years_ago(40))
    taken = person(srv, "adult", date_of_birth=years_ago(30))
    for _ in range(2):
        problem(make_child(srv, g, first_name="Al", date_of_birth=years_ago(5),
                           email=taken["email"]), 409, "EMAIL_TAKEN")
    # Each refusal was counted as an account made: no more probes, and no
    # more accounts, until they stop counting.
    for email in (taken["email"], "free.address@example.org"):
        r = make_child(srv, g, first_name="Al", date_of_birth=years_ago(5), email=email)
        problem(r, 429, "TOO_MANY_INVITATIONS")
        assert int(r.headers["Retry-After"]) > 0
    assert srv.db.count("users", f"created_by = '{g['id']}'") == 0
    assert srv.db.count("audit_log", "action = 'family.email_taken'") == 2


def test_a_young_child_declines_an_invitation(server, cast):
    g, second = cast["guardian"], cast["second"]
    email = "pip.child@example.org"
    r = make_child(server, g, first_name="Pip", date_of_birth=years_ago(9), email=email)
    assert r.status_code == 201, r.text
    kid = child_signs_in(server, r.json()["user"]["id"], email)
    mine = r.json()["relationship"]
    # Under the consent age, the child still declines an invitation.
    invited(server, second, email)
    (rel,) = pending_of(server, kid)
    r = server.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(kid))
    assert r.status_code == 200, r.text
    assert actions(server, rel["id"]) == ["relationships.create", "relationships.decline"]
    # Their guardian's active relationship is still not theirs to end.
    problem(server.post(f"/v1/relationships/{mine['id']}/end", headers=hdr(kid)),
            403, "FORBIDDEN")


def test_invitations_nobody_answers_expire_nightly(server, cast):
    g, second, other = cast["guardian"], cast["second"], cast["other"]
    email = "pim.child@example.org"
    r = make_child(server, g, first_name="Pim", date_of_birth=years_ago(9), email=email)
    assert r.status_code == 201, r.text
    kid = child_signs_in(server, r.json()["user"]["id"], email)
    # An invitation nobody answers ends in the night after its time; a
    # fresh one stays.
    invited(server, other, email)
    invited(server, second, email)
    stale = next(x for x in pending_of(server, kid) if x["lead_id"] == other["id"])
    fresh = next(x for x in pending_of(server, kid) if x["lead_id"] == second["id"])
    old = 1000 * 15 * 86400
    server.db.execute(f"UPDATE relationships SET created_at = created_at - {old} "
                      f"WHERE id = '{stale['id']}'")
    queue_job(server.db, "people.family_expire")
    wait_until(lambda: server.db.count("jobs", "kind = 'people.family_expire'") == 0,
               timeout=15, what="the nightly family job")
    assert server.db.scalar(f"SELECT status FROM relationships WHERE id = '{stale['id']}'") \
        == "ended"
    assert actions(server, stale["id"]) == ["relationships.create", "relationships.expire"]
    assert [x["id"] for x in pending_of(server, kid)] == [fresh["id"]]
    # Expired, not answered: its inviter still learns nothing of the address.
    assert rels(server, other) == []
    assert server.db.count("failed_jobs", "kind = 'people.family_expire'") == 0
    # A child who comes of age answers alone from the next night on.
    assert fresh["id"] in [x["id"] for x in rels(server, g)]
    r = server.request("PATCH", f"/v1/users/{kid['id']}", headers=hdr(cast["admin"]),
                       json={"date_of_birth": years_ago(15)})
    assert r.status_code == 200, r.text
    queue_job(server.db, "people.family_expire")
    wait_until(lambda: server.db.count("jobs", "kind = 'people.family_expire'") == 0,
               timeout=15, what="the nightly family job")
    assert fresh["id"] not in [x["id"] for x in rels(server, g)]


def test_staff_accounts_are_never_invited(server, cast):
    g = cast["guardian"]
    therapist = person(server, "thera", "therapist")
    for staff in (cast["admin"], therapist):
        r = invite(server, g, staff["email"])
        assert r.status_code == 202, r.text
    jobs_done(server)
    assert server.db.count("relationships", f"follower_id IN ('{cast['admin']['id']}', "
                           f"'{therapist['id']}')") == 0
    assert server.db.count("email_log", "template = 'family_invitation'") == 0


def test_the_inviter_withdraws_an_invitation(start_server):
    srv = start_server(env={"CAREBASE_FAMILY_INVITES_MAX": "2"})
    g = person(srv, "guardian", date_of_birth=years_ago(40))
    teen = person(srv, "teen", date_of_birth=years_ago(14))
    other = person(srv, "other", date_of_birth=years_ago(40))
    a = invited(srv, g, teen["email"])
    b = invited(srv, g, "nobody.here@example.org")
    (rel,) = pending_of(srv, teen)
    # Withdrawn alike, whether or not the address had an account.
    for r in (a, b):
        w = withdraw(srv, g, r.json()["id"])
        assert w.status_code == 204, w.text
    assert pending_of(srv, teen) == []
    (ended,) = rels(srv, teen)
    assert ended["id"] == rel["id"] and ended["status"] == "ended"
    assert rels(srv, g) == []
    assert actions(srv, rel["id"]) == ["relationships.create", "relationships.withdraw"]
    mine = [x for x in export_of(srv, g)["audit_log"] if x["action"] == "family.withdraw"]
    assert len(mine) == 2
    # Again: nothing changes. Not another's, nor what is not there.
    assert withdraw(srv, g, a.json()["id"]).status_code == 204
    problem(withdraw(srv, other, a.json()["id"]), 404, "NOT_FOUND")
    problem(withdraw(srv, g, str(uuid.uuid4())), 404, "NOT_FOUND")
    problem(withdraw(srv, g, "not-an-id"), 404, "NOT_FOUND")
    # A withdrawal frees no place: inviting and withdrawing mails nobody
    # without end.
    problem(invite(srv, g, "someone.else@example.org"), 429, "TOO_MANY_INVITATIONS")
    # A child's account is not an invitation.
    r = make_child(srv, other, first_name="Al", date_of_birth=years_ago(5))
    assert r.status_code == 201, r.text
    (fid,) = srv.db.query(f"SELECT id FROM family_invites WHERE lead_id = '{other['id']}'")
    problem(withdraw(srv, other, fid[0]), 409, "NOT_AN_INVITATION")
    # Invited again later, it opens again.
    invited(srv, other, teen["email"])
    assert len(pending_of(srv, teen)) == 1


def test_a_guardians_export_names_no_other_guardian(server, cast):
    g, second = cast["guardian"], cast["second"]
    email = "ivy.child@example.org"
    r = make_child(server, g, first_name="Ivy", date_of_birth=years_ago(9), email=email)
    assert r.status_code == 201, r.text
    kid = child_signs_in(server, r.json()["user"]["id"], email)
    invited(server, second, email)
    (rel,) = pending_of(server, kid)
    assert server.post(f"/v1/relationships/{rel['id']}/consent",
                       headers=hdr(g)).status_code == 200
    # In the app each guardian sees the other's relationship with the child.
    assert len(rels(server, g)) == 2
    # Their export holds their own only; the child's, both.
    mine = rows_of(export_of(server, g)["relationships"])
    assert [x["lead_id"] for x in mine] == [g["id"]], mine
    assert second["id"] not in json.dumps(mine)
    theirs = rows_of(export_of(server, kid)["relationships"])
    assert sorted(x["lead_id"] for x in theirs) == sorted([g["id"], second["id"]])


def test_a_childs_country_must_be_a_country(server, cast):
    g = cast["guardian"]
    # 15 is over GB's consent age (13) but under the default (16): an
    # unknown code must not stand for the default.
    body = problem(make_child(server, g, first_name="Al", date_of_birth=years_ago(15),
                              country="ZZ"), 422, "VALIDATION_FAILED")
    assert [e["field"] for e in body["errors"]] == ["country"], body
    r = make_child(server, g, first_name="Al", date_of_birth=years_ago(15), country="de")
    assert r.status_code == 201, r.text


def test_a_reopened_invitation_counts_once(start_server):
    srv = start_server(env={"CAREBASE_FAMILY_INVITES_MAX": "2"})
    g = person(srv, "guardian", date_of_birth=years_ago(40))
    teen = person(srv, "teen", date_of_birth=years_ago(14))
    invited(srv, g, teen["email"])
    (rel,) = pending_of(srv, teen)
    assert srv.post(f"/v1/relationships/{rel['id']}/end", headers=hdr(teen)).status_code == 200
    # Declined, then invited again: the pair's one row is pending again,
    # and only the newer invitation holds a place.
    invited(srv, g, teen["email"])
    assert [x["id"] for x in pending_of(srv, teen)] == [rel["id"]]
    invited(srv, g, "nobody.here@example.org")
    problem(invite(srv, g, "nobody.there@example.org"), 429, "TOO_MANY_INVITATIONS")
