"""ETL: a connection's tables copied into the warehouse by the job workers, from a real
PostgreSQL source and a real MariaDB server: full refresh, incremental append and
append + dedup across inserts, updates and deletes; schema changes; a worker killed
mid-sync; schedules firing once; privacy."""
import os
import signal
import time

import pytest

from access_helpers import assert_invalid, psql, register
from conftest import assert_envelope
from sources_helpers import mysql_admin, mysql_body, pg_admin, pg_body, unique_table

ENGINES = {"postgresql": (pg_body, pg_admin), "mysql": (mysql_body, mysql_admin)}


def connect(account, engine):
    r = account.post("/api/connections", ENGINES[engine][0]())
    assert r.status_code == 201, r.text
    return r.json()["id"]


def run(account, connection_id, body=None, timeout=60):
    r = account.post(f"/api/etl/jobs/run/{connection_id}", body)
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == f"/api/etl/jobs/{r.json()['id']}"
    return wait(account, r.json()["id"], timeout)


def wait(account, run_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        current = account.get(f"/api/etl/jobs/{run_id}").json()
        if current["status"] in ("succeeded", "failed"):
            return current
        time.sleep(0.2)
    raise AssertionError(f"ETL run {run_id} still {current['status']}: {current}")


def warehouse_rows(table, order="id"):
    out = psql(f'SELECT id, name, amount FROM warehouse."{table}" ORDER BY {order};')
    return [tuple(line.split("|")) for line in out.splitlines()] if out else []


def make_table(engine, rows):
    admin = ENGINES[engine][1]
    name = unique_table("sales")
    if engine == "postgresql":
        admin(f"CREATE TABLE {name} (id integer PRIMARY KEY, name text, amount numeric(10,2), updated_at timestamp NOT NULL)")
    else:
        admin(f"CREATE TABLE {name} (id int PRIMARY KEY, name varchar(40), amount decimal(10,2), updated_at datetime(6) NOT NULL)")
    insert(engine, name, rows)
    return name


def insert(engine, name, rows, stamp="2024-01-01 00:00:00"):
    values = ", ".join(f"({i}, '{n}', {a}, '{stamp}')" for i, n, a in rows)
    ENGINES[engine][1](f"INSERT INTO {name} (id, name, amount, updated_at) VALUES {values}")


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_full_refresh_mirrors_the_source_after_inserts_updates_and_deletes(engine):
    account = register()
    connection = connect(account, engine)
    table = make_table(engine, [(1, "a", "1.50"), (2, "b", "2.00"), (3, "c", "3.25")])
    first = run(account, connection, {"tables": [{"name": table, "sync_mode": "full_refresh"}]})
    assert first["status"] == "succeeded", first
    [outcome] = first["tables"]
    assert outcome["status"] == "succeeded" and outcome["rows_read"] == 3 and outcome["rows_written"] == 3
    assert outcome["bytes"] > 0 and outcome["seconds"] >= 0 and first["duration_seconds"] is not None
    wh = outcome["warehouse_table"]
    # One naming rule for both engines: the connection's own namespace (PostgreSQL's public
    # schema, MySQL's database) is left out of the name.
    assert wh == f"src_{connection[:8]}_{table.lower()}", wh
    assert warehouse_rows(wh) == [("1", "a", "1.50"), ("2", "b", "2.00"), ("3", "c", "3.25")]
    types = psql("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
                 "FROM information_schema.columns WHERE table_schema = 'warehouse' AND table_name = :'t';", t=wh)
    assert types == "id:integer,name:text,amount:numeric,updated_at:timestamp without time zone"
    assert "source table" in psql("SELECT obj_description(to_regclass(:'t'), 'pg_class');", t=f'warehouse."{wh}"')
    admin = ENGINES[engine][1]
    insert(engine, table, [(4, "d", "4.00")])
    admin(f"UPDATE {table} SET name = 'B' WHERE id = 2")
    admin(f"DELETE FROM {table} WHERE id = 1")
    second = run(account, connection, {"tables": [table]})
    assert second["status"] == "succeeded", second
    assert warehouse_rows(wh) == [("2", "B", "2.00"), ("3", "c", "3.25"), ("4", "d", "4.00")]
    listed = account.get(f"/api/etl/jobs?connection_id={connection}").json()["items"]
    assert [item["id"] for item in listed] == [second["id"], first["id"]]
    # Two runs of one connection never overlap: the second starts after the first ends.
    a = account.post(f"/api/etl/jobs/run/{connection}", {"tables": [table]}).json()
    b = account.post(f"/api/etl/jobs/run/{connection}", {"tables": [table]}).json()
    a, b = wait(account, a["id"]), wait(account, b["id"])
    first_done, second_done = sorted([a, b], key=lambda r: r["started_at"])
    assert first_done["finished_at"] <= second_done["started_at"], (a, b)


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_incremental_append_and_dedup(engine):
    account = register()
    connection = connect(account, engine)
    admin = ENGINES[engine][1]
    table = make_table(engine, [(1, "a", "1.00"), (2, "b", "2.00")])
    append = {"tables": [{"name": table, "sync_mode": "incremental_append", "cursor_field": "updated_at"}]}
    dedup_table = make_table(engine, [(1, "a", "1.00"), (2, "b", "2.00"), (3, "c", "3.00")])
    dedup = {"tables": [{"name": dedup_table, "sync_mode": "incremental_dedup", "cursor_field": "updated_at"}]}
    a1, d1 = run(account, connection, append), run(account, connection, dedup)
    assert a1["status"] == d1["status"] == "succeeded", (a1, d1)
    wa, wd = a1["tables"][0]["warehouse_table"], d1["tables"][0]["warehouse_table"]
    # Between runs: an insert, an update (newer cursor) and a delete.
    for name in (table, dedup_table):
        insert(engine, name, [(10, "new", "10.00")], stamp="2024-02-01 00:00:00")
        admin(f"UPDATE {name} SET name = 'B', updated_at = '2024-02-02 00:00:00' WHERE id = 2")
        admin(f"DELETE FROM {name} WHERE id = 1")
    a2, d2 = run(account, connection, append), run(account, connection, dedup)
    assert a2["status"] == d2["status"] == "succeeded", (a2, d2)
    # Append keeps history: only the rows past the cursor were read, and added.
    assert a2["tables"][0]["rows_read"] == 2
    assert warehouse_rows(wa, "id, name") == [("1", "a", "1.00"), ("2", "B", "2.00"), ("2", "b", "2.00"),
                                              ("10", "new", "10.00")]
    # Dedup mirrors the source exactly: the update replaced its row, the delete removed one.
    assert warehouse_rows(wd) == [("2", "B", "2.00"), ("3", "c", "3.00"), ("10", "new", "10.00")]
    # Nothing new: nothing read, nothing changes.
    a3 = run(account, connection, append)
    assert a3["tables"][0]["rows_read"] == 0 and len(warehouse_rows(wa)) == 4


def test_new_source_column_appears_and_a_type_change_fails_clearly():
    account = register()
    connection = connect(account, "postgresql")
    table = make_table("postgresql", [(1, "a", "1.00")])
    body = {"tables": [{"name": table, "sync_mode": "incremental_dedup", "cursor_field": "updated_at"}]}
    first = run(account, connection, body)
    wh = first["tables"][0]["warehouse_table"]
    pg_admin(f"ALTER TABLE {table} ADD COLUMN region text; "
             f"INSERT INTO {table} VALUES (2, 'b', 2.00, '2024-03-01', 'north')")
    second = run(account, connection, body)
    assert second["status"] == "succeeded" and second["tables"][0]["added_columns"] == ["region"], second
    assert psql(f'SELECT region FROM warehouse."{wh}" WHERE id = 2;') == "north"
    pg_admin(f"ALTER TABLE {table} ALTER COLUMN amount TYPE text")
    third = run(account, connection, body)
    assert third["status"] == "failed" and third["tables"][0]["status"] == "failed", third
    assert "amount changed type" in third["tables"][0]["error"] and "full_refresh" in third["tables"][0]["error"]
    assert psql(f'SELECT count(*) FROM warehouse."{wh}";') == "2"
    # A full refresh adopts the new type.
    fourth = run(account, connection, {"tables": [table]})
    assert fourth["status"] == "succeeded", fourth


def test_all_tables_and_per_table_errors():
    account = register()
    connection = connect(account, "mysql")
    table = make_table("mysql", [(1, "a", "1.00")])
    result = run(account, connection, {"tables": [table, "no_such_table_here"]})
    assert result["status"] == "failed" and "no_such_table_here" in result["error"]
    by_name = {t["table"]: t for t in result["tables"]}
    assert by_name["no_such_table_here"]["status"] == "failed"
    assert [t for t in result["tables"] if t["status"] == "succeeded"][0]["rows_written"] == 1
    everything = run(account, connection)
    assert everything["requested"]["tables"] == "all"
    assert any(t["table"].endswith("." + table) for t in everything["tables"])


def test_bad_requests_and_privacy():
    owner = register()
    connection = connect(owner, "postgresql")
    assert_invalid(owner.post(f"/api/etl/jobs/run/{connection}", {"sync_mode": "sometimes"}), "sync_mode")
    assert_invalid(owner.post(f"/api/etl/jobs/run/{connection}",
                              {"tables": [{"name": "x", "sync_mode": "incremental_append"}]}), "tables[0].cursor_field")
    assert_invalid(owner.post(f"/api/etl/jobs/run/{connection}", {"tables": 5}), "tables")
    stranger = register()
    assert_envelope(stranger.post(f"/api/etl/jobs/run/{connection}"), 404, "not_found")
    mine = owner.post(f"/api/etl/jobs/run/{connection}", {"tables": ["nothing_here"]}).json()
    assert_envelope(stranger.get(f"/api/etl/jobs/{mine['id']}"), 404, "not_found")
    assert stranger.get("/api/etl/jobs").json()["items"] == []
    assert_envelope(owner.post("/api/etl/jobs/run/00000000-0000-0000-0000-000000000000"), 404, "not_found")
    assert_invalid(owner.get("/api/etl/jobs?status=odd&limit=0"), "status", "limit")


def test_worker_killed_mid_sync_keeps_the_previous_table_and_the_retry_completes(pool):
    pool.restart(ASSAY_JOB_LEASE_SECONDS=3)
    try:
        account = register()
        connection = connect(account, "postgresql")
        table = make_table("postgresql", [(1, "a", "1.00")])
        first = run(account, connection, {"tables": [table]})
        wh = first["tables"][0]["warehouse_table"]
        pg_admin(f"INSERT INTO {table} SELECT g, 'row ' || g, g, '2024-01-01' FROM generate_series(2, 1500000) g")
        r = account.post(f"/api/etl/jobs/run/{connection}", {"tables": [table]})
        run_id = r.json()["id"]
        deadline = time.time() + 30
        while account.get(f"/api/etl/jobs/{run_id}").json()["status"] != "running":
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        for pid in pool.job_worker_pids():
            os.kill(pid, signal.SIGKILL)
        # The previous table is intact while the retry runs.
        assert psql(f'SELECT count(*) FROM warehouse."{wh}";') == "1"
        done = wait(account, run_id, timeout=180)
        assert done["status"] == "succeeded", done
        assert psql(f'SELECT count(*) FROM warehouse."{wh}";') == "1500000"
        job = account.get(f"/api/jobs/{done['job_id']}").json()
        assert job["attempts"] >= 2
        assert psql("SELECT count(*) FROM pg_tables WHERE schemaname = 'warehouse' AND tablename LIKE :'p';",
                    p=wh + "__%") == "0"
    finally:
        pool.restart()


def test_daily_schedule_fires_once_with_two_job_workers():
    account = register()
    connection = connect(account, "postgresql")
    table = make_table("postgresql", [(1, "a", "1.00")])
    r = account.post("/api/etl/schedules", {"connection_id": connection, "name": "nightly", "sync_frequency": "daily",
                                            "timezone": "Europe/Berlin", "tables": [table]})
    assert r.status_code == 201, r.text
    schedule = r.json()
    assert schedule["enabled"] and schedule["sync_frequency"] == "daily" and schedule["next_run_at"]
    # Berlin midnight is 23:00 or 22:00 UTC.
    assert schedule["next_run_at"][11:16] in ("23:00", "22:00"), schedule["next_run_at"]
    # A fake clock: the schedule has been due for three days (Assay was down).
    psql("UPDATE etl_schedules SET next_run_at = now() - interval '3 days' WHERE id = :'id';", id=schedule["id"])
    deadline = time.time() + 30
    while True:
        runs = [j for j in account.get("/api/etl/jobs").json()["items"] if j["schedule_id"] == schedule["id"]]
        if runs:
            break
        assert time.time() < deadline, "the schedule did not fire"
        time.sleep(0.3)
    time.sleep(12)  # both job workers tick at least twice more
    runs = [j for j in account.get("/api/etl/jobs").json()["items"] if j["schedule_id"] == schedule["id"]]
    assert len(runs) == 1 and runs[0]["trigger"] == "schedule", runs
    assert wait(account, runs[0]["id"])["status"] == "succeeded"
    after = next(s for s in account.get("/api/etl/schedules").json()["items"] if s["id"] == schedule["id"])
    assert after["last_job_id"] == runs[0]["id"] and after["next_run_at"] > after["last_run_at"]
    # Disabled: no next run. Cron works too; bad values are named.
    r = account.put(f"/api/etl/schedules/{schedule['id']}", {"enabled": False})
    assert r.status_code == 200 and r.json()["next_run_at"] is None
    r = account.put(f"/api/etl/schedules/{schedule['id']}", {"enabled": True, "cron": "30 6 * * 1-5", "timezone": "UTC"})
    assert r.status_code == 200 and r.json()["cron"] == "30 6 * * 1-5" and r.json()["next_run_at"][11:16] == "06:30", r.text
    assert_invalid(account.put(f"/api/etl/schedules/{schedule['id']}", {"cron": "61 * * * *"}), "cron")
    assert_invalid(account.put(f"/api/etl/schedules/{schedule['id']}", {"timezone": "Mars/Olympus"}), "timezone")
    assert_invalid(account.post("/api/etl/schedules", {"connection_id": connection}), "sync_frequency")
    assert_envelope(register().put(f"/api/etl/schedules/{schedule['id']}", {"enabled": False}), 404, "not_found")
    assert account.delete(f"/api/etl/schedules/{schedule['id']}").json()["status"] == "deleted"
    assert account.get("/api/etl/schedules").json()["items"] == []


def test_sync_frequency_keeps_one_schedule_of_its_connection_in_step():
    account = register()

    def own(connection):
        return [s for s in account.get("/api/etl/schedules").json()["items"]
                if s["connection_id"] == connection and s["from_connection"]]

    # The seed's body ("sync_frequency": "daily") creates the schedule: all tables, midnight UTC.
    r = account.post("/api/connections", pg_body(sync_frequency="daily"))
    assert r.status_code == 201, r.text
    connection = r.json()["id"]
    [schedule] = own(connection)
    assert schedule["sync_frequency"] == "daily" and schedule["cron"] is None and schedule["enabled"], schedule
    assert schedule["tables"] == "all" and schedule["timezone"] == "UTC"
    assert schedule["next_run_at"][11:19] == "00:00:00", schedule

    # Another frequency: the same schedule follows; other changes leave it alone.
    r = account.put(f"/api/connections/{connection}", {"sync_frequency": "hourly"})
    assert r.status_code == 200, r.text
    [hourly] = own(connection)
    assert hourly["id"] == schedule["id"] and hourly["sync_frequency"] == "hourly"
    assert hourly["next_run_at"][14:19] == "00:00" and hourly["next_run_at"] <= schedule["next_run_at"]
    assert account.put(f"/api/connections/{connection}", {"name": "renamed"}).status_code == 200
    assert own(connection) == [hourly]

    # Changing the schedule's frequency changes the connection's; a cron would break the link.
    r = account.put(f"/api/etl/schedules/{schedule['id']}", {"sync_frequency": "weekly", "tables": ["public.x"]})
    assert r.status_code == 200 and r.json()["sync_frequency"] == "weekly", r.text
    assert account.get(f"/api/connections/{connection}").json()["sync_frequency"] == "weekly"
    assert_invalid(account.put(f"/api/etl/schedules/{schedule['id']}", {"cron": "0 6 * * *"}), "cron")
    # The connection's next frequency keeps the tables the schedule was given.
    account.put(f"/api/connections/{connection}", {"sync_frequency": "daily"})
    [daily] = own(connection)
    assert daily["sync_frequency"] == "daily" and [t["name"] for t in daily["tables"]] == ["public.x"], daily

    # manual: no schedule; back to daily: a new one; deleting it makes the connection manual.
    account.put(f"/api/connections/{connection}", {"sync_frequency": "manual"})
    assert own(connection) == []
    account.put(f"/api/connections/{connection}", {"sync_frequency": "daily"})
    [again] = own(connection)
    assert again["id"] != schedule["id"]
    assert account.delete(f"/api/etl/schedules/{again['id']}").status_code == 200
    assert account.get(f"/api/connections/{connection}").json()["sync_frequency"] == "manual"

    # No sync_frequency at all: manual, no schedule.
    body = pg_body(name="no frequency")
    del body["sync_frequency"]
    plain = account.post("/api/connections", body).json()
    assert plain["sync_frequency"] == "manual" and own(plain["id"]) == []

    # Deleting a connection deletes its schedules, its own and the API's.
    account.put(f"/api/connections/{connection}", {"sync_frequency": "hourly"})
    r = account.post("/api/etl/schedules", {"connection_id": connection, "sync_frequency": "weekly"})
    assert r.status_code == 201 and r.json()["from_connection"] is False
    assert account.delete(f"/api/connections/{connection}").status_code == 200
    assert [s for s in account.get("/api/etl/schedules").json()["items"] if s["connection_id"] == connection] == []
