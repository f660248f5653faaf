"""POST /api/query: the query layer over warehouse tables (every measure, bucket, bin and
operator; errors naming the bad part; team scoping; values and names that try injection)."""
import datetime

import pytest

from access_helpers import assert_invalid, psql, register
from conftest import assert_envelope
from test_export import table_of

TODAY = datetime.date.today().isoformat()


@pytest.fixture(scope="module")
def sales():
    """An extracted table (customer, note, units, price) given a date and a boolean column and
    five known rows, the last dated today."""
    account = register()
    table = table_of(account)
    name = table["name"]
    psql(f"""
        ALTER TABLE warehouse."{name}" ADD COLUMN day date, ADD COLUMN paid boolean;
        DELETE FROM warehouse."{name}";
        INSERT INTO warehouse."{name}" (_row, customer, note, units, price, day, paid) VALUES
            (1, 'Acme', 'a', 10, 2.50, '2024-01-05', true),
            (2, 'Acme', 'b', 5, 4.00, '2024-01-20', false),
            (3, 'Beta', 'c', 7, 1.00, '2024-02-03', true),
            (4, 'Gamma Ltd', 'd', 1, 100.00, '2024-03-15', NULL),
            (5, 'Beta', NULL, 3, 3.00, '{TODAY}', true);
        UPDATE extracted_tables SET row_count = 5,
            columns = columns || '[{{"name": "day", "header": "Day", "type": "date"}},
                                   {{"name": "paid", "header": "Paid", "type": "boolean"}}]'::jsonb
        WHERE id = '{table["id"]}';
    """)
    return account, table["id"]


def query(account, table, **spec):
    r = account.post("/api/query", {"table": table, **spec})
    assert r.status_code == 200, r.text
    return r.json()


def test_group_by_a_column_with_every_measure(sales):
    account, table = sales
    result = query(account, table, dimensions=["customer"],
                   measures=[{"op": "count"}, {"op": "count_distinct", "column": "note"}, {"op": "sum", "column": "units"},
                             {"op": "avg", "column": "price"}, {"op": "min", "column": "day"},
                             {"op": "max", "column": "day"}, {"op": "median", "column": "units", "as": "typical"}],
                   order=[{"by": "customer"}])
    assert [c["name"] for c in result["columns"]] == ["customer", "count", "count_distinct_note", "sum_units", "avg_price",
                                                       "min_day", "max_day", "typical"]
    assert [c["type"] for c in result["columns"]] == ["text", "number", "number", "number", "number", "date", "date", "number"]
    assert result["columns"][3]["label"] == "Total Units" and result["columns"][0]["role"] == "dimension"
    acme, beta, gamma = result["rows"]
    assert acme == ["Acme", 2, 2, 15, pytest.approx(3.25), "2024-01-05", "2024-01-20", 7.5]
    assert beta[:4] == ["Beta", 2, 1, 10] and beta[6] == TODAY
    assert gamma[0] == "Gamma Ltd" and gamma[3] == 1
    assert result["row_count"] == 3 and result["truncated"] is False
    assert result["sql"].startswith("WITH src AS") and result["duration_ms"] >= 0


def test_the_whole_table_aggregated(sales):
    account, table = sales
    [row] = query(account, table, measures=[{"op": "count"}, {"op": "avg", "column": "price"},
                                            {"op": "count_distinct", "column": "customer"}])["rows"]
    assert row[0] == 5 and row[1] == pytest.approx(22.1) and row[2] == 3


def test_date_buckets(sales):
    account, table = sales
    expected = {
        "month": [["2024-01-01", 15], ["2024-02-01", 7], ["2024-03-01", 1]],
        "quarter": [["2024-01-01", 23]],
        "year": [["2024-01-01", 23]],
        "week": [["2024-01-01", 10], ["2024-01-15", 5], ["2024-01-29", 7], ["2024-03-11", 1]],
        "day": [["2024-01-05", 10], ["2024-01-20", 5], ["2024-02-03", 7], ["2024-03-15", 1]],
    }
    for bucket, rows in expected.items():
        result = query(account, table, dimensions=[{"column": "day", "bucket": bucket}], measures=[{"op": "sum", "column": "units"}],
                       filters=[{"column": "day", "op": "<", "value": "2025-01-01"}])
        assert result["rows"] == rows, (bucket, result["rows"])
        assert result["columns"][0]["name"] == f"day_{bucket}" and result["columns"][0]["type"] == "date"


def test_histogram_bins(sales):
    account, table = sales
    result = query(account, table, dimensions=[{"column": "price", "bins": 2}], measures=[{"op": "count"}])
    assert [[float(lo), n] for lo, n in result["rows"]] == [[1.0, 4], [50.5, 1]]


@pytest.mark.parametrize("condition, customers", [
    ({"column": "customer", "op": "=", "value": "Acme"}, ["Acme", "Acme"]),
    ({"column": "customer", "op": "!=", "value": "Acme"}, ["Beta", "Gamma Ltd", "Beta"]),
    ({"column": "units", "op": "<", "value": 5}, ["Gamma Ltd", "Beta"]),
    ({"column": "units", "op": "<=", "value": 5}, ["Acme", "Gamma Ltd", "Beta"]),
    ({"column": "price", "op": ">", "value": "3"}, ["Acme", "Gamma Ltd"]),
    ({"column": "price", "op": ">=", "value": 3}, ["Acme", "Gamma Ltd", "Beta"]),
    ({"column": "customer", "op": "in", "values": ["Beta", "Nobody"]}, ["Beta", "Beta"]),
    ({"column": "day", "op": "between", "values": ["2024-01-10", "2024-02-03"]}, ["Acme", "Beta"]),
    ({"column": "customer", "op": "contains", "value": "LTD"}, ["Gamma Ltd"]),
    ({"column": "paid", "op": "is_null"}, ["Gamma Ltd"]),
    ({"column": "note", "op": "is_not_null"}, ["Acme", "Acme", "Beta", "Gamma Ltd"]),
    ({"column": "paid", "op": "=", "value": False}, ["Acme"]),
    ({"column": "day", "op": "last_30_days"}, ["Beta"]),
    ({"column": "day", "op": "this_year"}, ["Beta"]),
    ({"column": "day", "op": "today"}, ["Beta"]),
    ({"column": "day", "op": "last_year"}, []),
])
def test_each_filter_operator(sales, condition, customers):
    account, table = sales
    result = query(account, table, columns=["customer"], filters=[condition], order=[{"by": "customer"}])
    assert sorted(r[0] for r in result["rows"]) == sorted(customers)


def test_rows_mode_order_limit_and_truncation(sales):
    account, table = sales
    result = query(account, table, columns=["customer", "units"], order=[{"by": "units", "direction": "desc"}], limit=2)
    assert result["rows"] == [["Acme", 10], ["Beta", 7]] and result["truncated"] is True
    every = query(account, table)
    assert [c["name"] for c in every["columns"]] == ["customer", "note", "units", "price", "day", "paid"]
    assert every["row_count"] == 5 and every["truncated"] is False
    assert [c["label"] for c in every["columns"]][:2] == ["Customer", "Note"]


def test_values_are_bound_and_names_are_checked(sales):
    account, table = sales
    hostile = "x'); DROP TABLE users; --"
    result = query(account, table, columns=["customer"], filters=[{"column": "customer", "op": "=", "value": hostile}])
    assert result["rows"] == [] and hostile in result["parameters"] and hostile not in result["sql"]
    assert query(account, table, columns=["customer"], filters=[{"column": "note", "op": "contains", "value": "%' OR 1=1 --"}])["rows"] == []
    assert_invalid(account.post("/api/query", {"table": table, "columns": ['customer" FROM users; --']}), "columns[0]")
    assert_invalid(account.post("/api/query", {"table": table, "measures": [{"op": "sum", "column": "units) FROM users --"}]}),
                   "measures[0].column")
    assert psql("SELECT count(*) FROM users") != "0"


def test_every_bad_part_is_named(sales):
    account, table = sales
    r = account.post("/api/query", {
        "table": table,
        "dimensions": [{"column": "units", "bucket": "month"}, {"column": "customer", "bins": 3}, "nope"],
        "measures": [{"op": "sum", "column": "customer"}, {"op": "mode", "column": "units"}, {"op": "avg"}],
        "filters": [{"column": "day", "op": "=", "value": "2024-02-30"}, {"column": "customer", "op": "<", "value": "A"},
                    {"column": "units", "op": "between", "values": [1]}, {"column": "units", "op": "like", "value": 1},
                    {"column": "customer", "op": "last_30_days"}, {"column": "units", "op": "=", "value": "ten"}],
        "order": [{"by": "missing"}],
        "limit": 0,
    })
    error = assert_envelope(r, 422, "validation_failed")
    assert set(error["fields"]) >= {
        "dimensions[0].bucket", "dimensions[1].bins", "dimensions[2].column", "measures[0].column", "measures[1].op",
        "measures[2].column", "filters[0].value", "filters[1].op", "filters[2].values", "filters[3].op", "filters[4].op",
        "filters[5].value", "limit",
    }, error["fields"]
    assert "its columns: customer, note, units, price, day, paid" in error["fields"]["dimensions[2].column"]
    assert_invalid(account.post("/api/query", {"table": table, "dimensions": ["customer"]}), "measures")
    assert_invalid(account.post("/api/query", {"table": table, "measures": [{"op": "count"}], "order": [{"by": "zz"}]}), "order[0].by")
    assert_invalid(account.post("/api/query", {}), "table")
    assert_invalid(account.post("/api/query", {"table": "not-a-uuid"}), "table")


def test_another_teams_table_is_404(sales):
    _, table = sales
    r = register().post("/api/query", {"table": table, "measures": [{"op": "count"}]})
    assert_envelope(r, 404, "not_found")
    r = register().post("/api/query", {"table": "6f1c9b3e-0000-4000-8000-000000000000"})
    assert_envelope(r, 404, "not_found")


def test_results_are_cached_until_the_table_changes(sales):
    account, table = sales
    spec = {"measures": [{"op": "sum", "column": "units"}], "filters": [{"column": "customer", "op": "=", "value": "Acme"}]}
    answers = [query(account, table, **spec) for _ in range(8)]
    assert {a["rows"][0][0] for a in answers} == {15}
    assert any(a["cached"] for a in answers), "eight identical queries over three workers: one was served from a cache"
    # A changed table is never answered from a cache: its metadata row's change notifies every worker.
    psql(f"""UPDATE warehouse."{answers[0]['table']['name']}" SET units = units + 100 WHERE customer = 'Acme';
             UPDATE extracted_tables SET row_count = row_count WHERE id = '{table}';""")
    after = [query(account, table, **spec) for _ in range(8)]
    assert {a["rows"][0][0] for a in after} == {215}, [a["rows"] for a in after]
    psql(f"""UPDATE warehouse."{answers[0]['table']['name']}" SET units = units - 100 WHERE customer = 'Acme';
             UPDATE extracted_tables SET row_count = row_count WHERE id = '{table}';""")


def test_an_etl_table_is_queried_and_a_sync_refreshes_its_results():
    from test_etl import connect, insert, make_table, run
    account = register()
    connection = connect(account, "postgresql")
    name = make_table("postgresql", [(1, "a", "1.50"), (2, "b", "2.00")])
    first = run(account, connection, {"tables": [{"name": name, "sync_mode": "full_refresh"}]})
    assert first["status"] == "succeeded", first
    tables = account.get("/api/warehouse/tables?source=connection").json()["items"]
    [table] = [t for t in tables if t["name"] == first["tables"][0]["warehouse_table"]]
    spec = {"measures": [{"op": "sum", "column": "amount"}, {"op": "count"}]}
    assert [query(account, table["id"], **spec)["rows"] for _ in range(6)] == [[[3.5, 2]]] * 6
    insert("postgresql", name, [(3, "c", "10.00")])
    assert run(account, connection, {"tables": [{"name": name, "sync_mode": "full_refresh"}]})["status"] == "succeeded"
    assert [query(account, table["id"], **spec)["rows"] for _ in range(6)] == [[[13.5, 3]]] * 6


def test_a_table_profile_describes_every_column(sales):
    account, table = sales
    r = account.get(f"/api/tables/{table}/profile")
    assert r.status_code == 200, r.text
    profile = r.json()
    assert profile["table"]["id"] == table and profile["row_count"] == 5 and profile["sampled"] is False
    columns = {c["name"]: c for c in profile["columns"]}
    assert list(columns) == ["customer", "note", "units", "price", "day", "paid"]
    customer = columns["customer"]
    assert customer["type"] == "text" and customer["role"] == "category" and customer["distinct_estimate"] == 3
    assert customer["top_values"] == [{"value": "Acme", "count": 2}, {"value": "Beta", "count": 2}, {"value": "Gamma Ltd", "count": 1}]
    assert customer["min"] is None and customer["null_share"] == 0
    assert columns["units"]["role"] == "measure" and (columns["units"]["min"], columns["units"]["max"]) == ("1", "10")
    assert columns["price"]["role"] == "currency_amount"
    assert columns["day"]["role"] == "date" and columns["day"]["max"] == TODAY
    assert columns["paid"]["null_share"] == 0.2 and columns["paid"]["role"] == "category"
    # Kept: asked again, the same computation; changed, computed again.
    assert account.get(f"/api/tables/{table}/profile").json()["computed_at"] == profile["computed_at"]
    psql(f"UPDATE extracted_tables SET row_count = 6 WHERE id = '{table}';")
    again = account.get(f"/api/tables/{table}/profile").json()
    assert again["computed_at"] > profile["computed_at"] and again["row_count"] == 6
    psql(f"UPDATE extracted_tables SET row_count = 5 WHERE id = '{table}';")
    assert_envelope(register().get(f"/api/tables/{table}/profile"), 404, "not_found")


def test_a_large_table_is_profiled_on_a_sample():
    account = register()
    table = table_of(account)
    name = table["name"]
    psql(f"""
        DELETE FROM warehouse."{name}";
        INSERT INTO warehouse."{name}" (_row, customer, note, units, price)
            SELECT g, 'C' || (g % 7), 'order ' || g, g, (g % 1000) / 10.0 FROM generate_series(1, 400000) g;
        UPDATE extracted_tables SET row_count = 400000 WHERE id = '{table["id"]}';
        ANALYZE warehouse."{name}";
    """)
    profile = account.get(f"/api/tables/{table['id']}/profile").json()
    assert profile["sampled"] is True and 25_000 <= profile["sample_rows"] <= 100_000, profile["sample_rows"]
    columns = {c["name"]: c for c in profile["columns"]}
    assert columns["customer"]["distinct_estimate"] == 7 and columns["customer"]["role"] == "category"
    # A unique column's distinct count is scaled from the sample to the table.
    assert 300_000 <= columns["units"]["distinct_estimate"] <= 500_000
    assert columns["note"]["distinct_estimate"] >= 300_000
