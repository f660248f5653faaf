"""PostgreSQL: outages, the private cluster's isolation, migration refusal."""
import os
import socket
import subprocess
import time

import pytest

from conftest import ENV, session, url

private = pytest.mark.skipif(ENV.get("ASSAY_PRIVATE_PG") != "1", reason="needs the private cluster")


def psql(sql, database="assay"):
    return subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", database, "-c", sql],
                          capture_output=True, text=True, check=True).stdout.strip()


@private
def test_health_503_while_postgres_down_then_200_without_restart(pool):
    master = pool.master_pid()
    s = session()
    subprocess.run([ENV["PG_CTL"], "-D", ENV["PGDATA"], "stop", "-m", "fast", "-w"], check=True, capture_output=True)
    try:
        seen = []
        for _ in range(int(ENV["ASSAY_WORKERS"]) * 2):
            r = s.get(url("/health"))
            seen.append(r.status_code)
            assert r.status_code == 503, r.text
            body = r.json()
            assert body["status"] == "unavailable"
            assert body["database"]["ok"] is False
            assert r.headers["Retry-After"] == "5"
            assert "password" not in r.text.lower()
    finally:
        subprocess.run([ENV["PG_CTL"], "-D", ENV["PGDATA"], "start", "-w", "-l", ENV["ASSAY_PG_LOG"]],
                       check=True, capture_output=True)
    deadline = time.time() + 15
    statuses = []
    while time.time() < deadline:
        statuses.append(s.get(url("/health")).status_code)
        if statuses[-1] == 200:
            break
        time.sleep(0.1)
    assert statuses[-1] == 200, statuses
    # Every worker reconnects: several consecutive requests all succeed now.
    assert all(s.get(url("/health")).status_code == 200 for _ in range(10))
    assert pool.master_pid() == master, "Assay must not have been restarted"


@private
def test_private_postgres_refuses_tcp():
    assert psql("SHOW listen_addresses") == ""
    for port in {int(ENV["ASSAY_PG_PORT"]), 5432}:
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()


@private
def test_app_role_is_not_superuser():
    assert psql("SELECT rolsuper FROM pg_roles WHERE rolname = 'assay'") == "f"


@private
def test_database_with_unknown_migration_is_refused(pool):
    psql("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'from_the_future', 'x')")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        out = subprocess.run([ENV["ASSAY_BIN"], "migrate"], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode != 0
        assert "9999" in out.stderr and "does not know" in out.stderr
        r = session().get(url("/health"))
        assert r.status_code == 503
        assert r.json()["migrations"]["current"] is False
    finally:
        psql("DELETE FROM schema_migrations WHERE version = 9999")
    assert session().get(url("/health")).status_code == 200


@private
def test_migrations_are_recorded_once():
    rows = psql("SELECT version, count(*) FROM schema_migrations GROUP BY version HAVING count(*) > 1")
    assert rows == ""
    assert int(psql("SELECT count(*) FROM schema_migrations")) >= 1
