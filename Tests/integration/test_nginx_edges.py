"""nginx at the edges: its own errors as the JSON envelope, slow and idle clients, floods.

Everything here talks to nginx with raw sockets where a client library would tidy the request
up (a `..` path, an oversize header, a stalled body) or hide the connection it holds.
"""
import json
import resource
import select
import socket
import ssl
import time

import pytest

from conftest import ENV, assert_envelope, session, url

HOST = "127.0.0.1"
PORT = int(ENV["ASSAY_HTTPS_PORT"])
HEADER_TIMEOUT = float(ENV["ASSAY_CLIENT_HEADER_TIMEOUT"].rstrip("s"))
BODY_TIMEOUT = float(ENV["ASSAY_CLIENT_BODY_TIMEOUT"].rstrip("s"))
PER_ADDRESS = int(ENV["ASSAY_CONNECTIONS_PER_ADDRESS"])


# One context for every connection (making one loads the CA store: ~20 ms).
TLS = ssl.create_default_context()
TLS.check_hostname = False
TLS.verify_mode = ssl.CERT_NONE


def tls_connect(source="127.0.0.1", timeout=10):
    raw = socket.create_connection((HOST, PORT), timeout=timeout, source_address=(source, 0))
    return TLS.wrap_socket(raw)


def read_response(sock):
    """(status, headers with lower-case names, body) of one response: its head, then as many
    bytes as Content-Length says (nginx may keep a refused upload's connection open a while)."""
    data = b""

    def more():
        nonlocal data
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        data += chunk
        return bool(chunk)

    while b"\r\n\r\n" not in data and more():
        pass
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), data[:200]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "-1"))
    while (length < 0 or len(data) - len(head) - 4 < length) and more():
        pass
    body = data.partition(b"\r\n\r\n")[2]
    return int(lines[0].split()[1]), headers, body if length < 0 else body[:length]


def raw_exchange(request, source="127.0.0.1", timeout=10):
    with tls_connect(source, timeout) as tls:
        tls.sendall(request)
        return read_response(tls)


def assert_raw_envelope(status, headers, body, expected_status, code):
    assert status == expected_status, (status, body)
    assert headers["content-type"].startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["code"] == code, error
    assert error["message"]
    assert error["request_id"] == headers["x-request-id"] and len(error["request_id"]) >= 8
    assert headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    return error


# --- nginx's own errors ---------------------------------------------------------------------

@pytest.mark.parametrize("status, code", [
    (403, "forbidden"), (500, "internal_error"),
    (502, "upstream_unavailable"), (503, "service_unavailable"), (504, "upstream_timeout"),
])
def test_each_error_status_nginx_produces_is_the_envelope(api, status, code):
    r = api.get(url("/_nginx/status/%d" % status))
    assert_envelope(r, status, code)
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    if status in (502, 503):
        assert r.headers["Retry-After"] == "5"


def test_a_path_above_the_root_is_400_envelope_not_500_html():
    status, headers, body = raw_exchange(b"GET /../x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert_raw_envelope(status, headers, body, 400, "bad_request")


def test_a_garbled_request_line_is_400_envelope():
    status, headers, body = raw_exchange(b"GET\x01 / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert_raw_envelope(status, headers, body, 400, "bad_request")


def test_a_20_kb_header_is_431_envelope():
    request = (b"GET /api/version HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000
               + b"\r\nConnection: close\r\n\r\n")
    status, headers, body = raw_exchange(request)
    assert_raw_envelope(status, headers, body, 431, "headers_too_large")


def test_a_very_long_uri_is_414_envelope():
    request = b"GET /api/version?q=" + b"a" * 20000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    status, headers, body = raw_exchange(request)
    assert_raw_envelope(status, headers, body, 414, "uri_too_long")


def test_static_not_found_and_wrong_method_are_envelopes(api):
    assert_envelope(api.get(url("/static/no-such-file.css")), 404, "not_found")
    assert_envelope(api.post(url("/static/assay.css"), data=b"x"), 405, "method_not_allowed")


def test_a_stalled_body_is_dropped_after_the_body_timeout():
    """The body stops arriving: after ASSAY_CLIENT_BODY_TIMEOUT nginx closes the connection.
    (nginx never answers a timeout with 408: it closes, so no HTML and no envelope either.)"""
    with tls_connect(timeout=BODY_TIMEOUT + 10) as tls:
        tls.sendall(b"POST /api/_test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\nConnection: close\r\n\r\n{\"name\": ")
        started = time.monotonic()
        data = b""
        try:
            while chunk := tls.recv(65536):
                data += chunk
        except (ConnectionResetError, ssl.SSLError):
            pass
        waited = time.monotonic() - started
    assert data == b""
    assert BODY_TIMEOUT - 0.5 <= waited <= BODY_TIMEOUT + 5, waited


def test_plain_http_port_errors_are_envelopes():
    port = int(ENV["ASSAY_HTTP_PORT"])
    with socket.create_connection((HOST, port), timeout=10) as raw:
        raw.sendall(b"GET /../x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        status, headers, body = read_response(raw)
    assert_raw_envelope(status, headers, body, 400, "bad_request")


# --- slow, idle and greedy clients ----------------------------------------------------------

def test_requests_in_progress_per_address_are_limited_with_a_429_envelope():
    """ASSAY_CONNECTIONS_PER_ADDRESS requests at once from one address (here: uploads whose
    body has not arrived yet); the next gets a 429 envelope at once, while another address
    is still served, and the address is served again when its requests are gone."""
    def start_upload(source):
        tls = tls_connect(source=source)
        tls.sendall(b"POST /api/_test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 1000\r\nConnection: close\r\n\r\n")
        return tls

    held = []
    try:
        for _ in range(PER_ADDRESS):
            held.append(start_upload("127.0.0.3"))
        time.sleep(0.3)  # nginx has read every header (and counted every request)
        for _ in range(3):
            with start_upload("127.0.0.3") as tls:
                status, headers, body = read_response(tls)
            error = assert_raw_envelope(status, headers, body, 429, "rate_limited")
            assert headers["retry-after"] == "1"
        status, headers, body = raw_exchange(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                             source="127.0.0.4")
        assert status == 200, body
    finally:
        for tls in held:
            tls.close()
    deadline = time.monotonic() + 5
    while True:
        status, headers, body = raw_exchange(b"GET /_nginx/static HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                             source="127.0.0.3")
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200


def test_thousands_of_idle_connections_from_one_address_do_not_starve_others():
    """One address opens 6,000 connections that never finish a request (200 finish TLS and send
    half a header, the rest send half a TLS record, so nginx cannot reclaim them as idle) and
    holds them; meanwhile /health from 127.0.0.2 answers 200 every time, and nginx drops them
    all after the header timeout."""
    wanted, partial_count = 6000, 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= wanted + 1000, "the test needs %d open files; the hard limit is %d" % (wanted + 1000, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    partial, idle = [], []
    try:
        for _ in range(partial_count):
            tls = tls_connect(timeout=10)
            tls.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            partial.append(tls)
        started = time.monotonic()
        for _ in range(wanted - partial_count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((HOST, PORT))
            idle.append(s)
        # The connections are established (writable), not waiting in a SYN queue.
        poller = select.poll()
        for s in idle:
            poller.register(s, select.POLLOUT)
        established = set()
        while len(established) < len(idle) and time.monotonic() < started + 3:
            established.update(fd for fd, event in poller.poll(100) if event & select.POLLOUT)
        assert len(established) >= len(idle) - 10, len(established)
        for s in idle:
            s.send(b"\x16\x03\x01\x02\x00")  # the first bytes of a TLS ClientHello record
        opened = time.monotonic() - started

        answers = []
        for _ in range(10):
            t0 = time.monotonic()
            status, _, body = raw_exchange(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                                           source="127.0.0.2", timeout=5)
            answers.append((status, round((time.monotonic() - t0) * 1000)))
            time.sleep(0.05)
        # Still held while /health answered: none of them closed by nginx yet. (Not POLLIN: a
        # TLS connection may have a session ticket to read.)
        checker = select.poll()
        for s in idle + partial:
            checker.register(s, select.POLLRDHUP | select.POLLHUP | select.POLLERR)
        still_held = len(idle) + len(partial) - len(checker.poll(0))
        assert [s for s, _ in answers] == [200] * 10, answers
        assert still_held >= wanted - 50, still_held

        # Bounded in time: nginx closes every connection that did not send a whole header.
        deadline = time.monotonic() + HEADER_TIMEOUT + 10
        closed = set()
        while len(closed) < len(idle) + len(partial) and time.monotonic() < deadline:
            closed.update(fd for fd, _ in checker.poll(200))
        assert len(closed) == len(idle) + len(partial), len(closed)
        print("\nflood: %d connections held (%d opened in %.2f s); /health from 127.0.0.2 (status, ms): %s; "
              "all closed by nginx %.1f s after opening" % (still_held, len(idle), opened, answers,
                                                              time.monotonic() - started))
    finally:
        for s in idle + partial:
            s.close()
