"""What a client without credentials, or with too many connections, can make
the server hold: bodies are refused from their headers, bytes of bodies in
flight are bounded in all and per client, connections are bounded in all and
per client address, a request that trickles in is cut, and requests the HTTP
layer cannot parse still get problem documents (issue 14, items 1, 2, 8, 9,
10). Every wait is bounded; everything runs on loopback."""
import socket
import time
import uuid

import pytest
import requests

from conftest import METRICS_TOKEN, metric_sum, person, read_answer, wait_until

# Header timeouts, body rates and connection bounds are measured in
# seconds and connections: run alone, not beside other workers.
#
# Raw sockets on purpose: heads and bodies requests would not send (a NUL
# in a header, a body trickled or never sent, a client reading slowly).
# An answer read whole is checked against the document (raw(),
# read_answer + check_raw); the sockets that hold a connection or trickle
# bytes to see it cut await no answer, and have none to check.
pytestmark = pytest.mark.serial


def raw(server, data, src=None, timeout=5.0):
    """Send bytes on a new connection; the whole answer, checked against
    the document (check_raw), or b"" when the server closed without
    answering (at accept)."""
    s = socket.socket()
    s.settimeout(timeout)
    if src:
        s.bind((src, 0))
    s.connect(("127.0.0.1", server.port))
    try:
        s.sendall(data)
        got = read_answer(s)
    finally:
        s.close()
    line = data.split(b"\r\n", 1)[0].split(b" ")
    if got and len(line) == 3 and line[1].startswith(b"/"):
        server.check_raw(line[0].decode("latin-1"), line[1].decode("latin-1"), got)
    return got


def metrics_or_none(server):
    """/metrics on a new connection, or None when that connection was
    refused (closed unanswered)."""
    try:
        r = requests.get(server.url("/metrics"), timeout=5,
                         headers={"Connection": "close", **server.metrics_headers()})
    except requests.ConnectionError:
        return None
    return r.text if r.status_code == 200 else None


def open_connections(server, src):
    """carebase_http_connections_open, read on a connection from src (it
    counts itself), or None when that connection was not answered."""
    s = socket.socket()
    s.settimeout(5.0)
    s.bind((src, 0))
    s.connect(("127.0.0.1", server.port))
    got = b""
    try:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                  b"Authorization: Bearer " + METRICS_TOKEN.encode() + b"\r\n\r\n")
        got = read_answer(s)
    finally:
        s.close()
    if status_of(got) != 200:
        return None
    server.check_raw("GET", "/metrics", got)
    return metric_sum(got.split(b"\r\n\r\n", 1)[1].decode(),
                      "carebase_http_connections_open")


def status_of(head):
    line = head.split(b"\r\n", 1)[0]
    return int(line.split()[1]) if line.startswith(b"HTTP/1.1 ") else None


def rss_kib(server):
    for line in open(f"/proc/{server.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def upload_head(rec, length, token=None, expect=True):
    return (f"POST /v1/recordings/{rec}/points HTTP/1.1\r\nHost: t\r\n"
            "Content-Type: application/vnd.carebase.points\r\n"
            f"Content-Length: {length}\r\n"
            + (f"Authorization: Bearer {token}\r\n" if token else "")
            + ("Expect: 100-continue\r\n" if expect else "") + "\r\n").encode()


# -- 1. bodies refused from their headers, bytes in flight bounded ------------

def test_stalled_uploads_without_credentials_hold_no_memory(server):
    """Eight uploads announcing 64 MiB each to made-up recordings, their bodies
    never sent: each is answered 401 at once and the server grows by little
    (it grew by ~470 MB before the fix)."""
    before = rss_kib(server)
    socks = []
    try:
        for _ in range(8):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(upload_head(uuid.uuid4(), 64 * 1024 * 1024, expect=False)
                      + b"\x00" * 4096)
            socks.append(s)
        for s in socks:
            head = read_answer(s)
            assert status_of(head) == 401, head[:200]
            server.check_raw("POST", "/v1/recordings/x/points", head)
    finally:
        for s in socks:
            s.close()
    grown = rss_kib(server) - before
    assert grown < 32 * 1024, f"grew by {grown} KiB"


def test_upload_to_a_recording_the_caller_cannot_write_is_refused_from_headers(server):
    token = person(server, "member", "member")["token"]
    head = raw(server, upload_head(uuid.uuid4(), 60_000_000, token=token))
    assert status_of(head) == 404, head[:300]
    assert b"100 Continue" not in head
    # The same check from the headers names a format it cannot read.
    bad = upload_head(uuid.uuid4(), 1000, token=token).replace(
        b"application/vnd.carebase.points", b"image/png")
    assert status_of(raw(server, bad)) in (404, 415)


def test_body_bytes_in_flight_are_bounded_per_client(start_server):
    s = start_server(env={
        "CAREBASE_BODY_LIMIT": 65536,
        "CAREBASE_POINTS_BODY_LIMIT": 1048576,
        "CAREBASE_BODY_INFLIGHT_PER_CLIENT": 2 * 1048576,
        "CAREBASE_BODY_INFLIGHT_MAX": 8 * 1048576,
    })
    token = person(s, "member", "member")["token"]
    head = (b"PATCH /v1/me HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + token.encode() + b"\r\n"
            b"Content-Length: 60000\r\n")
    held = []
    try:
        # Bodies announced by a signed-in client are counted whole from
        # their Content-Length: 2 MiB / 60,000 B holds 34 of them.
        for _ in range(34):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(head + b"\r\n{")
            held.append(c)
        wait_until(lambda: metric_sum(s.metrics(), "carebase_http_body_bytes_held")
                   >= 34 * 60000, what="34 bodies held")
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        c.sendall(head + b"Expect: 100-continue\r\n\r\n")
        c.settimeout(5)
        answer = read_answer(c)
        c.close()
        s.check_raw("PATCH", "/v1/me", answer)
        assert status_of(answer) == 503, answer[:300]
        assert b"Retry-After: 1" in answer and b"SERVER_BUSY" in answer
        # Another client address is still served.
        r = raw(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", src="127.0.0.2")
        assert status_of(r) == 200
        assert metric_sum(s.metrics(), "carebase_http_refused_total",
                          reason="body_bytes_per_client") >= 1
    finally:
        for c in held:
            c.close()
    # Once those connections are gone, the bytes are free again.
    wait_until(lambda: metric_sum(s.metrics(), "carebase_http_body_bytes_held") == 0,
               what="body bytes released")


def test_bodies_announced_to_public_routes_hold_nothing_until_they_arrive(start_server):
    """Anyone may announce a body to a public route: it is counted as it
    arrives, so headers alone cannot use up the bytes others need."""
    s = start_server(env={"CAREBASE_BODY_INFLIGHT_PER_CLIENT": 96 * 1048576})
    held = []
    try:
        for _ in range(50):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            c.sendall(b"POST /v1/webhooks/storyblok HTTP/1.1\r\nHost: t\r\n"
                      b"Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n")
            held.append(c)
        held[0].sendall(b"x" * 70000)
        wait_until(lambda: metric_sum(s.metrics(), "carebase_http_body_bytes_held")
                   >= 70000, what="the bytes sent counted")
        assert metric_sum(s.metrics(), "carebase_http_body_bytes_held") < 200000
    finally:
        for c in held:
            c.close()
    # Sign-in and the like take small bodies only.
    r = requests.post(s.url("/v1/auth/login"), data=b'{"email":"' + b"a" * 20000 + b'"}',
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 413, r.text


# -- 2. connections bounded in all and per client; trickles cut ---------------

def test_connections_past_the_per_client_bound_are_closed_and_others_served(start_server):
    s = start_server(env={"CAREBASE_MAX_CONNECTIONS_PER_CLIENT": 8})
    silent = []
    try:
        for _ in range(8):
            silent.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        # The server counts each connection on its own threads: wait until
        # it has the eight (and the one asking) before the ninth.
        wait_until(lambda: (open_connections(s, "127.0.0.4") or 0) >= 9,
                   timeout=15, what="the eight connections counted")
        # The ninth from the same address is closed at once, unanswered.
        deadline = time.monotonic() + 5
        while (head := raw(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) != b"":
            assert time.monotonic() < deadline, \
                f"the ninth was answered: {head[:200]!r}; open now: " \
                f"{open_connections(s, '127.0.0.4')}"
            time.sleep(0.05)
        # Another address is served.
        r = raw(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", src="127.0.0.2")
        assert status_of(r) == 200
        r = raw(s, b"GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer "
                + METRICS_TOKEN.encode() + b"\r\n\r\n", src="127.0.0.3")
        assert status_of(r) == 200
    finally:
        for c in silent:
            c.close()
    # With those closed, the address is served again.
    wait_until(lambda: status_of(raw(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) == 200,
               what="the address served again")
    text = wait_until(lambda: metrics_or_none(s), timeout=10, what="metrics served")
    assert metric_sum(text, "carebase_http_refused_total",
                      reason="connections_per_client") >= 1


def test_connections_past_the_total_bound_are_closed(start_server):
    s = start_server(env={"CAREBASE_MAX_CONNECTIONS": 16,
                          "CAREBASE_MAX_CONNECTIONS_PER_CLIENT": 0})
    silent = []
    try:
        for i in range(16):
            silent.append(socket.create_connection(("127.0.0.1", s.port), timeout=5))
        # Refused once the server has counted the sixteen (at once, but
        # on its own threads).
        wait_until(lambda: raw(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",
                               src="127.0.0.9") == b"", timeout=5, what="refused")
    finally:
        for c in silent:
            c.close()
    wait_until(lambda: status_of(raw(s, b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")) == 200,
               what="served again")
    # The server lets go of each closed connection on that connection's own
    # thread: until the last of the sixteen is let go, a new connection
    # may still be refused, so the metrics are read once one is accepted.
    text = wait_until(lambda: metrics_or_none(s), timeout=10, what="metrics served")
    assert metric_sum(text, "carebase_http_refused_total", reason="connections") >= 1


def test_a_head_trickled_in_is_cut_at_the_header_timeout(start_server):
    s = start_server(env={"CAREBASE_HEADER_TIMEOUT_S": 2})
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")
    start = time.monotonic()
    closed_after = None
    try:
        for _ in range(12):
            time.sleep(0.5)
            try:
                c.sendall(b"X")          # one byte now and then: never idle
                c.setblocking(False)
                try:
                    if c.recv(1) == b"":
                        closed_after = time.monotonic() - start
                        break
                except BlockingIOError:
                    pass
                finally:
                    c.setblocking(True)
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
    finally:
        c.close()
    assert closed_after is not None and closed_after < 4.5, closed_after
    assert metric_sum(s.metrics(), "carebase_http_refused_total",
                      reason="header_timeout") >= 1


def test_a_body_trickled_in_is_cut_below_the_minimum_rate(start_server):
    s = start_server(env={"CAREBASE_HEADER_TIMEOUT_S": 1,
                          "CAREBASE_MIN_BODY_RATE": 2000})
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /v1/webhooks/storyblok HTTP/1.1\r\nHost: t\r\n"
              b"Content-Type: application/json\r\nContent-Length: 50000\r\n\r\n{")
    start = time.monotonic()
    closed_after = None
    try:
        for _ in range(20):
            time.sleep(0.25)
            try:
                c.sendall(b" " * 10)
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
            c.setblocking(False)
            try:
                if c.recv(1) == b"":
                    closed_after = time.monotonic() - start
                    break
            except BlockingIOError:
                pass
            finally:
                c.setblocking(True)
    finally:
        c.close()
    assert closed_after is not None and closed_after < 4.0, closed_after
    assert metric_sum(s.metrics(), "carebase_http_refused_total",
                      reason="body_too_slow") >= 1


# -- 8, 9, 10: Expect, control bytes, heads the HTTP layer refuses -------------

def test_expect_continue_with_an_oversized_body_gets_413_not_100(server):
    head = raw(server, b"POST /v1/auth/login HTTP/1.1\r\nHost: t\r\n"
                       b"Content-Type: application/json\r\n"
                       b"Content-Length: 900000000\r\nExpect: 100-continue\r\n\r\n")
    assert status_of(head) == 413, head[:300]
    assert b"100 Continue" not in head


@pytest.mark.parametrize("value", [b"secret\x00junk", b"a\x01b", b"a\x7fb", b"a\rb"])
def test_a_header_with_a_control_byte_is_400(server, value):
    head = raw(server, b"POST /v1/webhooks/simplybook HTTP/1.1\r\nHost: t\r\n"
                       b"X-Simplybook-Token: " + value + b"\r\n"
                       b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
    assert status_of(head) == 400, head[:300]


def test_a_header_with_a_nul_is_refused_with_a_problem(server):
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A: b\x00c\r\n\r\n")
    data = read_answer(s)
    s.close()
    server.check_raw("GET", "/healthz", data)
    assert status_of(data) == 400 and b"BAD_HEADER" in data, data[:400]


def test_a_head_past_the_connection_memory_gets_a_431_problem(server):
    r = requests.get(server.url("/healthz"), headers={"X-Big": "d" * 80000},
                     timeout=5)
    problem_doc = r.json()
    assert r.status_code == 431
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert problem_doc["code"] == "HEADERS_TOO_LARGE", problem_doc
    assert server.get("/healthz").status_code == 200


def test_a_request_line_past_the_connection_memory_gets_a_problem(server):
    r = requests.get(server.url("/healthz?q=" + "z" * 80000), timeout=5)
    assert r.status_code in (414, 431)
    assert r.headers["Content-Type"].startswith("application/problem+json")
    assert r.json()["code"] in ("URI_TOO_LONG", "HEADERS_TOO_LARGE")


# -- refusals from the headers answer at once, whatever the reason ---------------

@pytest.mark.parametrize("line", [b"POST /v1/no-such-route HTTP/1.1",
                                  b"DELETE /healthz HTTP/1.1",
                                  b"POST /v1/%2e%2e/x HTTP/1.1"])
def test_a_refusal_from_the_headers_gets_no_100_continue(server, line):
    head = raw(server, line + b"\r\nHost: t\r\nContent-Type: application/json\r\n"
                              b"Content-Length: 900000000\r\nExpect: 100-continue\r\n\r\n")
    assert status_of(head) in (400, 404, 405), head[:300]
    assert b"100 Continue" not in head


def test_a_body_trickled_to_a_route_that_does_not_exist_is_cut(start_server):
    s = start_server(env={"CAREBASE_HEADER_TIMEOUT_S": 1, "CAREBASE_MIN_BODY_RATE": 2000})
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /v1/no-such-route HTTP/1.1\r\nHost: t\r\n"
              b"Content-Length: 50000\r\n\r\n")
    start, closed_after = time.monotonic(), None
    try:
        for _ in range(24):
            time.sleep(0.25)
            try:
                c.sendall(b"x")
            except (BrokenPipeError, ConnectionResetError):
                closed_after = time.monotonic() - start
                break
    finally:
        c.close()
    assert closed_after is not None and closed_after < 5.5, closed_after


def test_a_chunked_body_past_the_limit_is_not_read_for_ever(start_server):
    s = start_server(env={"CAREBASE_BODY_LIMIT": 65536})
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /v1/webhooks/storyblok HTTP/1.1\r\nHost: t\r\n"
              b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    sent, closed = 0, False
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    try:
        while sent < 64 * 1048576:
            c.sendall(chunk)
            sent += 0x10000
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    finally:
        c.close()
    assert closed and sent < 8 * 1048576, sent


def test_a_client_reading_its_answer_slowly_is_cut(start_server):
    s = start_server(env={"CAREBASE_HEADER_TIMEOUT_S": 1,
                          "CAREBASE_MIN_BODY_RATE": 65536})
    c = socket.socket()
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    c.settimeout(10)
    c.connect(("127.0.0.1", s.port))
    c.sendall(b"GET /v1/openapi.json HTTP/1.1\r\nHost: t\r\n\r\n")
    got, start, ended = 0, time.monotonic(), None
    try:
        while time.monotonic() - start < 15:
            time.sleep(0.5)
            try:
                data = c.recv(1000)
            except ConnectionResetError:
                ended = time.monotonic() - start
                break
            if not data:
                ended = time.monotonic() - start
                break
            got += len(data)
    finally:
        c.close()
    # 226 KB at 64 KiB/s after 1 s of grace: cut within a few seconds,
    # long before the 1 KB/0.5 s reader would have read it all (~2 min).
    assert ended is not None and ended < 10, (ended, got)
    # Cut while the answer was still going out, or (when the kernel's
    # buffers took the rest of it) once the connection sat idle.
    m = s.metrics()
    assert (metric_sum(m, "carebase_http_refused_total", reason="answer_too_slow")
            + metric_sum(m, "carebase_http_refused_total", reason="idle_timeout")) >= 1
