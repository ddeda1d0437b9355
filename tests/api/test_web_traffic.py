"""web_browser.py's Traffic read from a performance log the test writes (no
browser): what fails a page's test and what is only warned of. A request a
move of the test's own cut (its get, back, refresh) is the test's doing,
warned of; one a test said its page leaves (Page.leaving(method, path)) is
excused alone, and not waited for; any other request never answered, or
JSON whose body the page could not have read, fails the test."""
import json
import time

import pytest

import web_browser
from web_browser import Page, Traffic

pytestmark = [pytest.mark.sqlite_only]


class FakeServer:
    """The little of conftest's Server a Tally uses; port may change, as a
    server started again does."""

    def __init__(self, port):
        self.port = port
        self.contract_problems = []
        self.asked = []

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def contract_problem(self, method, r, unread=False):
        self.asked.append((method, r.url, unread))
        return None


class FakeDriver:
    """A driver whose performance log is what the test feeds it, a batch a
    read; bodies are those the test says DevTools kept."""

    def __init__(self):
        self.batches = []
        self.bodies = {}
        self.traffic = Traffic(self)

    def feed(self, *events):
        self.batches.append([{"message": json.dumps({"message": {"method": m, "params": p}})}
                             for m, p in events])

    def get_log(self, kind):
        assert kind == "performance"
        return self.batches.pop(0) if self.batches else []

    def execute_cdp_cmd(self, cmd, args):
        assert cmd == "Network.getResponseBody", cmd
        return {"body": self.bodies.get(args["requestId"], ""), "base64Encoded": False}


def sent(rid, srv, method, path, wall=None):
    p = {"requestId": rid, "request": {"url": srv.url(path), "method": method, "headers": {}}}
    if wall is not None:
        p["wallTime"] = wall
    return ("Network.requestWillBeSent", p)


def answered(rid, status=200, media="application/json"):
    return ("Network.responseReceived", {"requestId": rid, "response": {
        "status": status, "headers": {"Content-Type": media}}})


def data(rid, n):
    return ("Network.dataReceived", {"requestId": rid, "encodedDataLength": n})


def finished(rid):
    return ("Network.loadingFinished", {"requestId": rid})


def failed(rid, why="net::ERR_ABORTED"):
    return ("Network.loadingFailed", {"requestId": rid, "errorText": why})


def test_a_request_sent_just_before_the_tests_own_move_and_cut_by_it_is_warned_of():
    drv, srv = FakeDriver(), FakeServer(1001)
    p = Page(drv, srv)
    drv.traffic.quiesce(timeout=0.2)
    # The page chained a load after quiesce's last read; the move cut it.
    drv.feed(sent("1", srv, "GET", "/v1/therapy/slots", wall=drv.traffic.moved_at - 0.1),
             failed("1"))
    with pytest.warns(UserWarning, match="left by the test's navigation"):
        p.finish("t")


def test_a_request_still_awaited_when_the_test_moves_on_fails_it():
    drv, srv = FakeDriver(), FakeServer(1010)
    p = Page(drv, srv)
    drv.feed(sent("1", srv, "GET", "/v1/therapy/slots"))
    # The page hangs on it past the settle time: not the test's doing.
    drv.traffic.quiesce(timeout=0.2)
    drv.feed(failed("1"))
    with pytest.raises(pytest.fail.Exception,
                       match=r"GET /v1/therapy/slots: still awaited after 0.2 s"):
        p.finish("t")


def test_a_request_sent_after_the_move_and_lost_fails_it():
    drv, srv = FakeDriver(), FakeServer(1011)
    p = Page(drv, srv)
    drv.traffic.quiesce(timeout=0.2)
    drv.feed(sent("1", srv, "GET", "/v1/me", wall=drv.traffic.moved_at + 0.5), failed("1"))
    with pytest.raises(pytest.fail.Exception, match=r"GET /v1/me: net::ERR_ABORTED, never"):
        p.finish("t")


def test_the_tests_navigation_waits_for_an_answer_in_flight_first():
    drv, srv = FakeDriver(), FakeServer(1002)
    p = Page(drv, srv)
    drv.feed(sent("1", srv, "GET", "/v1/me"))
    drv.feed(answered("1"))
    drv.feed(data("1", 20), finished("1"))
    drv.bodies["1"] = '{"id": "x"}'
    drv.traffic.quiesce(timeout=5)
    assert drv.traffic.pending == {}
    assert p.tally.checked == 1 and p.tally.unread == 0, p.tally.counts()
    p.finish("t")


def test_a_request_lost_without_the_test_moving_fails_it():
    drv, srv = FakeDriver(), FakeServer(1003)
    p = Page(drv, srv)
    drv.feed(sent("1", srv, "GET", "/v1/me"), failed("1"))
    with pytest.raises(pytest.fail.Exception, match=r"GET /v1/me: net::ERR_ABORTED, never"):
        p.finish("t")


def test_leaving_excuses_only_its_own_request_made_after_it_and_does_not_wait_for_it():
    drv, srv = FakeDriver(), FakeServer(1004)
    p = Page(drv, srv)
    # Before the call: a request lost, and one of the same operation.
    drv.feed(sent("1", srv, "GET", "/v1/me/sessions", wall=time.time() - 1),
             failed("1"),
             sent("2", srv, "DELETE", "/v1/me", wall=time.time() - 1), failed("2"))
    p.leaving("DELETE", "/v1/me")
    drv.feed(sent("3", srv, "DELETE", "/v1/me", wall=time.time() + 0.01))
    start = time.monotonic()
    with pytest.warns(UserWarning, match=r"DELETE /v1/me: still awaited .*Page.leaving"):
        with pytest.raises(pytest.fail.Exception) as e:
            p.finish("t")
    took = time.monotonic() - start
    assert "GET /v1/me/sessions: net::ERR_ABORTED, never answered" in str(e.value)
    assert "DELETE /v1/me: net::ERR_ABORTED, never answered" in str(e.value)
    assert str(e.value).count("never answered") == 2, str(e.value)
    assert "still awaited" not in str(e.value), str(e.value)
    assert took < 1, f"finish() waited {took:.1f} s for the excused request"


def test_a_server_started_again_on_another_port_is_still_watched():
    drv, srv = FakeDriver(), FakeServer(1005)
    p = Page(drv, srv)
    srv.port = 1006
    drv.feed(sent("1", srv, "GET", "/v1/me"), answered("1"), data("1", 2), finished("1"))
    drv.bodies["1"] = "{}"
    p.finish("t")
    assert srv.asked == [("GET", srv.url("/v1/me"), False)]


def test_json_the_page_read_as_a_blob_fails_named_so():
    drv, srv = FakeDriver(), FakeServer(1007)
    p = Page(drv, srv)
    drv.feed(sent("1", srv, "GET", "/v1/me/export"), answered("1"), data("1", 500),
             finished("1"))
    with pytest.raises(pytest.fail.Exception, match=r"200 JSON whose body is read as a Blob"):
        p.finish("t")


def test_an_event_that_cannot_be_checked_is_charged_to_its_own_page():
    drv, a, b = FakeDriver(), FakeServer(1008), FakeServer(1009)
    pa, pb = Page(drv, a), Page(drv, b)
    # A status that is not a number: the check of b's answer raises.
    drv.feed(sent("1", b, "GET", "/v1/me"),
             ("Network.responseReceived", {"requestId": "1", "response": {
                 "status": "?", "headers": {}}}),
             finished("1"))
    drv.traffic.drain()
    assert pa.tally.problems == []
    assert len(pb.tally.problems) == 1 and "could not be checked" in pb.tally.problems[0]


def test_the_settle_time_is_a_tests_wait():
    assert web_browser.SETTLE_S == web_browser.WAIT_S
    assert "close" in web_browser.NAVIGATING and "closeWindow" not in web_browser.NAVIGATING
