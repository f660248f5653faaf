"""The authenticated hot path: sessions and API keys kept per worker yet revoked at once, quota
counting exact under a concurrent burst, and no failed request while workers are recycled or
replaced by SIGHUP under load, with a FastCGI connection per request (the default) and with nginx
keeping them open (ASSAY_FASTCGI_KEEP_CONN=on, switched on by reloading nginx)."""
import concurrent.futures as futures
import os
import re
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import access_helpers
from access_helpers import (NEW_PASSWORD, PASSWORD, assert_unauthorized, call, client, create_key, login, me, psql,
                            register, team_with_member)
from conftest import ENV, session, url

@pytest.fixture(autouse=True, scope="module")
def own_client_address():
    """This module's hundreds of refused requests count against their client address's hourly
    quota: a test address of its own (the test profile's nginx takes it from this header)."""
    access_helpers.DEFAULT_HEADERS["X-Assay-Test-Remote-Addr"] = "198.51.100.18"
    yield
    access_helpers.DEFAULT_HEADERS.clear()


# Requests enough that every worker (ASSAY_WORKERS of them) has served, and so cached, the credential.
SPREAD = 12 * int(ENV.get("ASSAY_WORKERS", "3"))


def _warm(get):
    """Many requests over fresh connections (each may land on any worker); all must succeed."""
    with futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: get().status_code, range(SPREAD)))
    assert codes == [200] * SPREAD, codes


def _all_refused(get, code):
    with futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda _: get(), range(SPREAD)))
    for r in responses:
        assert_unauthorized(r, code)


def test_logout_refuses_the_very_next_request_on_every_worker():
    account = register()
    _warm(lambda: me(account.access))
    assert account.post("/api/auth/logout").status_code in (200, 204)
    assert_unauthorized(me(account.access), "token_revoked")
    _all_refused(lambda: me(account.access), "token_revoked")


def test_api_key_deletion_refuses_the_very_next_request_on_every_worker():
    account = register()
    key = create_key(account, ["documents:read"])
    get = lambda: call(client(), "GET", "/api/auth/me", api_key=key["key"])  # noqa: E731
    _warm(get)
    assert account.delete(f"/api/api-keys/{key['id']}").status_code in (200, 204)
    assert_unauthorized(get(), "invalid_api_key")
    _all_refused(get, "invalid_api_key")


def test_password_change_refuses_other_sessions_at_once_on_every_worker():
    account = register()
    other = login(account, client())
    _warm(lambda: me(other.access))
    r = account.post("/api/auth/change-password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    assert_unauthorized(me(other.access), "token_revoked")
    _all_refused(lambda: me(other.access), "token_revoked")


def test_role_change_and_removal_apply_at_once_on_every_worker():
    owner, member = team_with_member("admin")
    # As an admin the member may list the team's invites; every worker learns that.
    _warm(lambda: member.get("/api/team/invites"))
    r = owner.patch(f"/api/team/members/{member.id}", {"role": "viewer"})
    assert r.status_code == 200, r.text
    with futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: member.get("/api/team/invites").status_code, range(SPREAD)))
    assert set(codes) == {403}, codes
    _warm(lambda: member.get("/api/auth/me"))
    assert owner.delete(f"/api/team/members/{member.id}").status_code == 200
    with futures.ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: member.get("/api/auth/me").status_code, range(SPREAD)))
    assert set(codes) == {403}, codes


def test_no_success_after_the_revocation_answered_under_load():
    """Threads hammer with a key while it is deleted: no request sent after the DELETE's response
    arrived may succeed."""
    account = register()
    key = create_key(account, ["documents:read"], hourly_limit=1_000_000)  # the hammering must not meet the quota
    stop, results, lock = threading.Event(), [], threading.Lock()

    def hammer():
        http = session()
        while not stop.is_set():
            sent = time.monotonic()
            r = call(http, "GET", "/api/auth/me", api_key=key["key"])
            with lock:
                results.append((sent, r.status_code))

    threads = [threading.Thread(target=hammer) for _ in range(6)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.7)
        r = account.delete(f"/api/api-keys/{key['id']}")
        answered = time.monotonic()
        assert r.status_code in (200, 204), r.text
        time.sleep(0.7)
    finally:
        stop.set()
        for t in threads:
            t.join()
    before = [code for sent, code in results if sent < answered]
    after = [code for sent, code in results if sent > answered]
    assert before.count(200) > 20, before[:10]
    assert len(after) > 20
    assert all(code == 401 for code in after), sorted(set(after))


def test_quota_holds_exactly_under_a_concurrent_burst():
    """A key with an hourly limit of 25, hit by 80 concurrent requests: at most 25 (plus, by the
    contract, the number of workers) get through, the rest are 429."""
    account = register()
    limit, workers = 25, int(ENV.get("ASSAY_WORKERS", "3"))
    key = create_key(account, ["documents:read"], hourly_limit=limit)
    get = lambda _: call(session(), "GET", "/api/auth/me", api_key=key["key"]).status_code  # noqa: E731
    with futures.ThreadPoolExecutor(16) as pool:
        codes = list(pool.map(get, range(80)))
    assert set(codes) <= {200, 429}, codes
    assert limit <= codes.count(200) <= limit + workers, codes.count(200)
    assert codes.count(200) == limit  # counted in one row under its lock: exact, in fact


def _remaining(key):
    r = call(session(), "GET", "/api/auth/me", api_key=key["key"])
    assert r.status_code == 200, r.text
    return int(r.headers["X-RateLimit-Remaining"])


def _stored_count(key):
    """The key's general count of this hour in PostgreSQL's quota_counters (0 when none)."""
    return int(psql("SELECT coalesce(sum(count), 0) FROM quota_counters WHERE principal = 'key:' || :'id' "
                    "AND class = 'general' AND window_start = date_trunc('hour', now());", id=key["id"]))


def test_quota_counts_reach_the_database_within_seconds():
    """Counted in the pool's shared memory on the request path; in PostgreSQL within about a
    second, exactly, also when no request follows (a job worker adds them)."""
    account = register()
    key = create_key(account, ["documents:read"], hourly_limit=1000)
    with futures.ThreadPoolExecutor(8) as executor:
        codes = list(executor.map(lambda _: call(session(), "GET", "/api/auth/me", api_key=key["key"]).status_code,
                                  range(40)))
    assert codes == [200] * 40, codes
    deadline, stored = time.time() + 6, 0
    while time.time() < deadline:
        stored = _stored_count(key)
        if stored == 40:
            break
        time.sleep(0.2)
    assert stored == 40
    time.sleep(1.5)
    assert _stored_count(key) == 40, "counted twice"
    assert _remaining(key) == 1000 - 41


def test_quota_counts_survive_killed_workers_and_a_restarted_pool(pool):
    """The counts live in the master's mapping: FastCGI workers killed outright lose none; a
    pool stopped and started again goes on from the database's count."""
    account = register()
    key = create_key(account, ["documents:read"], hourly_limit=500)
    for _ in range(15):
        assert call(session(), "GET", "/api/auth/me", api_key=key["key"]).status_code == 200
    workers = pool.worker_pids()
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    pool.wait_workers(int(ENV.get("ASSAY_WORKERS", "3")), timeout=20, exclude=workers)
    pool.wait_healthy()
    assert _remaining(key) == 500 - 16
    pool.restart()
    assert _remaining(key) == 500 - 17
    # The workers that stopped added their counts; the new pool's first request went to the database.
    assert _stored_count(key) == 17


def _hammer(stop, results, path="/api/version"):
    s = session()  # one client connection (kept alive): nginx reuses its FastCGI connections
    while not stop.is_set():
        try:
            results.append(s.get(url(path), timeout=20).status_code)
        except Exception as error:  # a connection error counts as a failure
            results.append(repr(error))


def _under_load(action, threads=8):
    stop, results = threading.Event(), []
    workers = [threading.Thread(target=_hammer, args=(stop, results, p))
               for p in ("/api/version", "/health", "/api/_test/pid") * (threads // 3 + 1)][:threads]
    for t in workers:
        t.start()
    try:
        time.sleep(0.5)
        action()
        time.sleep(0.5)
    finally:
        stop.set()
        for t in workers:
            t.join()
    return results


def _nginx_workers():
    master = Path(ENV["NGINX_PID_FILE"]).read_text().strip()
    out = subprocess.run(["pgrep", "-P", master], capture_output=True, text=True)
    return {int(pid) for pid in out.stdout.split()}


def _set_fastcgi_keep_conn(mode):
    """Switches nginx's fastcgi_keep_conn in the instance's rendered configuration and reloads
    nginx, waiting until only workers with the new configuration are left."""
    conf = Path(ENV["ASSAY_NGINX_CONF"])
    text = conf.read_text()
    changed = re.sub(r"fastcgi_keep_conn (?:on|off);", f"fastcgi_keep_conn {mode};", text)
    assert f"fastcgi_keep_conn {mode};" in changed
    if changed == text:
        return
    before = _nginx_workers()
    conf.write_text(changed)
    subprocess.run(["nginx", "-p", ENV["ASSAY_NGINX_PREFIX"], "-c", str(conf),
                    "-e", str(Path(ENV["ASSAY_LOG_DIR"]) / "nginx-error.log"), "-s", "reload"], check=True)
    deadline = time.time() + 15
    while time.time() < deadline:
        current = _nginx_workers()
        if current and not (current & before):
            return
        time.sleep(0.1)
    raise AssertionError(f"nginx did not reload: workers {before} still running")


@pytest.fixture(params=["off", "on"])
def fastcgi_keep_conn(request):
    """Runs a test with nginx opening a FastCGI connection per request (the default) and with
    nginx keeping them open (ASSAY_FASTCGI_KEEP_CONN=on); the instance's setting afterwards."""
    _set_fastcgi_keep_conn(request.param)
    try:
        yield request.param
    finally:
        _set_fastcgi_keep_conn(ENV.get("ASSAY_FASTCGI_KEEP_CONN", "off"))


def test_fastcgi_connections_survive_recycling_without_a_failed_request(pool, fastcgi_keep_conn):
    pool.restart(ASSAY_MAX_REQUESTS=40)
    try:
        results = _under_load(lambda: time.sleep(3))
        assert len(results) > 300
        assert all(r == 200 for r in results), [r for r in results if r != 200][:5]
        recycled = [l for l in pool.log_lines() if l.get("msg") == "worker recycling after max_requests"]
        assert len(recycled) >= 3
    finally:
        pool.restart()


def test_fastcgi_connections_survive_sighup_without_a_failed_request(pool, fastcgi_keep_conn):
    workers = int(ENV["ASSAY_WORKERS"])
    before = set(pool.wait_workers(workers))

    def reload():
        os.kill(pool.master_pid(), signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline:
            current = set(pool.worker_pids())
            if len(current) == workers and not (current & before):
                return
            time.sleep(0.1)

    results = _under_load(reload)
    assert not (set(pool.worker_pids()) & before)
    assert len(results) > 100
    assert all(r == 200 for r in results), [r for r in results if r != 200][:5]


def _fastcgi_record(kind, body):
    return struct.pack("!BBHHBx", 1, kind, 1, len(body), 0) + body


def _fastcgi_get(path):
    """One GET straight to the pool's socket, as nginx sends it without fastcgi_keep_conn; reads
    the answer to the worker's end of file and returns the connection still open, and the answer."""
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "DOCUMENT_URI": path, "QUERY_STRING": "",
              "REMOTE_ADDR": "127.0.0.1", "ASSAY_LOOPBACK": "1"}
    pairs = b"".join(bytes([len(k), len(v)]) + k.encode() + v.encode() for k, v in params.items())
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    connection.settimeout(10)
    connection.connect(ENV["ASSAY_SOCKET"])
    connection.sendall(_fastcgi_record(1, struct.pack("!HB5x", 1, 0)) + _fastcgi_record(4, pairs)
                       + _fastcgi_record(4, b"") + _fastcgi_record(5, b""))
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return connection, answer


def test_a_worker_closes_a_finished_connection_without_waiting_for_nginx(pool):
    """A worker ends a connection nginx does not keep as soon as the response is out: it does
    not linger (libfcgi's default: shut down, then wait up to 2 s for the peer to close too), so
    it is free for the next request even while the peer has not closed its end yet."""
    pool.restart(ASSAY_WORKERS=1)
    try:
        connection, answer = _fastcgi_get("/api/version")
        try:
            assert b"Status: 200" in answer and b'"version"' in answer, answer[:300]
            assert answer[-16:-15] == b"\x01" and answer[-15:-14] == b"\x03", answer[-16:]  # FCGI_END_REQUEST last
            # The only worker must answer the next request at once, our end still open.
            started = time.monotonic()
            assert session().get(url("/api/version"), timeout=10).status_code == 200
            assert time.monotonic() - started < 1.0
        finally:
            connection.close()
    finally:
        pool.restart()


@pytest.mark.parametrize("fastcgi_keep_conn", ["on"], indirect=True)
def test_nginx_keeps_fastcgi_connections_open(pool, fastcgi_keep_conn):
    """With fastcgi_keep_conn, sequential requests reuse one FastCGI connection: between requests
    the worker still holds the connection it accepted (without it, it closes each one)."""
    pool.restart(ASSAY_WORKERS=1)
    try:
        s = session()
        worker = pool.wait_workers(1)[0]

        def fastcgi_connections():
            inodes = set()
            for fd in os.listdir(f"/proc/{worker}/fd"):
                try:
                    target = os.readlink(f"/proc/{worker}/fd/{fd}")
                except OSError:
                    continue
                if fd != "0" and target.startswith("socket:["):
                    inodes.add(target[8:-1])
            # Accepted connections carry the listening socket's path; libpq's do not.
            with open("/proc/net/unix") as table:
                return {f[6] for f in (line.split() for line in table)
                        if len(f) >= 8 and f[6] in inodes and f[7] == ENV["ASSAY_SOCKET"]}

        seen = []
        for _ in range(20):
            assert s.get(url("/api/version")).status_code == 200
            seen.append(fastcgi_connections())
        held = [c for c in seen if len(c) == 1]
        assert len(held) >= 15, seen
        most = max(set(next(iter(c)) for c in held), key=lambda i: sum(i in c for c in held))
        assert sum(most in c for c in held) >= 10, seen
    finally:
        pool.restart()
