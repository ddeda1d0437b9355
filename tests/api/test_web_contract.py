"""The API's answers to the browser are checked against the document as the
tests' own are (issue 19; web_browser.py's Traffic): an answer a page got
that the document does not declare fails the page's test, naming the
operation, status and what is wrong. The answer here is made so from data
the test plants (a reminders frequency none of the enum's), read by the
application's own GET /v1/me as it signs in."""

import pytest

from conftest import PASSWORD, person
from web_browser import browser, page  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.sqlite_only, pytest.mark.tooling]


def test_an_answer_a_page_got_that_the_document_refuses_fails_its_test(page, server, db):
    who = person(server, "planted")
    db.execute("UPDATE users SET email_reminders_frequency = 'hourly' "
               f"WHERE id = '{who['id']}'")
    page.sign_in(who["email"], PASSWORD)
    # What the page fixture does at the test's end, asked for here.
    with pytest.raises(pytest.fail.Exception) as failed:
        page.finish()
    why = str(failed.value)
    assert "in the browser: OpenAPI contract: GET /v1/me answered 200 application/json " \
           "that does not match its schema" in why, why
    assert "at /email_reminders_frequency: 'hourly' is not one of" in why, why
    # Reported once: the server's clean-up has it no more.
    assert not any("hourly" in p for p in server.contract_problems)
    assert page.tally is None


def test_the_answers_a_page_got_are_counted_and_pass_when_they_match(page, server):
    who = person(server, "matching")
    page.sign_in(who["email"], PASSWORD)
    tally = page.tally
    page.finish()
    # At least the sign-in and the session's GET /v1/me, each checked.
    assert tally.checked >= 2 and tally.problems == [], tally.counts()
