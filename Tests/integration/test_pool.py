"""The process pool: crash replacement, retries, reload, recycling, timeouts, shutdown."""
import concurrent.futures as futures
import os
import signal
import threading
import time

from conftest import ENV, assert_envelope, session, url


def _hammer(stop, results, path="/api/version"):
    s = session()
    while not stop.is_set():
        try:
            results.append(s.get(url(path), timeout=20).status_code)
        except Exception as error:  # a connection error counts as a failure
            results.append(repr(error))


def test_killed_worker_is_replaced_within_2s_while_requests_succeed(pool):
    workers = int(ENV["ASSAY_WORKERS"])
    before = pool.wait_workers(workers)
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=_hammer, args=(stop, results)) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.time()
        after = pool.wait_workers(workers, timeout=2.0, exclude=(victim,))
        assert time.time() - killed_at < 2.0
        assert victim not in after
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert len(results) > 50
    assert all(r == 200 for r in results), [r for r in results if r != 200][:5]


def _busy_worker(pool, timeout=5.0):
    """The worker inside the sleep route: the one blocked in nanosleep, not in accept."""
    sleeping = {"35", "230"}  # nanosleep, clock_nanosleep on x86_64
    deadline = time.time() + timeout
    while time.time() < deadline:
        for pid in pool.worker_pids():
            try:
                call = open(f"/proc/{pid}/syscall").read().split()[0]
            except OSError:
                continue
            if call in sleeping:
                return pid
        time.sleep(0.02)
    raise AssertionError("no worker is sleeping")


def test_get_in_flight_when_worker_dies_is_retried_by_nginx(pool):
    workers = int(ENV["ASSAY_WORKERS"])
    pids = pool.wait_workers(workers)
    with futures.ThreadPoolExecutor(1) as ex:
        pending = ex.submit(session().get, url("/api/_test/sleep?ms=1500"), timeout=30)
        busy = _busy_worker(pool)
        os.kill(busy, signal.SIGKILL)
        r = pending.result()
    assert r.status_code == 200, r.text
    assert r.json()["pid"] != busy
    pool.wait_workers(workers)


def test_post_in_flight_when_worker_dies_is_not_retried(pool):
    time.sleep(1)  # let the crash-burst window of the previous test drain a little
    workers = int(ENV["ASSAY_WORKERS"])
    pids = pool.wait_workers(workers)
    with futures.ThreadPoolExecutor(1) as ex:
        pending = ex.submit(session().post, url("/api/_test/sleep?ms=1500"), timeout=30)
        os.kill(_busy_worker(pool), signal.SIGKILL)
        r = pending.result()
    assert_envelope(r, 502, "upstream_unavailable")
    pool.wait_workers(workers)
    pool.wait_healthy()


def test_sighup_during_load_loses_no_request(pool):
    time.sleep(1)
    workers = int(ENV["ASSAY_WORKERS"])
    before = set(pool.wait_workers(workers))
    stop, results = threading.Event(), []
    threads = [threading.Thread(target=_hammer, args=(stop, results)) for _ in range(3)]
    threads += [threading.Thread(target=_hammer, args=(stop, results, "/api/_test/sleep?ms=100"))]
    threads += [threading.Thread(target=_hammer, args=(stop, results, "/health"))]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        os.kill(pool.master_pid(), signal.SIGHUP)
        deadline = time.time() + 15
        while time.time() < deadline:
            current = set(pool.worker_pids())
            if len(current) == workers and not (current & before):
                break
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join()
    current = set(pool.worker_pids())
    assert not (current & before), f"old workers remain: {current & before}"
    assert len(current) == workers
    assert len(results) > 50
    assert all(r == 200 for r in results), [r for r in results if r != 200][:5]
    assert any(l.get("msg") == "reload complete" for l in pool.log_lines())


def test_worker_recycled_after_max_requests(pool):
    pool.restart(ASSAY_WORKERS=1, ASSAY_MAX_REQUESTS=5)
    try:
        s = session()
        pids = []
        for _ in range(16):
            r = s.get(url("/api/_test/pid"))
            assert r.status_code == 200
            pids.append(r.json()["pid"])
        # The health checks of the restart count too; what matters is that each pid
        # serves at most 5 requests and a new one takes over without a failure.
        distinct = list(dict.fromkeys(pids))
        assert len(distinct) >= 3, pids
        assert all(pids.count(p) <= 5 for p in distinct)
        assert any(l.get("msg") == "worker recycled" for l in pool.log_lines())
    finally:
        pool.restart()


def test_stuck_request_worker_is_killed_after_timeout(pool):
    pool.restart(ASSAY_REQUEST_TIMEOUT=2)
    try:
        s = session()
        started = time.time()
        r = s.post(url("/api/_test/sleep?ms=20000"), timeout=30)
        elapsed = time.time() - started
        assert_envelope(r, 502, "upstream_unavailable")
        assert 1.5 < elapsed < 6, elapsed
        assert any(l.get("msg") == "request exceeded request_timeout; killing worker" for l in pool.log_lines())
        pool.wait_workers(int(ENV["ASSAY_WORKERS"]))
        assert s.get(url("/api/version")).status_code == 200
    finally:
        pool.restart()


def test_sigterm_lets_in_flight_request_finish_and_exits_0(pool):
    pool.restart()
    process = pool.process
    with futures.ThreadPoolExecutor(1) as ex:
        pending = ex.submit(session().get, url("/api/_test/sleep?ms=2000"), timeout=30)
        time.sleep(0.5)
        os.kill(process.pid, signal.SIGTERM)
        r = pending.result()
        code = process.wait(timeout=20)
    assert r.status_code == 200, r.text
    assert r.json()["slept_ms"] == 2000
    assert code == 0
    # Stopped means stopped: the socket is gone and nginx answers with the envelope.
    assert_envelope(session().get(url("/api/version")), 502, "upstream_unavailable")
    pool.start()
    assert session().get(url("/health")).status_code == 200


def test_idle_pool_stops_promptly_on_sigterm(pool):
    pool.restart()
    started = time.time()
    os.kill(pool.process.pid, signal.SIGTERM)
    assert pool.process.wait(timeout=10) == 0
    assert time.time() - started < 2
    pool.start()
