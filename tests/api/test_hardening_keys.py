"""Issue 14, item 5: an erasure is seen by every process at once.

Each process keeps unwrapped data keys in memory for a few seconds. A
destroyed key adds one to user_key_epoch, and a cached key is used only
while the epoch read in the request's transaction is the one it was
loaded under. Two `carebase serve` processes share one database: a
person erased through one is unreadable through the other at its next
request, not ten seconds later."""

import secrets

PW = "violet harbour engine 2044"


def hdr(token):
    return {"Authorization": f"Bearer {token}"}


def login(srv, email):
    r = srv.post("/v1/auth/login", json={"email": email, "password": PW})
    assert r.status_code == 200, r.text
    return r.json()["token"]


def staff(srv, role):
    email = f"{role}.{secrets.token_hex(3)}@example.org"
    r = srv.cli("user", "add", f"--role={role}", f"--email={email}", f"--password={PW}")
    assert r.returncode == 0, r.stdout + r.stderr
    token = login(srv, email)
    return {"token": token, "id": srv.get("/v1/me", headers=hdr(token)).json()["id"]}


def test_an_erasure_through_one_process_is_seen_by_another_at_once(start_server):
    a = start_server()
    b = start_server(db=a.db, migrate=False)      # same database and master key
    admin, therapist = staff(a, "admin"), staff(a, "therapist")
    email = f"client.{secrets.token_hex(3)}@example.org"
    r = a.post("/v1/auth/register", json={"email": email, "password": PW,
                                          "accept_terms": True, "first_name": "Clementine",
                                          "date_of_birth": "1990-01-01", "country": "GB"})
    assert r.status_code == 201, r.text
    client = {"token": login(a, email), "id": r.json()["id"]}
    r = a.post("/v1/relationships", headers=hdr(admin["token"]),
               json={"lead_id": therapist["id"], "follower_id": client["id"],
                     "kind": "practitioner_of"})
    assert r.status_code == 201, r.text
    r = a.post(f"/v1/relationships/{r.json()['id']}/consent", headers=hdr(admin["token"]),
               json={"method": "signed_form"})
    assert r.status_code == 200, r.text
    r = a.post("/v1/therapists", headers=hdr(admin["token"]),
               json={"user_id": therapist["id"], "bio": "CBT."})
    assert r.status_code == 201, r.text
    marker = "note-" + secrets.token_hex(6)
    r = a.post("/v1/therapy-sessions", headers=hdr(admin["token"]),
               json={"therapist_id": r.json()["id"], "client_id": client["id"],
                     "start_time": "2031-03-03T09:00:00.000Z",
                     "end_time": "2031-03-03T10:00:00.000Z", "type": "regular",
                     "format": "video", "shared_notes": marker})
    assert r.status_code == 201, r.text
    session = r.json()["id"]

    # Process b reads the client's sealed fields: their key is in its cache.
    r = b.get(f"/v1/therapy-sessions/{session}", headers=hdr(admin["token"]))
    assert r.status_code == 200 and r.json()["shared_notes"] == marker, r.text
    r = b.get(f"/v1/users/{client['id']}", headers=hdr(admin["token"]))
    assert r.status_code == 200 and r.json()["first_name"] == "Clementine", r.text

    # Erased through a ...
    r = a.request("DELETE", "/v1/me", headers=hdr(client["token"]), json={"password": PW})
    assert r.status_code == 204, r.text

    # ... and at once nothing of them opens through b.
    r = b.get(f"/v1/therapy-sessions/{session}", headers=hdr(admin["token"]))
    assert r.status_code == 200, r.text
    assert r.json()["shared_notes"] is None and marker not in r.text, r.text
    assert b.get(f"/v1/users/{client['id']}", headers=hdr(admin["token"])).status_code == 404
    assert b.get("/v1/me", headers=hdr(client["token"])).status_code == 401
    r = b.get("/v1/therapy-sessions", headers=hdr(admin["token"]))
    assert r.status_code == 200 and marker not in r.text, r.text
    assert int(a.db.scalar("SELECT epoch FROM user_key_epoch")) >= 1
