"""The Superset integration against a real Apache Superset 6.1 (started by scripts/test on
127.0.0.1, SUPERSET_URL in var/test/env): status, syncing a customer connection twice (one
Superset database), datasets listed and created, duplicates refused, a team's warehouse as a
read-only Superset database that SQL Lab can query, an Assay dashboard pushed as charts,
Superset down or refusing Assay's login, expired tokens, and team privacy."""
import socket
import time

import pytest
import requests

from access_helpers import psql, register
from conftest import ENV, assert_envelope
from sources_helpers import mysql_admin, mysql_body, pg_admin, pg_body, unique_table
from test_query import sales  # noqa: F401 (the fixture)

pytestmark = pytest.mark.skipif(not ENV.get("SUPERSET_URL"), reason="no Superset (SUPERSET_URL) in this instance")


class Superset:
    """Superset's own API, to check what Assay made there."""

    def __init__(self):
        self.base = ENV["SUPERSET_URL"]
        self.http = requests.Session()
        r = self.http.post(f"{self.base}/api/v1/security/login", json={
            "username": ENV["SUPERSET_USERNAME"], "password": ENV["SUPERSET_PASSWORD"], "provider": "db", "refresh": True})
        r.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        csrf = self.http.get(f"{self.base}/api/v1/security/csrf_token/")
        csrf.raise_for_status()
        self.http.headers["X-CSRFToken"] = csrf.json()["result"]
        self.http.headers["Referer"] = self.base

    def get(self, path, **kwargs):
        r = self.http.get(self.base + path, **kwargs)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        return r.json()

    def databases_named(self, name):
        rows = self.get("/api/v1/database/", params={"q": "(page_size:100)"})["result"]
        return [row for row in rows if row["database_name"] == name]

    def sql(self, database_id, sql, schema="warehouse"):
        r = self.http.post(f"{self.base}/api/v1/sqllab/execute/", json={
            "database_id": database_id, "sql": sql, "runAsync": False, "schema": schema, "queryLimit": 100})
        return r


@pytest.fixture(scope="module")
def superset():
    return Superset()


def connection_with_table(account):
    """A connection to the source PostgreSQL with a table of three rows in it."""
    name = unique_table("ss")
    pg_admin(f"""CREATE TABLE {name} (id int PRIMARY KEY, region text, amount numeric(10,2));
                 INSERT INTO {name} VALUES (1, 'north', 10), (2, 'south', 20.5), (3, 'north', 7);
                 GRANT SELECT ON {name} TO {ENV['ASSAY_SOURCE_PG_USER']};""")
    r = account.post("/api/connections/", pg_body(name=f"Sales {name}"))
    assert r.status_code == 201, r.text
    return r.json(), name


def test_status_reports_a_reachable_superset_and_the_login():
    account = register()
    r = account.get("/api/superset/status")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["configured"] is True and body["reachable"] is True and body["logged_in"] is True, body
    assert body["version"] == "6.1.0" and body["url"] == ENV["SUPERSET_URL"] and body["error"] is None
    assert ENV["SUPERSET_PASSWORD"] not in r.text


def test_syncing_a_connection_twice_updates_one_superset_database(superset):
    account = register()
    connection, table = connection_with_table(account)
    first = account.post(f"/api/superset/sync/{connection['id']}")
    assert first.status_code == 201, first.text
    database = first.json()["database"]
    assert database["kind"] == "connection" and database["connection_id"] == connection["id"]
    assert ENV["ASSAY_SOURCE_PG_PASSWORD"] not in first.text
    second = account.post(f"/api/superset/sync/{connection['id']}", {"datasets": [f"public.{table}"]})
    assert second.status_code == 200, second.text
    assert second.json()["created"] is False and second.json()["database"]["id"] == database["id"]
    assert [(d["schema"], d["table_name"]) for d in second.json()["datasets"]] == [("public", table)]
    # One database of that name in Superset itself, pointing at the source with the real password.
    found = superset.databases_named(database["database_name"])
    assert [row["id"] for row in found] == [database["id"]]
    detail = superset.get(f"/api/v1/database/{database['id']}")["result"]
    assert detail["backend"] == "postgresql" and detail["expose_in_sqllab"] is True
    # Superset can read the customer's table through it.
    r = superset.sql(database["id"], f"SELECT count(*) AS n FROM public.{table}", schema="public")
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [{"n": 3}]
    # The team's listing has it, with its dataset.
    listed = account.get("/api/superset/databases").json()
    assert [d["id"] for d in listed["items"]] == [database["id"]] and listed["items"][0]["datasets"] == 1
    assert listed["next_cursor"] is None


def test_a_mysql_connection_is_synced_with_a_table_as_a_dataset(superset):
    account = register()
    name = unique_table("ss_my")
    mysql_admin(f"CREATE TABLE {name} (id int PRIMARY KEY, label varchar(20)); INSERT INTO {name} VALUES (1, 'a'), (2, 'b');")
    r = account.post("/api/connections/", mysql_body(name=f"Shop {name}"))
    assert r.status_code == 201, r.text
    connection = r.json()
    # (`"datasets": true` would make one of every table other tests left in source_test.)
    tables = [f"{ENV['ASSAY_MYSQL_DATABASE']}.{name}"]
    r = account.post(f"/api/superset/sync/{connection['id']}", {"datasets": tables})
    assert r.status_code == 201, r.text
    body = r.json()
    assert name in [d["table_name"] for d in body["datasets"]]
    assert ENV["ASSAY_MYSQL_PASSWORD"] not in r.text
    detail = superset.get(f"/api/v1/database/{body['database']['id']}")["result"]
    assert detail["backend"] == "mysql"
    r = superset.sql(body["database"]["id"], f"SELECT count(*) AS n FROM {name}", schema=ENV["ASSAY_MYSQL_DATABASE"])
    assert r.status_code == 200 and r.json()["data"] == [{"n": 2}], r.text
    # Datasets asked for again are the same ones, not duplicates.
    again = account.post(f"/api/superset/sync/{connection['id']}", {"datasets": tables}).json()
    assert sorted(d["id"] for d in again["datasets"]) == sorted(d["id"] for d in body["datasets"])


def test_datasets_true_makes_a_dataset_of_every_table_of_the_connection(superset):
    account = register()
    database = unique_table("ssall")
    mysql_admin(f"""CREATE DATABASE {database};
                    GRANT SELECT ON {database}.* TO 'source'@'127.0.0.1';
                    CREATE TABLE {database}.a (id int); CREATE TABLE {database}.b (id int);
                    CREATE VIEW {database}.v AS SELECT id FROM {database}.a;""")
    r = account.post("/api/connections/", mysql_body(name=f"All {database}", credentials={"database": database}))
    assert r.status_code == 201, r.text
    r = account.post(f"/api/superset/sync/{r.json()['id']}", {"datasets": True})
    assert r.status_code == 201, r.text
    # Tables, not views.
    assert sorted((d["schema"], d["table_name"]) for d in r.json()["datasets"]) == [(database, "a"), (database, "b")]
    assert r.json()["database"]["datasets"] == 2
    for d in r.json()["datasets"]:
        assert superset.get(f"/api/v1/dataset/{d['id']}")["result"]["table_name"] == d["table_name"]


def test_datasets_are_created_listed_filtered_and_duplicates_refused(superset):
    account = register()
    connection, table = connection_with_table(account)
    other_table = unique_table("ss_other")
    pg_admin(f"CREATE TABLE {other_table} (id int); GRANT SELECT ON {other_table} TO {ENV['ASSAY_SOURCE_PG_USER']};")
    database = account.post(f"/api/superset/sync/{connection['id']}").json()["database"]
    r = account.post("/api/superset/datasets/create", {"database_id": database["id"], "schema": "public", "table_name": table})
    assert r.status_code == 201, r.text
    dataset = r.json()
    assert dataset["database_id"] == database["id"] and dataset["table_name"] == table and dataset["schema"] == "public"
    assert superset.get(f"/api/v1/dataset/{dataset['id']}")["result"]["table_name"] == table
    # By connection id too.
    r = account.post("/api/superset/datasets/create", {"connection_id": connection["id"], "schema": "public", "table_name": other_table})
    assert r.status_code == 201, r.text
    # The same table again: Superset's refusal, with its words.
    again = account.post("/api/superset/datasets/create", {"database_id": database["id"], "schema": "public", "table_name": table})
    assert_envelope(again, 422, "superset_rejected")
    assert "already exists" in again.json()["error"]["message"]
    # A table that does not exist.
    missing = account.post("/api/superset/datasets/create", {"database_id": database["id"], "schema": "public", "table_name": "no_such_table_x"})
    assert_envelope(missing, 422, "superset_rejected")
    # Listing: filters and pages.
    items = account.get("/api/superset/datasets").json()["items"]
    assert {d["table_name"] for d in items} == {table, other_table}
    named = account.get("/api/superset/datasets", params={"name": other_table.upper()[-6:]}).json()["items"]
    assert [d["table_name"] for d in named] == [other_table]
    assert account.get("/api/superset/datasets", params={"database_id": database["id"] + 100000}).json()["items"] == []
    assert len(account.get("/api/superset/datasets", params={"schema": "public"}).json()["items"]) == 2
    page = account.get("/api/superset/datasets", params={"limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = account.get("/api/superset/datasets", params={"limit": 1, "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["items"][0]["id"] != page["items"][0]["id"]
    bad = account.get("/api/superset/datasets", params={"database_id": "x"})
    assert_envelope(bad, 422, "validation_failed")
    # Neither an unknown Superset database nor none at all.
    assert_envelope(account.post("/api/superset/datasets/create", {"database_id": 999999, "schema": "public", "table_name": table}), 404)
    assert_envelope(account.post("/api/superset/datasets/create", {"schema": "public", "table_name": table}), 422, "validation_failed")


def test_another_team_cannot_see_or_use_a_synced_database():
    owner = register()
    connection, table = connection_with_table(owner)
    database = owner.post(f"/api/superset/sync/{connection['id']}").json()["database"]
    stranger = register()
    assert stranger.get("/api/superset/databases").json()["items"] == []
    assert stranger.get("/api/superset/datasets").json()["items"] == []
    r = stranger.post("/api/superset/datasets/create", {"database_id": database["id"], "schema": "public", "table_name": table})
    assert_envelope(r, 404, "not_found")
    assert_envelope(stranger.post(f"/api/superset/sync/{connection['id']}"), 404, "not_found")
    assert_envelope(stranger.post("/api/superset/datasets/create", {"connection_id": connection["id"], "schema": "public",
                                                                      "table_name": table}), 404, "not_found")


def test_the_warehouse_becomes_a_read_only_superset_database_of_the_teams_tables(superset, sales):  # noqa: F811
    account, table_id = sales
    name = psql(f"SELECT table_name FROM extracted_tables WHERE id = '{table_id}';")
    # Another team's table must stay out of reach.
    other = register()
    other_connection, _ = connection_with_table(other)
    r = account.post("/api/superset/sync-warehouse")
    assert r.status_code in (200, 201), r.text
    body = r.json()
    database = body["database"]
    assert database["kind"] == "warehouse" and (name in [d["table_name"] for d in body["datasets"]])
    role = psql(f"SELECT warehouse_role FROM superset_databases WHERE superset_database_id = {database['id']};")
    assert role.startswith("assay_superset_")
    # The role reads exactly the team's tables, read-only.
    assert psql(f"SELECT has_table_privilege('{role}', 'warehouse.\"{name}\"', 'SELECT');") == "t"
    assert psql(f"SELECT has_table_privilege('{role}', 'warehouse.\"{name}\"', 'INSERT');") == "f"
    assert psql(f"SELECT has_table_privilege('{role}', 'public.users', 'SELECT');") == "f"
    # Superset queries the extracted table through SQL Lab.
    r = superset.sql(database["id"], f'SELECT count(*) AS n, sum(units) AS units FROM warehouse."{name}"')
    assert r.status_code == 200, r.text
    assert r.json()["data"] == [{"n": 5, "units": 26}]
    # Writes are refused (a read-only role and transaction).
    r = superset.sql(database["id"], f'DELETE FROM warehouse."{name}"')
    assert r.status_code != 200 or "error" in r.text.lower()
    assert psql(f'SELECT count(*) FROM warehouse."{name}";') == "5"
    # A second sync rotates the password and keeps one database and one dataset per table.
    again = account.post("/api/superset/sync-warehouse")
    assert again.status_code == 200, again.text
    assert again.json()["database"]["id"] == database["id"]
    assert len(superset.databases_named(database["database_name"])) == 1
    ids = sorted(d["id"] for d in again.json()["datasets"])
    assert ids == sorted(d["id"] for d in body["datasets"])
    r = superset.sql(database["id"], f'SELECT count(*) AS n FROM warehouse."{name}"')
    assert r.status_code == 200 and r.json()["data"] == [{"n": 5}], r.text
    # The other team's warehouse database (none yet) is not this one.
    assert other.get("/api/superset/databases").json()["items"] == []


def test_a_dashboard_is_pushed_as_charts_and_a_second_push_updates_it(superset, sales):  # noqa: F811
    account, table_id = sales
    board = account.post("/api/dashboards/generate", {"table_ids": [table_id], "options": {"title": "Sales in Superset"}})
    assert board.status_code == 201, board.text
    board = board.json()
    r = account.post(f"/api/superset/dashboards/{board['id']}")
    assert r.status_code == 201, r.text
    pushed = r.json()
    assert pushed["created"] is True and pushed["url"].startswith(ENV["SUPERSET_URL"])
    assert [c["widget_id"] for c in pushed["charts"]] == [w["id"] for w in board["widgets"]]
    types = {w["type"]: c["viz_type"] for w, c in zip(board["widgets"], pushed["charts"])}
    assert types["kpi"] == "big_number_total" and types["bar"] == "echarts_timeseries_bar"
    assert types["line"] == "echarts_timeseries_line" and types["table"] == "table"
    charts = superset.get(f"/api/v1/dashboard/{pushed['superset_dashboard_id']}/charts")["result"]
    assert sorted(c["id"] for c in charts) == sorted(c["chart_id"] for c in pushed["charts"])
    assert superset.get(f"/api/v1/dashboard/{pushed['superset_dashboard_id']}")["result"]["dashboard_title"] == "Sales in Superset"
    # A chart's data comes back from Superset (the dataset and params are usable).
    kpi = next(c for c in pushed["charts"] if c["viz_type"] == "big_number_total")
    data = superset.http.get(f"{superset.base}/api/v1/chart/{kpi['chart_id']}/data/")
    assert data.status_code in (200, 400), data.text  # 400: a chart saved without query_context
    # Drop a widget and push again: the same dashboard, one chart fewer, none duplicated.
    widgets = board["widgets"][:3]
    r = account.put(f"/api/dashboards/{board['id']}", {"widgets": [{k: w[k] for k in ("id", "type", "title", "table", "query", "layout")}
                                                                     for w in widgets]})
    assert r.status_code == 200, r.text
    again = account.post(f"/api/superset/dashboards/{board['id']}")
    assert again.status_code == 200, again.text
    assert again.json()["superset_dashboard_id"] == pushed["superset_dashboard_id"]
    assert [c["chart_id"] for c in again.json()["charts"]] == [c["chart_id"] for c in pushed["charts"][:3]]
    charts = superset.get(f"/api/v1/dashboard/{pushed['superset_dashboard_id']}/charts")["result"]
    assert sorted(c["id"] for c in charts) == sorted(c["chart_id"] for c in pushed["charts"][:3])
    # Someone else's dashboard, or none.
    assert_envelope(register().post(f"/api/superset/dashboards/{board['id']}"), 404, "not_found")
    assert_envelope(account.post("/api/superset/dashboards/00000000-0000-0000-0000-000000000000"), 404, "not_found")


def test_an_expired_or_refused_token_is_refreshed_or_replaced():
    account = register()
    assert account.get("/api/superset/status").status_code == 200
    # The tamper route spoils the login of the worker that serves it, then calls Superset.
    aged = account.post("/api/_test/superset/tamper", {"mode": "aged"}).json()
    assert aged["ok"] is True and aged["refreshes"] == 1 and aged["logins"] == 0, aged
    invalid = account.post("/api/_test/superset/tamper", {"mode": "invalid"}).json()
    assert invalid["ok"] is True and invalid["refreshes"] == 1 and invalid["logins"] == 0, invalid
    both = account.post("/api/_test/superset/tamper", {"mode": "both"}).json()
    assert both["ok"] is True and both["logins"] == 1, both
    # And a write after a refresh (a new CSRF token for the new session).
    account.post("/api/_test/superset/tamper", {"mode": "invalid"})
    connection, _ = connection_with_table(account)
    r = account.post(f"/api/superset/sync/{connection['id']}")
    assert r.status_code == 201, r.text


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_superset_down_or_refusing_the_login_is_a_clear_502(pool):
    account = register()
    connection, _ = connection_with_table(account)
    try:
        pool.restart(SUPERSET_URL=f"http://127.0.0.1:{closed_port()}")
        status = account.get("/api/superset/status")
        assert status.status_code == 200, status.text
        assert status.json()["reachable"] is False and status.json()["logged_in"] is False
        assert status.json()["error"]["code"] == "superset_unreachable"
        started = time.monotonic()
        r = account.post(f"/api/superset/sync/{connection['id']}")
        assert_envelope(r, 502, "superset_unreachable")
        assert time.monotonic() - started < 5
        assert ENV["SUPERSET_PASSWORD"] not in r.text
        # Listings are Assay's own records: they still answer.
        assert account.get("/api/superset/databases").status_code == 200

        pool.restart(SUPERSET_PASSWORD="not-the-password")
        status = account.get("/api/superset/status").json()
        assert status["reachable"] is True and status["logged_in"] is False and status["error"]["code"] == "superset_auth_failed"
        r = account.post(f"/api/superset/sync/{connection['id']}")
        assert_envelope(r, 502, "superset_auth_failed")
        assert "not-the-password" not in r.text

        pool.restart(SUPERSET_URL="")
        status = account.get("/api/superset/status").json()
        assert status["configured"] is False and status["reachable"] is False
        assert_envelope(account.post(f"/api/superset/sync/{connection['id']}"), 503, "superset_not_configured")
    finally:
        pool.restart()
    log = ENV["ASSAY_LOG"]
    with open(log, errors="replace") as f:
        text = f.read()
    assert ENV["SUPERSET_PASSWORD"] not in text and "not-the-password" not in text


def test_bad_requests_are_named():
    account = register()
    connection, _ = connection_with_table(account)
    r = account.post(f"/api/superset/sync/{connection['id']}", {"datasets": "yes"})
    assert_envelope(r, 422, "validation_failed")
    r = account.post(f"/api/superset/sync/{connection['id']}", {"datasets": ["no_dot"]})
    assert_envelope(r, 422, "validation_failed")
    assert_envelope(account.post("/api/superset/sync/00000000-0000-0000-0000-000000000000"), 404, "not_found")
    r = account.post("/api/superset/datasets/create", {"database_id": 1, "connection_id": connection["id"], "schema": "s", "table_name": "t"})
    assert_envelope(r, 422, "validation_failed")
