"""Live courses (issue 15, item 13; seed 002: "for public users, this 1-1
chat feature is available on live courses only"): a course is live when its
CMS story says so (content.live, a boolean), and course reads show it. Runs
on SQLite and PostgreSQL."""

import pytest

from conftest import (CMS_TOKEN, cms_publish, cms_webhook, course_story, hdr, person, problem,
                      session_story)

CMS_SECRET = "cms-secret-for-chat-access-tests"


@pytest.fixture
def server(start_server, cms):
    return start_server(env={"CAREBASE_STORYBLOK_WEBHOOK_SECRET": CMS_SECRET,
                             "CAREBASE_STORYBLOK_API_URL": cms.url,
                             "CAREBASE_STORYBLOK_TOKEN": CMS_TOKEN})


def course_with_session(server, cms, name, **content):
    """A published course (content adds to its story's) with one published
    session: (course story, session id)."""
    course = course_story(cms, name, **content)
    cms_publish(server, course, CMS_SECRET)
    s = session_story(cms, course, "One")
    return course, cms_publish(server, s, CMS_SECRET)["result"]["course_session"]["id"]


def start(server, who, session):
    r = server.post(f"/v1/course-sessions/{session}/start", headers=hdr(who))
    assert r.status_code == 200, r.text


# -- live courses (item 13) ----------------------------------------------------------

def test_a_course_is_live_as_its_cms_story_says(server, cms):
    db = server.db
    learner = person(server, "learner")
    plain, s1 = course_with_session(server, cms, "Self guided")
    live, s2 = course_with_session(server, cms, "Live one", live=True)
    rows = {c["name"]: c for c in
            server.get("/v1/courses", headers=hdr(learner)).json()["data"]}
    assert rows["Self guided"]["live"] is False and rows["Live one"]["live"] is True
    one = server.get(f"/v1/courses/{live['uuid']}", headers=hdr(learner)).json()
    assert one["live"] is True and len(one["sessions"]) == 1
    start(server, learner, s2)
    mine = server.get("/v1/me/courses", headers=hdr(learner)).json()["data"]
    assert [(m["course"]["name"], m["course"]["live"]) for m in mine] == [("Live one", True)]
    # Published again without it: not live, and the change is audited.
    del live["content"]["live"]
    out = cms_publish(server, live, CMS_SECRET)
    assert out["result"]["course"]["changed"] == ["live"], out
    assert server.get(f"/v1/courses/{live['uuid']}", headers=hdr(learner)).json()["live"] is False
    assert db.count("audit_log", "action = 'courses.publish'") == 1
    # Anything but a boolean (or null) is refused, and changes nothing.
    plain["content"]["live"] = "yes"
    p = problem(cms_webhook(server, plain, CMS_SECRET), 422, "STORY_INVALID")
    assert [e["field"] for e in p["errors"]] == ["story.content.live"]
    assert db.scalar(f"SELECT live FROM courses WHERE storyblok_uuid = '{plain['uuid']}'") \
        in ("0", 0)
