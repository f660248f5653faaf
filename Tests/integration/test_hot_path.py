"""The authenticated hot path: sessions and API keys kept per worker yet revoked at once, quota
counting exact under a concurrent burst, and no failed request while workers are recycled or
replaced by SIGHUP under load, with nginx keeping its FastCGI connections open (on in the test
profile: 3 workers, 2 cores; the kept connection's own test checks it is held)."""
import concurrent.futures as futures
import os
import signal
import threading
import time

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


def test_kept_connections_survive_recycling_without_a_failed_request(pool):
    pool.restart(ASSAY_MAX_REQUESTS=40)
    try:
        results = _under_load(lambda: time.sleep(3))
        assert len(results) > 300
        assert all(r == 200 for r in results), [r for r in results if r != 200][:5]
        recycled = [l for l in pool.log_lines() if l.get("msg") == "worker recycling after max_requests"]
        assert len(recycled) >= 3
    finally:
        pool.restart()


def test_kept_connections_survive_sighup_without_a_failed_request(pool):
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


@pytest.mark.skipif(ENV.get("ASSAY_FASTCGI_KEEP_CONN", "off") != "on", reason="ASSAY_FASTCGI_KEEP_CONN is not on")
def test_nginx_keeps_fastcgi_connections_open(pool):
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
