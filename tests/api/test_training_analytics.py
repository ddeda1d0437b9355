"""Analytics events of the booking funnel (issue 17 item 7; seed 004:
analytics_events). Each step writes an event: schedule_viewed (a visitor's
GET of a course schedule, signed in or not: anonymous has no user; staff
are not visitors; written in batches within a second, and at the latest
when the server stops), hold_created (a booking made), payment_succeeded
(through Stripe, by staff's offline confirm, or a total of 0 confirmed)
and booking_cancelled (every way: the booker, staff, a hold run out, a
schedule cancelled), each but the view in the transaction of its step (it
is there when the step's answer is). event_data holds only the allowed,
non-personal members; the person's erasure clears the user; the nightly
training.analytics_retention job deletes events older than the setting
analytics_retention_days and nothing newer. Staff read them at
/v1/analytics/events (filters, paged) and /v1/analytics/funnel (counts per
step and ratios). Runs on SQLite and PostgreSQL."""

import datetime
import json

from conftest import hdr, person, problem, queue_job, wait_until
from training_helpers import (book_training, booked, course_schedule, expire_hold,
                              make_catalogue, now_ms, pay, stripe_hook)

DATA_KEYS = {"schedule_id", "course_id", "seats", "amount_minor", "currency", "method",
             "reason", "from"}
DAY_MS = 24 * 3600 * 1000


def events(server, admin, **query):
    """Every event the list gives admin for query (all its pages)."""
    out, cursor = [], None
    while True:
        q = {"limit": 200, **query, **({"cursor": cursor} if cursor else {})}
        r = server.get("/v1/analytics/events", headers=hdr(admin), params=q)
        assert r.status_code == 200, r.text
        out += r.json()["data"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


def of_type(evs, t):
    return [e for e in evs if e["event_type"] == t]


def views_written(server, admin, n, **query):
    """Wait until n schedule_viewed events are listed (views are written
    in batches, within a second); the events of the list."""
    seen = []

    def enough():
        seen[:] = events(server, admin, event_type="schedule_viewed", **query)
        return len(seen) >= n
    wait_until(enough, timeout=10, what=f"{n} views written")
    return list(seen)


def view(server, sched, who=None):
    r = server.get(f"/v1/course-schedules/{sched['id']}",
                   headers=hdr(who) if who is not None else {})
    assert r.status_code == 200, r.text
    return r.json()


def assert_nothing_personal(db, people):
    """Every event_data holds allowed members only, and no row of the
    table holds anything of the people (addresses, names)."""
    rows = db.query("SELECT id, event_type, user_id, event_data, created_at "
                    "FROM analytics_events")
    assert rows
    for row in rows:
        data = json.loads(row[3])
        assert set(data) <= DATA_KEYS, data
        text = " ".join(str(v) for v in row)
        for p in people:
            for value in (p.get("email"), p.get("first_name"), p.get("name")):
                if value:
                    assert value.lower() not in text.lower(), (value, row)


def test_schema_setting_permission_and_who_may_read(server, catalogue, db):
    c = catalogue
    assert "analytics_events" in db.tables()
    assert db.count("role_permissions", "role = 'admin' AND "
                    "permission = 'analytics_events:read:all'") == 1
    r = server.get("/v1/settings?key=analytics_retention_days", headers=hdr(c["admin"]))
    s = r.json()["data"][0]
    assert (s["category"], s["value_type"], s["default_value"], s["value"]) == \
        ("system", "number", "365", None), s
    assert s["validation_rules"] == {"integer": True, "min": 1, "max": 3650}
    r = server.request("PATCH", f"/v1/settings/{s['id']}", headers=hdr(c["admin"]),
                       json={"value": "0"})
    problem(r, 422, "VALIDATION_FAILED")
    for path in ("/v1/analytics/events", "/v1/analytics/funnel"):
        problem(server.get(path), 401, "UNAUTHORIZED")
        problem(server.get(path, headers=hdr(c["member"])), 403, "FORBIDDEN")
        problem(server.get(path, headers=hdr(c["instructor"])), 403, "FORBIDDEN")
        assert server.get(path, headers=hdr(c["admin"])).status_code == 200
    doc = server.get("/v1/openapi.json").json()
    assert "get" in doc["paths"]["/v1/analytics/events"]
    funnel = doc["paths"]["/v1/analytics/funnel"]["get"]
    assert {p["name"] for p in funnel["parameters"]} >= {"from", "to"}


def test_each_step_writes_its_event_with_nothing_personal(shop, db):
    c, server = shop, shop["server"]
    admin, m = c["admin"], c["member"]
    other = person(server, "Quentin", last_name="Zebedee")
    sched = course_schedule(server, c)
    # Views: the member's, an anonymous visitor's; staff's are not counted.
    view(server, sched, m)
    view(server, sched)
    view(server, sched, admin)
    views = views_written(server, admin, 2)
    assert sorted((e["user_id"] or "") for e in views) == sorted(["", m["id"]]), views
    for e in views:
        assert e["event_data"] == {"schedule_id": sched["id"],
                                   "course_id": c["course"]["id"]}, e
    # A hold, then paid through Stripe: each there when its answer is.
    attendees = [{"name": "Morwenna Member", "email": m["email"]},
                 {"name": "Bartholomew Guest", "email": "bart.guest@example.org"}]
    b = booked(server, m, sched, attendees=attendees)
    holds = of_type(events(server, admin), "hold_created")
    assert len(holds) == 1 and holds[0]["user_id"] == m["id"], holds
    assert holds[0]["event_data"] == {
        "schedule_id": sched["id"], "course_id": c["course"]["id"], "seats": 2,
        "amount_minor": b["total_minor"], "currency": "GBP"}, holds
    r = pay(server, m, b)
    assert r.status_code == 201, r.text
    intent = r.json()["payment_intent_id"]
    r = stripe_hook(server, c["stripe"].intent_event(intent), c["sign"])
    assert r.status_code == 200 and r.json()["effect"] == "confirmed", r.text
    paid = of_type(events(server, admin), "payment_succeeded")
    assert [(e["user_id"], e["event_data"]["method"], e["event_data"]["amount_minor"])
            for e in paid] == [(m["id"], "stripe", b["total_minor"])], paid
    # Paid offline (staff's confirm), then cancelled by staff.
    b2 = booked(server, other, sched)
    r = server.post(f"/v1/training-bookings/{b2['id']}/confirm", headers=hdr(admin))
    assert r.status_code == 200, r.text
    paid = of_type(events(server, admin, user_id=other["id"]), "payment_succeeded")
    assert [e["event_data"]["method"] for e in paid] == ["offline"], paid
    r = server.post(f"/v1/training-bookings/{b2['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    cancelled = of_type(events(server, admin), "booking_cancelled")
    assert [(e["user_id"], e["event_data"]["reason"], e["event_data"]["from"])
            for e in cancelled] == [(other["id"], "staff", "confirmed")], cancelled
    # The booker cancels a pending one; a hold runs out.
    s2 = course_schedule(server, c, start=48)
    b3 = booked(server, m, s2)
    r = server.post(f"/v1/training-bookings/{b3['id']}/cancel", headers=hdr(m))
    assert r.status_code == 200, r.text
    b4 = booked(server, other, s2)
    expire_hold(db, "training_bookings", b4["id"])
    booked(server, m, s2)  # ends the hold past its time, in its transaction
    reasons = sorted((e["user_id"], e["event_data"]["reason"], e["event_data"]["from"])
                     for e in of_type(events(server, admin), "booking_cancelled"))
    assert reasons == sorted([(other["id"], "staff", "confirmed"),
                              (m["id"], "booker", "pending"),
                              (other["id"], "hold_expired", "pending")]), reasons
    assert_nothing_personal(db, [m, other, {"name": "Zebedee"},
                                 {"name": "Morwenna Member"},
                                 {"name": "Bartholomew Guest",
                                  "email": "bart.guest@example.org"}])


def test_a_refused_step_writes_nothing(server, catalogue, db):
    c = catalogue
    sched = course_schedule(server, c, capacity=1)
    booked(server, c["member"], sched)
    other = person(server, "other")
    before = db.count("analytics_events")
    problem(book_training(server, other, sched), 409, "SCHEDULE_FULL")
    assert db.count("analytics_events") == before


def test_the_views_waiting_are_written_when_the_server_stops(server, db):
    c = make_catalogue(server)
    sched = course_schedule(server, c)
    for _ in range(3):
        view(server, sched)
    assert server.stop() == 0
    assert db.count("analytics_events", "event_type = 'schedule_viewed' AND "
                    "user_id IS NULL") == 3


def test_erasure_clears_the_user_and_keeps_the_counts(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    sched = course_schedule(server, c)
    view(server, sched, m)
    views_written(server, admin, 1)
    booked(server, m, sched)
    mine = events(server, admin, user_id=m["id"])
    assert {e["event_type"] for e in mine} == {"schedule_viewed", "hold_created"}, mine
    doc = server.get("/v1/me/export", headers=hdr(m)).json()
    assert sorted(e["id"] for e in doc["records"]["analytics_events"]) == \
        sorted(e["id"] for e in mine)
    r = server.post(f"/v1/users/{m['id']}/erase", headers=hdr(admin))
    assert r.status_code in (200, 204), r.text
    assert events(server, admin, user_id=m["id"]) == []
    after = {e["id"]: e for e in events(server, admin)}
    for e in mine:
        assert after[e["id"]]["user_id"] is None
        assert after[e["id"]]["event_data"] == e["event_data"]
    assert db.count("analytics_events", f"user_id = '{m['id']}'") == 0


def test_retention_deletes_the_old_events_only(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    sched = course_schedule(server, c)
    for who in ("a", "b", "c", "d"):
        booked(server, person(server, who), sched)
    ids = [e["id"] for e in sorted(events(server, admin), key=lambda e: e["created_at"])]
    assert len(ids) == 4
    now = now_ms()
    ages = {ids[0]: 400, ids[1]: 366, ids[2]: 364, ids[3]: 0}   # days
    for i, days in ages.items():
        db.execute(f"UPDATE analytics_events SET created_at = {now - days * DAY_MS} "
                   f"WHERE id = '{i}'")
    # 365 days unless set: the two older go.
    queue_job(db, "training.analytics_retention")
    wait_until(lambda: db.count("jobs", "kind = 'training.analytics_retention'") == 0,
               timeout=15, what="the retention job ran")
    assert sorted(db.query("SELECT id FROM analytics_events")) == \
        sorted([(ids[2],), (ids[3],)])
    # Set to 30 days: the 364-day one goes, today's stays.
    row = server.get("/v1/settings?key=analytics_retention_days",
                     headers=hdr(admin)).json()["data"][0]
    r = server.request("PATCH", f"/v1/settings/{row['id']}", headers=hdr(admin),
                       json={"value": "30"})
    assert r.status_code == 200, r.text
    queue_job(db, "training.analytics_retention")
    wait_until(lambda: db.count("analytics_events") == 1, timeout=15,
               what="the 364-day event deleted")
    assert db.query("SELECT id FROM analytics_events") == [(ids[3],)]
    assert db.count("job_schedules", "name = 'training.analytics_retention'") in (0, 1)


def test_the_funnel_counts_each_step_and_its_ratios(server, catalogue, db):
    c = catalogue
    admin, m = c["admin"], c["member"]
    sched = course_schedule(server, c)
    for _ in range(4):
        view(server, sched)
    views_written(server, admin, 4)
    b1 = booked(server, m, sched)
    other = person(server, "other")
    booked(server, other, sched)
    r = server.post(f"/v1/training-bookings/{b1['id']}/confirm", headers=hdr(admin))
    assert r.status_code == 200, r.text
    r = server.post(f"/v1/training-bookings/{b1['id']}/cancel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    r = server.get("/v1/analytics/funnel", headers=hdr(admin))
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["counts"] == {"schedule_viewed": 4, "hold_created": 2, "payment_succeeded": 1,
                           "booking_cancelled": 1}, f
    assert f["ratios"] == {"hold_per_view": 0.5, "payment_per_hold": 0.5,
                           "payment_per_view": 0.25, "cancellation_per_hold": 0.5}, f
    # A period: from included, to left out; the views moved back 10 days.
    now = now_ms()
    db.execute(f"UPDATE analytics_events SET created_at = {now - 10 * DAY_MS} "
               "WHERE event_type = 'schedule_viewed'")
    iso = lambda ms: datetime.datetime.fromtimestamp(  # noqa: E731
        ms // 1000, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + \
        f".{ms % 1000:03d}Z"
    r = server.get("/v1/analytics/funnel", headers=hdr(admin),
                   params={"from": iso(now - 5 * DAY_MS), "to": iso(now + 60000)})
    f = r.json()
    assert f["counts"]["schedule_viewed"] == 0 and f["counts"]["hold_created"] == 2, f
    assert f["ratios"]["hold_per_view"] is None and f["ratios"]["payment_per_hold"] == 0.5
    r = server.get("/v1/analytics/funnel", headers=hdr(admin),
                   params={"from": iso(now - 11 * DAY_MS), "to": iso(now - 9 * DAY_MS)})
    assert r.json()["counts"] == {"schedule_viewed": 4, "hold_created": 0,
                                  "payment_succeeded": 0, "booking_cancelled": 0}
    # Bad periods.
    for q in ({"from": "yesterday"}, {"to": "2031-13-01"},
              {"from": "2031-02-01T00:00:00Z", "to": "2031-01-01T00:00:00Z"}):
        problem(server.get("/v1/analytics/funnel", headers=hdr(admin), params=q), 422,
                "VALIDATION_FAILED")


def test_the_list_filters_by_type_and_time_and_pages(server, catalogue, db):
    c = catalogue
    admin = c["admin"]
    sched = course_schedule(server, c)
    for who in ("a", "b", "c"):
        booked(server, person(server, who), sched)
    view(server, sched)
    views_written(server, admin, 1)
    holds = events(server, admin, event_type="hold_created")
    assert len(holds) == 3 and {e["event_type"] for e in holds} == {"hold_created"}
    # Paged, newest first, each once.
    r = server.get("/v1/analytics/events?limit=2", headers=hdr(admin))
    page = r.json()
    assert len(page["data"]) == 2 and page["next_cursor"], page
    r = server.get(f"/v1/analytics/events?limit=2&cursor={page['next_cursor']}",
                   headers=hdr(admin))
    rest = r.json()["data"]
    ids = [e["id"] for e in page["data"] + rest]
    assert len(ids) == 4 == len(set(ids))
    stamps = [e["created_at"] for e in page["data"] + rest]
    assert stamps == sorted(stamps, reverse=True)
    # By time: created_at_from / created_at_to.
    first = min(holds, key=lambda e: e["created_at"])
    later = events(server, admin, event_type="hold_created",
                   created_at_from="2031-01-01T00:00:00Z")
    assert later == []
    since = events(server, admin, event_type="hold_created",
                   created_at_from=first["created_at"])
    assert first["id"] in {e["id"] for e in since}
    r = server.get(f"/v1/analytics/events/{first['id']}", headers=hdr(admin))
    assert r.status_code == 200 and r.json()["id"] == first["id"], r.text
    problem(server.get(f"/v1/analytics/events/{first['id']}", headers=hdr(c["member"])),
            404, "NOT_FOUND")
