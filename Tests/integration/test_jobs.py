"""The job system: claiming, LISTEN/NOTIFY wake-up, progress, retries with backoff,
permanent failures, and recovery of a job whose worker died."""
import os
import signal
import time

from access_helpers import call, client, register
from conftest import ENV, assert_envelope, session, url


def enqueue(account, kind="test.sleep", payload=None, max_attempts=3):
    r = call(client(), "POST", "/api/_test/jobs", token=account.access,
             json={"kind": kind, "payload": payload or {}, "max_attempts": max_attempts})
    assert r.status_code == 202, r.text
    return r.json()


def job(account, job_id):
    r = call(client(), "GET", f"/api/jobs/{job_id}", token=account.access)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(account, job_id, statuses=("succeeded", "failed"), timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        current = job(account, job_id)
        if current["status"] in statuses:
            return current
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {current['status']}: {current}")


def seconds_between(a, b):
    from datetime import datetime
    parse = lambda v: datetime.fromisoformat(v.replace("Z", "+00:00"))
    return (parse(b) - parse(a)).total_seconds()


def test_job_runs_with_progress_and_result():
    account = register()
    created = enqueue(account, payload={"ms": 300})
    assert created["status"] == "queued" and created["attempts"] == 0
    done = wait_for(account, created["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 1
    assert done["progress"] == {"done": 3, "total": 3, "note": "step 3 of 3", "percent": 100}
    assert done["result"]["slept_ms"] == 300
    assert done["duration_ms"] >= 300
    assert done["error"] is None
    # NOTIFY wakes an idle worker: the job starts well before the 2 s poll would.
    assert seconds_between(done["created_at"], done["started_at"]) < 1.0


def test_failed_attempt_is_retried_after_backoff():
    account = register()
    created = enqueue(account, payload={"ms": 100, "fail_times": 1}, max_attempts=3)
    done = wait_for(account, created["id"])
    assert done["status"] == "succeeded", done
    assert done["attempts"] == 2
    assert done["result"]["attempt"] == 2


def test_job_fails_when_attempts_run_out():
    account = register()
    created = enqueue(account, payload={"ms": 100, "fail_times": 5}, max_attempts=2)
    done = wait_for(account, created["id"])
    assert done["status"] == "failed", done
    assert done["attempts"] == 2
    assert done["error"] == "planned failure on attempt 2"
    assert done["finished_at"] is not None


def test_permanent_error_is_not_retried():
    account = register()
    done = wait_for(account, enqueue(account, kind="test.invalid", max_attempts=5)["id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert "can never work" in done["error"]


def test_unknown_kind_fails_clearly():
    account = register()
    done = wait_for(account, enqueue(account, kind="no.such.kind")["id"])
    assert done["status"] == "failed" and done["attempts"] == 1
    assert "no handler for job kind no.such.kind" in done["error"]


def test_job_of_a_dead_worker_is_retried_elsewhere(pool):
    pool.restart(ASSAY_JOB_LEASE_SECONDS=3)
    try:
        account = register()
        created = enqueue(account, payload={"ms": 3000})
        deadline = time.time() + 10
        while job(account, created["id"])["status"] != "running" and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        before = pool.job_worker_pids()
        for pid in before:
            os.kill(pid, signal.SIGKILL)
        done = wait_for(account, created["id"], timeout=40)
        assert done["status"] == "succeeded", done
        assert done["attempts"] == 2
        assert done["result"]["pid"] not in before
        assert len(pool.job_worker_pids()) == 2
    finally:
        pool.restart()


def test_jobs_are_private_to_their_team():
    owner, stranger = register(), register()
    created = enqueue(owner, payload={"ms": 100})
    r = call(client(), "GET", f"/api/jobs/{created['id']}", token=stranger.access)
    assert_envelope(r, 404, "not_found")
    assert_envelope(call(client(), "GET", "/api/jobs/not-a-uuid", token=owner.access), 404, "not_found")
    assert_envelope(call(client(), "GET", "/api/jobs/00000000-0000-0000-0000-000000000000", token=owner.access), 404)
    assert call(client(), "GET", f"/api/jobs/{created['id']}").status_code == 401


def test_health_reports_job_workers(pool):
    body = session().get(url("/health")).json()
    assert body["job_workers"] == {"live": 2, "configured": 2}
    assert len(pool.job_worker_pids()) == 2
