"""The HTTP contract through nginx over HTTPS: health, version, errors, headers."""
import json
import socket
import ssl
import time
import uuid

import requests

from conftest import BASE, ENV, assert_envelope, url


def test_health_reports_database_migrations_and_workers(api):
    r = api.get(url("/health"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["migrations"]["current"] is True
    assert body["migrations"]["latest"] == body["migrations"]["expected"] >= 1
    assert body["workers"]["live"] == int(ENV["ASSAY_WORKERS"])
    assert body["problems"] == []
    assert body["uptime_seconds"] >= 0
    assert r.headers["Cache-Control"] == "no-store"


def test_version(api):
    r = api.get(url("/api/version"))
    assert r.status_code == 200
    assert r.json()["name"] == "assay"
    assert r.json()["version"]
    assert len(r.headers["X-Request-ID"]) >= 8


def test_client_request_id_is_echoed_and_logged(api, pool):
    rid = "itest-" + uuid.uuid4().hex
    r = api.get(url("/api/version"), headers={"X-Request-ID": rid})
    assert r.headers["X-Request-ID"] == rid
    # The worker writes the request's log line after it has sent the response: wait for it.
    deadline = time.time() + 5
    while True:
        lines = [l for l in pool.log_lines() if l.get("request.id") == rid and l.get("msg") == "request"]
        if lines or time.time() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["http.method"] == "GET"
    assert line["http.path"] == "/api/version"
    assert line["http.status"] == 200
    assert isinstance(line["duration_ms"], (int, float))
    assert line["worker.pid"] in pool.worker_pids()
    assert line["client.address"] == "127.0.0.1"


def test_unsafe_request_id_is_replaced(api):
    r = api.get(url("/api/version"), headers={"X-Request-ID": "bad id with spaces"})
    assert r.headers["X-Request-ID"] != "bad id with spaces"


def test_security_headers_on_api_and_errors(api):
    for path in ["/api/version", "/api/definitely-not-here", "/static/assay.css"]:
        r = api.get(url(path))
        h = r.headers
        assert h["Strict-Transport-Security"].startswith("max-age="), path
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert "Referrer-Policy" in h, path
        assert "frame-ancestors 'none'" in h["Content-Security-Policy"], path


def test_http_redirects_to_https():
    r = requests.get(ENV["ASSAY_HTTP_URL"] + "/api/version?x=1", allow_redirects=False, timeout=5)
    assert r.status_code == 301
    assert r.headers["Location"].startswith("https://")
    assert r.headers["Location"].endswith(":%s/api/version?x=1" % ENV["ASSAY_HTTPS_PORT"])


def test_unknown_route_is_404_envelope(api):
    assert_envelope(api.get(url("/api/no/such/route")), 404, "not_found")
    assert_envelope(api.get(url("/nothing-here")), 404, "not_found")


def test_wrong_method_is_405_with_allow(api):
    r = api.delete(url("/api/version"))
    assert_envelope(r, 405, "method_not_allowed")
    assert r.headers["Allow"] == "GET, HEAD"


def test_malformed_json_is_400_envelope(api):
    r = api.post(url("/api/_test/echo"), data=b'{"name": "x", "count": ', headers={"Content-Type": "application/json"})
    error = assert_envelope(r, 400, "invalid_json")
    assert "at byte" in error["message"]


def test_wrong_types_and_missing_fields_are_422_with_fields(api):
    r = api.post(url("/api/_test/echo"), json={"name": 12, "flag": "yes"})
    error = assert_envelope(r, 422, "validation_failed")
    assert error["fields"] == {
        "name": "must be a string, not integer",
        "count": "is required",
        "flag": "must be true or false, not string",
    }


def test_valid_json_round_trips(api):
    r = api.post(url("/api/_test/echo"), json={"name": "Zoë <b>", "count": 3})
    assert r.status_code == 200
    assert r.json() == {"name": "Zoë <b>", "count": 3, "flag": None}


def test_wrong_content_type_is_415(api):
    r = api.post(url("/api/_test/echo"), data="name=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert_envelope(r, 415, "unsupported_media_type")


def test_json_body_over_app_limit_is_413(api):
    big = json.dumps({"name": "x" * (2 << 20), "count": 1})
    r = api.post(url("/api/_test/echo"), data=big, headers={"Content-Type": "application/json"})
    assert_envelope(r, 413, "payload_too_large")


def test_body_over_nginx_limit_is_413_envelope():
    """nginx refuses on the declared length, before reading the body."""
    host, port = "127.0.0.1", int(ENV["ASSAY_HTTPS_PORT"])
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=10) as raw, context.wrap_socket(raw) as tls:
        tls.sendall(b"POST /api/_test/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 999999999999\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = tls.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert b"application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "payload_too_large"


def test_unexpected_error_is_500_without_internals(api, pool):
    rid = "crash-" + uuid.uuid4().hex
    r = api.get(url("/api/_test/crash"), headers={"X-Request-ID": rid})
    error = assert_envelope(r, 500, "internal_error")
    assert "internal detail" not in r.text and "Boom" not in r.text
    logged = [l for l in pool.log_lines() if l.get("request.id") == rid and l.get("msg") == "unhandled error"]
    assert logged and "internal detail" in logged[0]["error"]


def test_openapi_document_is_served(api):
    r = api.get(url("/openapi.json"))
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    assert "/health" in doc["paths"] and "/api/version" in doc["paths"]


def test_static_files_have_cache_headers(api):
    r = api.get(url("/static/assay.css"))
    assert r.status_code == 200
    assert "max-age" in r.headers.get("Cache-Control", "")


def test_nginx_reference_location(api):
    r = api.get(url("/_nginx/static"))
    assert r.status_code == 200 and r.text == "ok\n"


def test_head_request_has_no_body(api):
    r = api.head(url("/api/version"))
    assert r.status_code == 200 and r.content == b""


def test_an_encoded_question_mark_in_a_path_stays_in_the_path(api):
    """nginx decodes %3F into the path; the app must not cut the path there (it answered 405
    for POST /api/documents/results/x%3Fy/re-extract, as if the route were .../results/x)."""
    r = api.post(url("/api/documents/results/x%3Fy/re-extract"), json={})
    assert_envelope(r, 401)
