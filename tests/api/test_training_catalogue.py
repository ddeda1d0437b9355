"""The training catalogue (issue 16 part 1): training courses (type and
length agree with UK practice), venues, trainers, course materials and
course schedules (capacity limits, the trainer's qualification, no overlap,
also under concurrent writes; status moved only by actions). Anyone reads
active courses, active venues and upcoming schedules without a token;
writes are admins' and audited. Runs on SQLite and PostgreSQL."""

import concurrent.futures
import datetime
import json
import threading
from zoneinfo import ZoneInfo

import pytest
import requests

from conftest import at, hdr, person, problem
from training_helpers import EFAW, FAW, PAEDIATRIC, schedule, trainer, training_course, venue

MISSING = "01a20000-0000-7000-8000-000000000000"


def listed(server, path, who=None):
    """The ids a GET of path lists, without a token unless who is given."""
    r = server.get(path, headers=hdr(who) if who is not None else {})
    assert r.status_code == 200, r.text
    return {x["id"] for x in r.json()["data"]}


def made(server, catalogue, start=0, hours=7, by="trainer", **extra):
    """A schedule of the catalogue's course and venue by admin, which must
    be made: start hours after 2031-03-03 09:00 UTC, hours long."""
    c = catalogue
    r = schedule(server, c["admin"], c["course"], c["venue"], c[by], at(start),
                 at(start + hours), **extra)
    assert r.status_code == 201, r.text
    return r.json()


def act(server, who, sched, verb):
    return server.post(f"/v1/course-schedules/{sched['id']}/{verb}", headers=hdr(who))


def begun(db, sched, years=6):
    """Move sched years back, as time passing would: it has started."""
    back = years * 365 * 86400000
    db.execute(f"UPDATE course_schedules SET start_time = start_time - {back}, "
               f"end_time = end_time - {back} WHERE id = '{sched['id']}'")


def test_schema_and_the_roles_permissions(server, db):
    tables = set(db.tables())
    for t in ("training_courses", "venues", "trainers", "course_materials",
              "course_schedules"):
        assert t in tables
    for perm in ("training_courses:create:all", "venues:update:all", "trainers:delete:all",
                 "course_materials:create:all", "course_schedules:update:all"):
        assert db.count("role_permissions", f"role = 'admin' AND permission = '{perm}'") == 1
    assert db.count("role_permissions", "role = 'instructor' AND permission = "
                    "'course_schedules:read:all'") == 1
    assert db.count("role_permissions", "role = 'instructor' AND permission LIKE "
                    "'%:create:%' AND permission LIKE 'course_%'") == 0
    assert db.count("role_permissions", "role = 'member' AND (permission LIKE "
                    "'training_courses:%' OR permission LIKE 'course_schedules:%')") == 0


# (fields, status, field named, its code): the type sets the length for
# EFAW, FAW and Paediatric; requalification and refresher are free.
COURSE_CASES = [
    (EFAW, 201, None, None),
    (FAW, 201, None, None),
    (PAEDIATRIC, 201, None, None),
    ({"course_type": "refresher", "duration_hours": 3, "duration_days": 1}, 201, None, None),
    ({"course_type": "requalification", "duration_hours": 12, "duration_days": 2}, 201,
     None, None),
    ({**EFAW, "duration_hours": 7}, 422, "duration_hours", "course_type_mismatch"),
    ({**EFAW, "duration_days": 2}, 422, "duration_days", "course_type_mismatch"),
    ({**FAW, "duration_hours": 12}, 422, "duration_hours", "course_type_mismatch"),
    ({**FAW, "duration_days": 2}, 422, "duration_days", "course_type_mismatch"),
    ({**PAEDIATRIC, "duration_hours": 6}, 422, "duration_hours", "course_type_mismatch"),
    ({"course_type": "refresher", "duration_hours": 30, "duration_days": 1}, 422,
     "duration_hours", "too_large"),
    ({**EFAW, "course_type": "BLS"}, 422, "course_type", "not_in_choices"),
    ({**EFAW, "currency": "gbp"}, 422, "currency", "invalid_format"),
    ({**EFAW, "currency": "GB1"}, 422, "currency", "invalid_format"),
    ({**EFAW, "price_minor": -1}, 422, "price_minor", "too_small"),
    ({**EFAW, "price_minor": 75.5}, 422, "price_minor", "type"),
]


def test_course_type_and_length_agree_with_uk_practice(server, db):
    admin = person(server, "admin", "admin")
    for fields, status, field, code in COURSE_CASES:
        before = db.count("training_courses")
        body = {"name": "A course", "price_minor": 9500, "max_capacity": 12, **fields}
        r = server.post("/v1/training-courses", headers=hdr(admin), json=body)
        if status == 201:
            assert r.status_code == 201, (fields, r.text)
            assert r.json()["currency"] == "GBP" and r.json()["is_active"] is True
            continue
        err = problem(r, 422, "VALIDATION_FAILED")
        assert (field, code) in [(e["field"], e["code"]) for e in err["errors"]], (fields, err)
        assert db.count("training_courses") == before


def test_a_course_changed_is_checked_as_it_would_be(server, db):
    admin = person(server, "admin", "admin")
    c = training_course(server, admin)
    path = f"/v1/training-courses/{c['id']}"
    err = problem(server.request("PATCH", path, headers=hdr(admin),
                                 json={"course_type": "FAW"}), 422, "VALIDATION_FAILED")
    assert {e["field"] for e in err["errors"]} == {"duration_hours", "duration_days"}
    r = server.request("PATCH", path, headers=hdr(admin),
                       json={"course_type": "FAW", "duration_hours": 18, "duration_days": 3,
                             "price_minor": 9500})
    assert r.status_code == 200, r.text
    assert r.json()["course_type"] == "FAW" and r.json()["price_minor"] == 9500
    # Staff writes are audited through the resource layer.
    assert db.count("audit_log", f"entity_id = '{c['id']}' AND action IN "
                    "('training_courses.create', 'training_courses.update')") == 2


def test_public_reads_need_no_token(server, catalogue):
    c = catalogue
    admin = c["admin"]
    hidden = training_course(server, admin, name="Old course", is_active=False)
    closed = venue(server, admin, name="Closed venue", is_active=False)
    # Courses and venues: the active ones, to anyone.
    assert listed(server, "/v1/training-courses") == {c["course"]["id"]}
    assert listed(server, "/v1/venues") == {c["venue"]["id"]}
    r = server.get(f"/v1/training-courses/{c['course']['id']}")
    assert r.status_code == 200, r.text
    row = r.json()
    assert row["price_minor"] == 7500 and row["currency"] == "GBP"
    assert "created_by" not in row and "updated_by" not in row
    assert r.headers.get("ETag")
    problem(server.get(f"/v1/training-courses/{hidden['id']}"), 404, "NOT_FOUND")
    problem(server.get(f"/v1/venues/{closed['id']}"), 404, "NOT_FOUND")
    problem(server.get(f"/v1/venues/{MISSING}"), 404, "NOT_FOUND")
    # Filters on public fields work without a token too.
    assert listed(server, "/v1/training-courses?course_type=EFAW") == {c["course"]["id"]}
    assert listed(server, "/v1/training-courses?course_type=FAW") == set()
    # A member with a token sees what the public sees; admins see all.
    assert listed(server, "/v1/training-courses", c["member"]) == {c["course"]["id"]}
    assert listed(server, "/v1/training-courses", admin) == {c["course"]["id"], hidden["id"]}
    assert listed(server, "/v1/venues", c["instructor"]) == {c["venue"]["id"], closed["id"]}
    # A token that is not valid is refused, not taken for none.
    problem(server.get("/v1/training-courses", headers={"Authorization": "Bearer " + "a" * 43}),
            401, "UNAUTHORIZED")


def test_public_schedules_are_the_upcoming_ones_with_free_seats(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    upcoming = made(server, c, 0, capacity=8)
    confirmed = made(server, c, 24)
    assert act(server, admin, confirmed, "confirm").status_code == 200
    cancelled = made(server, c, 48)
    assert act(server, admin, cancelled, "cancel").status_code == 200
    running = made(server, c, 72)
    # Started early (the actions refuse that: SCHEDULE_NOT_STARTED).
    db.execute(f"UPDATE course_schedules SET status = 'in_progress' "
               f"WHERE id = '{running['id']}'")
    # One that started in the past.
    r = schedule(server, admin, c["course"], c["venue"], c["trainer"],
                 "2020-05-04T09:00:00.000Z", "2020-05-04T16:00:00.000Z")
    assert r.status_code == 201, r.text
    past = r.json()
    # One of an inactive course.
    other = training_course(server, admin, name="Paediatric First Aid", **PAEDIATRIC)
    r = schedule(server, admin, other, c["venue"], c["trainer2"], at(0), at(30))
    assert r.status_code == 201, r.text
    of_inactive = r.json()
    r = server.request("PATCH", f"/v1/training-courses/{other['id']}", headers=hdr(admin),
                       json={"is_active": False})
    assert r.status_code == 200, r.text

    r = server.get("/v1/course-schedules?sort=start_time")
    assert r.status_code == 200, r.text
    rows = r.json()["data"]
    assert [x["id"] for x in rows] == [upcoming["id"], confirmed["id"]]
    assert rows[0]["free_seats"] == 8 and rows[0]["capacity"] == 8
    assert rows[1]["status"] == "confirmed" and rows[1]["free_seats"] == 10
    assert "instructor_id" not in rows[0] and "created_by" not in rows[0]
    assert rows[0]["trainer_id"] == c["trainer"]["id"]
    r = server.get(f"/v1/course-schedules/{upcoming['id']}")
    assert r.status_code == 200 and r.json()["free_seats"] == 8
    for hidden in (cancelled, running, past, of_inactive):
        problem(server.get(f"/v1/course-schedules/{hidden['id']}"), 404, "NOT_FOUND")
    assert listed(server, f"/v1/course-schedules?venue_id={c['venue']['id']}"
                  f"&start_time_from={at(10)}") == {confirmed["id"]}
    # Staff see every schedule, with the trainer's account.
    r = server.get(f"/v1/course-schedules/{past['id']}", headers=hdr(c["instructor"]))
    assert r.status_code == 200, r.text
    assert r.json()["instructor_id"] == c["instructor"]["id"]
    assert len(listed(server, "/v1/course-schedules", admin)) == 6


# (method, path template, body): every write of the catalogue.
WRITES = [
    ("POST", "/v1/training-courses", {"name": "x", **EFAW, "price_minor": 1,
                                      "max_capacity": 1}),
    ("PATCH", "/v1/training-courses/{course}", {"price_minor": 1}),
    ("DELETE", "/v1/training-courses/{course}", None),
    ("POST", "/v1/venues", {"name": "x", "address_line1": "x", "city": "x",
                            "postcode": "x", "capacity": 1}),
    ("PATCH", "/v1/venues/{venue}", {"capacity": 1}),
    ("DELETE", "/v1/venues/{venue}", None),
    ("POST", "/v1/trainers", {"user_id": "{member_id}", "trainer_code": "x",
                              "qualification_expiry": "2035-01-01"}),
    ("PATCH", "/v1/trainers/{trainer}", {"bio": "x"}),
    ("DELETE", "/v1/trainers/{trainer}", None),
    ("POST", "/v1/course-materials", {"course_id": "{course}", "title": "x",
                                      "material_type": "pdf",
                                      "file_url": "https://example.org/x.pdf"}),
    ("PATCH", "/v1/course-materials/{material}", {"title": "y"}),
    ("DELETE", "/v1/course-materials/{material}", None),
    ("POST", "/v1/course-schedules", {"course_id": "{course}", "venue_id": "{venue}",
                                      "trainer_id": "{trainer}",
                                      "start_time": at(100), "end_time": at(107)}),
    ("PATCH", "/v1/course-schedules/{schedule}", {"capacity": 2}),
    ("POST", "/v1/course-schedules/{schedule}/confirm", None),
    ("POST", "/v1/course-schedules/{schedule}/cancel", None),
]


def test_writes_are_staff_only(server, catalogue, db):
    c = catalogue
    r = server.post("/v1/course-materials", headers=hdr(c["admin"]), json={
        "course_id": c["course"]["id"], "title": "Slides", "material_type": "presentation",
        "file_url": "https://example.org/slides", "is_public": True})
    assert r.status_code == 201, r.text
    ids = {"course": c["course"]["id"], "venue": c["venue"]["id"],
           "trainer": c["trainer"]["id"], "material": r.json()["id"],
           "schedule": made(server, c)["id"], "member_id": c["member"]["id"]}
    before = {t: db.count(t) for t in ("training_courses", "venues", "trainers",
                                       "course_materials", "course_schedules")}
    audits = db.count("audit_log")

    def fill(v):
        text = json.dumps(v)
        for k, i in ids.items():
            text = text.replace("{" + k + "}", i)
        return json.loads(text)

    for method, path, body in WRITES:
        url, kw = fill(path), ({"json": fill(body)} if body is not None else {})
        problem(server.request(method, url, **kw), 401, "UNAUTHORIZED")
        for who in ("member", "instructor"):
            # A member sees no trainer: that row is, to them, one that
            # does not exist.
            want = (404, "NOT_FOUND") if who == "member" and path.startswith(
                "/v1/trainers/") else (403, "FORBIDDEN")
            r = server.request(method, url, headers=hdr(c[who]), **kw)
            assert (r.status_code, r.json()["code"]) == want, (method, path, who, r.text)
    assert before == {t: db.count(t) for t in before}
    assert db.count("audit_log") == audits
    sched = server.get(f"/v1/course-schedules/{ids['schedule']}").json()
    assert sched["status"] == "scheduled" and sched["capacity"] == 10


def test_trainers(server, catalogue, db):
    c = catalogue
    admin, mine = c["admin"], c["trainer"]
    # The user must have the instructor role; the code is one trainer's.
    err = problem(server.post("/v1/trainers", headers=hdr(admin), json={
        "user_id": c["member"]["id"], "trainer_code": "NEW-1",
        "qualification_expiry": "2035-01-01"}), 422, "VALIDATION_FAILED")
    assert (err["errors"][0]["field"], err["errors"][0]["code"]) == ("user_id",
                                                                     "not_instructor")
    third = person(server, "instructor3", "instructor")
    err = problem(server.post("/v1/trainers", headers=hdr(admin), json={
        "user_id": third["id"], "trainer_code": mine["trainer_code"],
        "qualification_expiry": "2035-01-01"}), 409, "TRAINER_CODE_TAKEN")
    assert err["errors"][0]["field"] == "trainer_code"
    problem(server.request("PATCH", f"/v1/trainers/{c['trainer2']['id']}", headers=hdr(admin),
                           json={"trainer_code": mine["trainer_code"]}),
            409, "TRAINER_CODE_TAKEN")
    problem(server.post("/v1/trainers", headers=hdr(admin), json={
        "user_id": c["instructor"]["id"], "trainer_code": "NEW-2",
        "qualification_expiry": "2035-01-01"}), 409, "CONFLICT")
    problem(server.post("/v1/trainers", headers=hdr(admin), json={
        "user_id": third["id"], "trainer_code": "NEW-3",
        "qualification_expiry": "2035-02-30"}), 422, "VALIDATION_FAILED")
    problem(server.post("/v1/trainers", headers=hdr(admin), json={
        "user_id": third["id"], "trainer_code": "NEW-3", "currency": "eur",
        "qualification_expiry": "2035-01-01"}), 422, "VALIDATION_FAILED")
    assert db.count("trainers") == 2
    assert mine["hourly_rate_minor"] == 3500 and mine["is_available"] is True
    # An instructor reads their own profile only; members none.
    r = server.get(f"/v1/trainers/{mine['id']}", headers=hdr(c["instructor"]))
    assert r.status_code == 200 and r.json()["hourly_rate_minor"] == 3500
    problem(server.get(f"/v1/trainers/{c['trainer2']['id']}", headers=hdr(c["instructor"])),
            404, "NOT_FOUND")
    assert listed(server, "/v1/trainers", c["instructor"]) == {mine["id"]}
    problem(server.get("/v1/trainers", headers=hdr(c["member"])), 403, "FORBIDDEN")
    problem(server.get("/v1/trainers"), 401, "UNAUTHORIZED")


def test_course_materials(server, catalogue):
    c = catalogue
    admin = c["admin"]

    def material(**fields):
        body = {"course_id": c["course"]["id"], "title": "Handbook", "material_type": "pdf",
                "file_url": "https://files.example.org/efaw.pdf"}
        body.update(fields)
        return server.post("/v1/course-materials", headers=hdr(admin), json=body)

    for bad in ("ftp://files.example.org/x.pdf", "javascript:alert(1)", "/relative.pdf",
                "https://", "https:///x", "https://a b.org/", "file:///etc/passwd"):
        err = problem(material(file_url=bad), 422, "VALIDATION_FAILED")
        assert err["errors"][0]["field"] == "file_url", bad
    problem(material(material_type="audio"), 422, "VALIDATION_FAILED")
    problem(material(course_id=MISSING), 422, "VALIDATION_FAILED")
    public = material(is_public=True, file_url="HTTP://files.example.org/a")
    assert public.status_code == 201, public.text
    public = public.json()
    staff = material(title="Trainer notes").json()
    after = material(title="Certificate pack", is_public=True, requires_completion=True,
                     material_type="assessment").json()
    assert staff["is_public"] is False and staff["display_order"] == 0
    # Anyone with a token: public materials that need no completion.
    assert listed(server, "/v1/course-materials", c["member"]) == {public["id"]}
    for hidden in (staff, after):
        problem(server.get(f"/v1/course-materials/{hidden['id']}", headers=hdr(c["member"])),
                404, "NOT_FOUND")
    # Staff: every one.
    assert listed(server, "/v1/course-materials", c["instructor"]) == {
        public["id"], staff["id"], after["id"]}
    # Not without a token.
    problem(server.get("/v1/course-materials"), 401, "UNAUTHORIZED")
    problem(server.get(f"/v1/course-materials/{public['id']}"), 401, "UNAUTHORIZED")
    r = server.request("PATCH", f"/v1/course-materials/{public['id']}", headers=hdr(admin),
                       json={"file_url": "data:text/html,x"})
    problem(r, 422, "VALIDATION_FAILED")


def test_schedule_capacity_limits(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    big = venue(server, admin, name="Conference centre", capacity=40)
    large = training_course(server, admin, name="FAW", max_capacity=30, **FAW)
    small = training_course(server, admin, name="Small", max_capacity=6)

    def refused(course, place, capacity, want):
        err = problem(schedule(server, admin, course, place, c["trainer"], at(0), at(7),
                               capacity=capacity), 422, "SCHEDULE_CAPACITY_EXCEEDED")
        assert {(e["field"], e["code"]) for e in err["errors"]} == {
            ("capacity", code) for code in want}, err

    refused(c["course"], c["venue"], 11, {"venue_capacity"})
    refused(small, big, 7, {"course_capacity"})
    refused(large, big, 13, {"trainer_ratio"})
    refused(c["course"], c["venue"], 13, {"venue_capacity", "course_capacity",
                                          "trainer_ratio"})
    assert db.count("course_schedules") == 0
    # Without a capacity: the least of the three limits.
    for course, place, want in ((c["course"], c["venue"], 10), (small, big, 6),
                                (large, big, 12)):
        r = schedule(server, admin, course, place, c["trainer"], at(0), at(7))
        assert r.status_code == 201, r.text
        assert r.json()["capacity"] == want and r.json()["free_seats"] == want
        assert act(server, admin, r.json(), "cancel").status_code == 200
    s = made(server, c, 0, capacity=10)
    # PATCH keeps to the limits too, and a venue or course never falls
    # below a live schedule's capacity.
    problem(server.request("PATCH", f"/v1/course-schedules/{s['id']}", headers=hdr(admin),
                           json={"capacity": 11}), 422, "SCHEDULE_CAPACITY_EXCEEDED")
    err = problem(server.request("PATCH", f"/v1/venues/{c['venue']['id']}", headers=hdr(admin),
                                 json={"capacity": 9}), 409, "SCHEDULE_CAPACITY_EXCEEDED")
    assert err["errors"][0]["field"] == "capacity"
    err = problem(server.request("PATCH", f"/v1/training-courses/{c['course']['id']}",
                                 headers=hdr(admin), json={"max_capacity": 8}),
                  409, "SCHEDULE_CAPACITY_EXCEEDED")
    assert err["errors"][0]["field"] == "max_capacity"
    assert server.get(f"/v1/venues/{c['venue']['id']}").json()["capacity"] == 10
    r = server.request("PATCH", f"/v1/course-schedules/{s['id']}", headers=hdr(admin),
                       json={"capacity": 8})
    assert r.status_code == 200 and r.json()["free_seats"] == 8
    r = server.request("PATCH", f"/v1/venues/{c['venue']['id']}", headers=hdr(admin),
                       json={"capacity": 8})
    assert r.status_code == 200, r.text
    # Moving it to a smaller venue is checked against that venue.
    tiny = venue(server, admin, name="Tiny room", capacity=4)
    problem(server.request("PATCH", f"/v1/course-schedules/{s['id']}", headers=hdr(admin),
                           json={"venue_id": tiny["id"]}), 422, "SCHEDULE_CAPACITY_EXCEEDED")
    r = server.request("PATCH", f"/v1/course-schedules/{s['id']}", headers=hdr(admin),
                       json={"venue_id": tiny["id"], "capacity": 4})
    assert r.status_code == 200 and r.json()["venue_id"] == tiny["id"]


def test_schedule_trainer_qualification_and_availability(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    lapsing = trainer(server, admin, person(server, "lapsing", "instructor"),
                      qualification_expiry="2031-03-03")
    # Valid through its last day: a schedule that ends that day is fine.
    r = schedule(server, admin, c["course"], c["venue"], lapsing, at(0), at(7))
    assert r.status_code == 201, r.text
    first = r.json()
    err = problem(schedule(server, admin, c["course"], c["venue"], lapsing, at(24), at(31)),
                  422, "TRAINER_QUALIFICATION_EXPIRED")
    assert err["errors"][0]["field"] == "trainer_id"
    # Moving the schedule past the expiry, or handing it to that trainer, is refused too.
    problem(server.request("PATCH", f"/v1/course-schedules/{first['id']}", headers=hdr(admin),
                           json={"start_time": at(24), "end_time": at(31)}),
            422, "TRAINER_QUALIFICATION_EXPIRED")
    s = made(server, c, 48)
    problem(server.request("PATCH", f"/v1/course-schedules/{s['id']}", headers=hdr(admin),
                           json={"trainer_id": lapsing["id"]}),
            422, "TRAINER_QUALIFICATION_EXPIRED")
    # An expiry may not be moved before a live schedule's end.
    err = problem(server.request("PATCH", f"/v1/trainers/{c['trainer']['id']}",
                                 headers=hdr(admin),
                                 json={"qualification_expiry": "2031-03-04"}),
                  409, "TRAINER_QUALIFICATION_EXPIRED")
    assert err["errors"][0]["field"] == "qualification_expiry"
    r = server.request("PATCH", f"/v1/trainers/{c['trainer']['id']}", headers=hdr(admin),
                       json={"qualification_expiry": "2031-03-05"})
    assert r.status_code == 200, r.text
    # Unavailable or inactive trainers, inactive courses and venues.
    r = server.request("PATCH", f"/v1/trainers/{c['trainer2']['id']}", headers=hdr(admin),
                       json={"is_available": False})
    assert r.status_code == 200, r.text
    problem(schedule(server, admin, c["course"], c["venue"], c["trainer2"], at(0), at(7)),
            422, "TRAINER_UNAVAILABLE")
    shut = venue(server, admin, name="Shut", is_active=False)
    problem(schedule(server, admin, c["course"], shut, c["trainer"], at(96), at(103)),
            422, "VENUE_INACTIVE")
    gone = training_course(server, admin, name="Gone", is_active=False)
    problem(schedule(server, admin, gone, c["venue"], c["trainer"], at(96), at(103)),
            422, "COURSE_INACTIVE")
    problem(schedule(server, admin, c["course"], c["venue"], c["trainer"], at(97), at(96)),
            422, "VALIDATION_FAILED")
    assert db.count("course_schedules") == 2


def test_a_qualification_is_valid_through_its_expiry_date_in_london(server, catalogue):
    """qualification_expiry is a date of a UK business, read in
    Europe/London: the qualification is valid until the next day begins in
    London (23:00 UTC of the expiry date in summer time, midnight UTC in
    winter). One expiring today is valid all of today."""
    c = catalogue
    admin = c["admin"]

    def by(name, expiry):
        return trainer(server, admin, person(server, name, "instructor"),
                       qualification_expiry=expiry)

    def taught(tr, start, end):
        return schedule(server, admin, c["course"], c["venue"], tr, start, end)

    # Summer time: the 15th of July ends in London at 23:00 UTC.
    summer = by("summer", "2031-07-15")
    r = taught(summer, "2031-07-15T15:00:00Z", "2031-07-15T22:59:00Z")   # 23:59 BST
    assert r.status_code == 201, r.text
    err = problem(taught(summer, "2031-07-15T23:05:00Z", "2031-07-15T23:30:00Z"),  # 16th, 00:30
                  422, "TRAINER_QUALIFICATION_EXPIRED")
    assert err["errors"][0]["field"] == "trainer_id"
    # Winter (GMT): London's day is UTC's.
    winter = by("winter", "2031-01-15")
    r = taught(winter, "2031-01-15T16:00:00Z", "2031-01-15T23:59:00Z")
    assert r.status_code == 201, r.text
    problem(taught(winter, "2031-01-16T00:00:00Z", "2031-01-16T00:30:00Z"), 422,
            "TRAINER_QUALIFICATION_EXPIRED")
    # An expiry is not moved before a live schedule's end in London.
    late = by("late", "2035-12-31")
    r = taught(late, "2031-07-15T23:05:00Z", "2031-07-15T23:30:00Z")
    assert r.status_code == 201, r.text
    err = problem(server.request("PATCH", f"/v1/trainers/{late['id']}", headers=hdr(admin),
                                 json={"qualification_expiry": "2031-07-15"}),
                  409, "TRAINER_QUALIFICATION_EXPIRED")
    assert err["errors"][0]["field"] == "qualification_expiry"
    r = server.request("PATCH", f"/v1/trainers/{late['id']}", headers=hdr(admin),
                       json={"qualification_expiry": "2031-07-16"})
    assert r.status_code == 200, r.text
    # Expiring today (London's today): valid today, not tomorrow.
    london = ZoneInfo("Europe/London")
    today = datetime.datetime.now(london).date()
    tomorrow = today + datetime.timedelta(days=1)

    def london_at(day, hour, minute=0):
        t = datetime.datetime(day.year, day.month, day.day, hour, minute, tzinfo=london)
        return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    now = by("now", today.isoformat())
    r = taught(now, london_at(today, 9), london_at(today, 23, 59))
    assert r.status_code == 201, r.text
    problem(taught(now, london_at(tomorrow, 0, 0), london_at(tomorrow, 6)), 422,
            "TRAINER_QUALIFICATION_EXPIRED")


@pytest.mark.dialect
def test_a_trainer_never_teaches_two_overlapping_schedules(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    s = made(server, c, 0)
    other = venue(server, admin, name="Sheffield Business Park")
    for start, end in ((0, 7), (3, 10), (-2, 1), (-1, 8), (6, 30)):
        err = problem(schedule(server, admin, c["course"], other, c["trainer"], at(start),
                               at(end)), 409, "TRAINER_OVERLAP")
        assert err["conflicts_with"] == s["id"]
    assert db.count("course_schedules") == 1
    # Touching is fine; another trainer at the same time is fine.
    touching = made(server, c, 7, 2)
    assert made(server, c, 0, 9, by="trainer2")["trainer_id"] == c["trainer2"]["id"]
    # Moving one onto another is refused; a cancelled one frees its time.
    problem(server.request("PATCH", f"/v1/course-schedules/{touching['id']}",
                           headers=hdr(admin), json={"start_time": at(6)}),
            409, "TRAINER_OVERLAP")
    problem(server.request("PATCH", f"/v1/course-schedules/{touching['id']}",
                           headers=hdr(admin), json={"trainer_id": c["trainer2"]["id"]}),
            409, "TRAINER_OVERLAP")
    assert act(server, admin, s, "cancel").status_code == 200
    again = schedule(server, admin, c["course"], other, c["trainer"], at(0), at(7))
    assert again.status_code == 201, again.text
    # A completed schedule still held its trainer's time.
    db.execute(f"UPDATE course_schedules SET status = 'completed' "
               f"WHERE id = '{again.json()['id']}'")
    problem(schedule(server, admin, c["course"], c["venue"], c["trainer"], at(1), at(2)),
            409, "TRAINER_OVERLAP")


@pytest.mark.dialect
def test_the_database_backs_the_overlap_rule_up(server, catalogue, db):
    c = catalogue
    s = made(server, c, 0)
    cols = ("id, course_id, venue_id, trainer_id, start_time, end_time, status, capacity, "
            "created_at, updated_at")
    row = db.query(f"SELECT {cols} FROM course_schedules WHERE id = '{s['id']}'")[0]
    twin = list(row)
    twin[0] = "0190f2a4-1111-7000-8000-0000000000ff"
    values = ", ".join(f"'{v}'" if i < 4 or i == 6 else v for i, v in enumerate(twin))
    with pytest.raises(Exception):
        db.execute(f"INSERT INTO course_schedules ({cols}) VALUES ({values})")
    assert db.count("course_schedules") == 1


@pytest.mark.dialect
def test_concurrent_overlapping_schedules_exactly_one_succeeds(server, catalogue, db):
    c = catalogue
    url = server.url("/v1/course-schedules")
    others = [c["venue"], venue(server, c["admin"], name="York Conference Centre")]

    def attempt(i, start, barrier):
        body = {"course_id": c["course"]["id"], "venue_id": others[i]["id"],
                "trainer_id": c["trainer"]["id"], "start_time": at(start + i),
                "end_time": at(start + i + 6)}
        with requests.Session() as s:
            # Connected and signed in before the start: both writes then
            # reach the server at once.
            assert s.get(server.url("/v1/me"), headers=hdr(c["admin"]),
                         timeout=30).status_code == 200
            barrier.wait(timeout=10)
            r = s.post(url, json=body, headers=hdr(c["admin"]), timeout=30)
            return r.status_code, r.json().get("code")

    for round_ in range(10):
        barrier = threading.Barrier(2)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(attempt, range(2), [round_ * 24] * 2, [barrier] * 2))
        # The module's own refusal, not the database's backstop: the
        # second writer waited for the trainer's lock and saw the first.
        assert sorted(codes, key=lambda x: x[0]) == [(201, None), (409, "TRAINER_OVERLAP")], \
            codes
    assert db.count("course_schedules") == 10


def test_status_moves_only_through_the_actions(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    s = made(server, c, 0)
    path = f"/v1/course-schedules/{s['id']}"
    err = problem(server.request("PATCH", path, headers=hdr(admin),
                                 json={"status": "confirmed"}), 422, "VALIDATION_FAILED")
    assert err["errors"][0]["field"] == "status"
    problem(server.request("PATCH", path, headers=hdr(admin), json={"free_seats": 3}),
            422, "VALIDATION_FAILED")
    assert server.get(path, headers=hdr(admin)).json()["status"] == "scheduled"
    problem(server.request("PATCH", path, headers=hdr(admin),
                           json={"course_id": c["course"]["id"]}), 422, "VALIDATION_FAILED")
    problem(server.request("DELETE", path, headers=hdr(admin)), 405, "METHOD_NOT_ALLOWED")
    problem(act(server, admin, s, "complete"), 409, "INVALID_TRANSITION")
    # Started, and so completed, from its start only.
    problem(act(server, admin, s, "start"), 409, "SCHEDULE_NOT_STARTED")
    begun(db, s)
    steps = [("confirm", "confirmed"), ("start", "in_progress"), ("complete", "completed")]
    for verb, status in steps:
        r = act(server, admin, s, verb)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status and r.json()["id"] == s["id"]
        assert db.count("audit_log", f"entity_id = '{s['id']}' AND "
                        f"action = 'course_schedules.{verb}'") == 1
    for verb in ("confirm", "start", "complete", "cancel"):
        problem(act(server, admin, s, verb), 409, "INVALID_TRANSITION")
    # A closed schedule is not changed by PATCH either.
    problem(server.request("PATCH", path, headers=hdr(admin), json={"capacity": 2}),
            409, "SCHEDULE_CLOSED")
    # Started from scheduled; cancelled from scheduled or confirmed only.
    t = made(server, c, 24)
    begun(db, t)
    assert act(server, admin, t, "start").json()["status"] == "in_progress"
    problem(act(server, admin, t, "cancel"), 409, "INVALID_TRANSITION")
    # Each move gives the row a new ETag.
    u = made(server, c, 48)
    e0 = server.get(f"/v1/course-schedules/{u['id']}", headers=hdr(admin)).headers["ETag"]
    assert act(server, admin, u, "confirm").status_code == 200
    e1 = server.get(f"/v1/course-schedules/{u['id']}", headers=hdr(admin)).headers["ETag"]
    assert e0 != e1
    assert act(server, admin, u, "cancel").json()["status"] == "cancelled"
    problem(server.post(f"/v1/course-schedules/{MISSING}/confirm", headers=hdr(admin)),
            404, "NOT_FOUND")
    problem(server.post("/v1/course-schedules/not-a-uuid/confirm", headers=hdr(admin)),
            404, "NOT_FOUND")


def test_the_catalogue_is_in_the_openapi_document(server):
    doc = server.get("/v1/openapi.json").json()
    paths = doc["paths"]
    for p in ("/v1/training-courses", "/v1/venues", "/v1/course-schedules"):
        assert paths[p]["get"]["security"] == []
        assert paths[p + "/{id}"]["get"]["security"] == []
        assert paths[p]["post"]["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    for p in ("/v1/trainers", "/v1/course-materials"):
        assert paths[p]["get"]["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    for verb in ("confirm", "start", "complete", "cancel"):
        op = paths[f"/v1/course-schedules/{{id}}/{verb}"]["post"]
        assert op["tags"] == ["training"] and "409" in op["responses"]
    props = doc["components"]["schemas"]["course_schedules"]["properties"]
    assert {"free_seats", "capacity", "status", "trainer_id"} <= set(props)
    assert "status" not in doc["components"]["schemas"]["course_schedules_update"].get(
        "properties", {})


def test_rows_a_schedule_names_are_not_deleted(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    made(server, c)
    for path in (f"/v1/training-courses/{c['course']['id']}", f"/v1/venues/{c['venue']['id']}",
                 f"/v1/trainers/{c['trainer']['id']}"):
        problem(server.request("DELETE", path, headers=hdr(admin)), 409, "CONFLICT")
    assert (db.count("training_courses"), db.count("venues"), db.count("trainers")) == (1, 1, 2)
    # Unused ones go, with their materials, audited.
    spare = training_course(server, admin, name="Spare")
    r = server.post("/v1/course-materials", headers=hdr(admin), json={
        "course_id": spare["id"], "title": "x", "material_type": "link",
        "file_url": "https://example.org/"})
    assert r.status_code == 201, r.text
    r = server.request("DELETE", f"/v1/training-courses/{spare['id']}", headers=hdr(admin))
    assert r.status_code == 204, r.text
    assert db.count("course_materials") == 0
    assert db.count("audit_log", f"entity_id = '{spare['id']}' AND "
                    "action = 'training_courses.delete'") == 1
