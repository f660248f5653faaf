"""Shared fixtures for the integration tests.

They run against the real instance that `scripts/test` starts (nginx over HTTPS, the
`assay serve` pool and a private PostgreSQL); every setting comes from VAR/env, which
scripts/test exports into the environment.
"""
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import requests
import urllib3

urllib3.disable_warnings()


def _load_env():
    """Reads VAR/env when the tests are run by hand rather than by scripts/test."""
    if "ASSAY_BASE_URL" in os.environ:
        return
    repo = Path(__file__).resolve().parents[2]
    env_file = Path(os.environ.get("ASSAY_ENV_FILE", repo / "var/test/env"))
    if not env_file.exists():
        pytest.exit(f"{env_file} not found: run scripts/test", returncode=2)
    out = subprocess.run(["bash", "-c", f"set -a; . {env_file}; env -0"], capture_output=True, check=True)
    for entry in out.stdout.split(b"\0"):
        if b"=" in entry:
            key, value = entry.split(b"=", 1)
            os.environ[key.decode()] = value.decode()


_load_env()
ENV = os.environ
BASE = ENV["ASSAY_BASE_URL"]
CERT = ENV.get("ASSAY_TLS_CERT")


def session():
    s = requests.Session()
    # REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE in the environment would override `verify`.
    s.trust_env = False
    # The instance's certificate is self-signed for 127.0.0.1: verify against it.
    s.verify = CERT if CERT and Path(CERT).exists() else False
    return s


@pytest.fixture
def api():
    s = session()
    yield s
    s.close()


def url(path):
    return BASE + path


def assert_envelope(response, status, code=None):
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert set(body["error"]) <= {"code", "message", "fields", "request_id"}, body
    # Every error names its request, as the X-Request-ID header does.
    assert body["error"]["request_id"] == response.headers["X-Request-ID"], body
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


class Pool:
    """The `assay serve` master of the test instance: find it, signal it, restart it."""

    def __init__(self):
        self.pid_file = Path(ENV["ASSAY_PID_FILE"])
        self.log = Path(ENV["ASSAY_LOG"])
        self.process = None

    def master_pid(self):
        return int(self.pid_file.read_text().strip())

    def _children(self, role):
        master = self.master_pid()
        out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True)
        pids = []
        for pid in out.stdout.split():
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if len(argv) > 1 and argv[1].decode() == role:
                pids.append(int(pid))
        return sorted(pids)

    def worker_pids(self):
        """The FastCGI workers."""
        return self._children("worker")

    def job_worker_pids(self):
        return self._children("job-worker")

    def wait_workers(self, count, timeout=10.0, exclude=()):
        deadline = time.time() + timeout
        while time.time() < deadline:
            pids = [p for p in self.worker_pids() if p not in exclude]
            if len(pids) >= count:
                return pids
            time.sleep(0.05)
        raise AssertionError(f"expected {count} workers, have {self.worker_pids()}")

    def start(self, **overrides):
        """Starts a new master (our child) with the instance's settings plus overrides."""
        env = dict(ENV)
        for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE"):
            env.pop(name, None)
        env.update({k: str(v) for k, v in overrides.items()})
        log = open(self.log, "ab")
        self.process = subprocess.Popen([ENV["ASSAY_BIN"], "serve"], env=env, stdout=log, stderr=log,
                                        start_new_session=True)
        self.wait_healthy()
        return self.process

    def stop(self, timeout=30):
        pid = self.master_pid() if self.pid_file.exists() else None
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.process and self.process.pid == pid:
                if self.process.poll() is not None:
                    return
            elif not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.05)
        raise AssertionError("assay serve did not stop")

    def restart(self, **overrides):
        self.stop()
        return self.start(**overrides)

    def wait_healthy(self, timeout=30):
        s = session()
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            try:
                last = s.get(url("/health"), timeout=5)
                body = last.json() if last.status_code == 200 else {}
                # Healthy and every worker up, so tests see the whole pool.
                if last.status_code == 200 and all(
                        body.get(k, {}).get("live") == body.get(k, {}).get("configured")
                        for k in ("workers", "job_workers")):
                    return
            except requests.RequestException as error:
                last = error
            time.sleep(0.1)
        raise AssertionError(f"instance not healthy: {last}")

    def log_lines(self):
        lines = []
        for raw in self.log.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:
                pass
        return lines


@pytest.fixture(scope="session")
def pool():
    p = Pool()
    yield p
    # Leave a healthy instance with the default settings for whatever runs next.
    if p.process is not None:
        try:
            p.wait_healthy(timeout=5)
        except AssertionError:
            p.restart()


# The real browser (headless Chromium) and the other origins that embed Assay's pages: see
# browser_helpers.py. Imported here so that every test module can ask for them.
from browser_helpers import (  # noqa: E402,F401 (fixtures and a hook, found by name)
    _browser_per_test, artifact_dir, browser, other_origin, pytest_runtest_makereport, second_origin)
