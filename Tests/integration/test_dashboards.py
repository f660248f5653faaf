"""Dashboards: generated from a text PDF's table and from an ETL'd table (the expected widget
kinds, titles from headers, each widget's data), edited, filtered, listed, deleted; errors,
privacy and the dashboard quota."""
import pytest

from access_helpers import assert_invalid, psql, register
from conftest import assert_envelope
from test_query import TODAY, sales  # noqa: F401 (the fixture)


def generate(account, **body):
    r = account.post("/api/dashboards/generate", body)
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == f"/api/dashboards/{r.json()['id']}"
    return r.json()


def test_generated_from_a_documents_table(sales):  # noqa: F811
    account, table = sales
    document = psql(f"SELECT document_id FROM extracted_tables WHERE id = '{table}';")
    board = generate(account, document_id=document)
    assert board["sources"] == {"document_id": document} and board["theme"] == "light"
    kinds = [(w["type"], w["title"]) for w in board["widgets"]]
    assert kinds[:7] == [("kpi", "Number of rows"), ("kpi", "Total Price"), ("kpi", "Average Price"), ("kpi", "Total Units"),
                         ("line", "Total Price by month"), ("bar", "Total Price by Customer"),
                         ("histogram", "Distribution of Price")], kinds
    assert kinds[7][0] == "table" and len(kinds) == 8
    data = {w["title"]: w["data"] for w in board["widgets"]}
    assert data["Number of rows"]["rows"] == [[5]]
    assert data["Total Units"]["rows"] == [[26]]
    assert [r[0] for r in data["Total Price by Customer"]["rows"]] == ["Gamma Ltd", "Acme", "Beta"]
    assert data["Total Price by month"]["rows"][0][0] == "2024-01-01"
    assert len(data[kinds[7][1]]["rows"]) == 5
    # Every widget has an id, its table and a place in the 12-column grid.
    assert [w["id"] for w in board["widgets"]] == [f"w{i}" for i in range(1, 9)]
    assert all(w["table"] == table and 0 <= w["layout"]["x"] < 12 and w["layout"]["x"] + w["layout"]["w"] <= 12
               for w in board["widgets"])
    # max_widgets, a title and a theme.
    small = generate(account, table_ids=[table], options={"max_widgets": 2, "title": "Sales", "theme": "dark"})
    assert [w["type"] for w in small["widgets"]] == ["kpi", "kpi"] and small["title"] == "Sales" and small["theme"] == "dark"


def test_generated_from_a_connections_synced_table():
    from test_etl import connect, make_table, run
    account = register()
    connection = connect(account, "postgresql")
    name = make_table("postgresql", [(1, "a", "1.50"), (2, "b", "2.00"), (3, "c", "7.25")])
    assert run(account, connection, {"tables": [{"name": name, "sync_mode": "full_refresh"}]})["status"] == "succeeded"
    board = generate(account, connection_id=connection)
    kinds = [(w["type"], w["title"]) for w in board["widgets"]]
    assert ("kpi", "Total amount") in kinds and ("histogram", "Distribution of amount") in kinds
    assert ("line", "Total amount by day") in kinds and kinds[-1][0] == "table"
    assert not any("Total id" in title for _, title in kinds), "an id column is not a measure"
    total = next(w for w in board["widgets"] if w["title"] == "Total amount")
    assert total["data"]["rows"] == [[10.75]]


def test_edit_filter_read_without_data_list_and_delete(sales):  # noqa: F811
    account, table = sales
    board = generate(account, table_ids=[table])
    bid = board["id"]
    count = board["widgets"][0]
    # Rename, keep two widgets in another order, change one's type and spec.
    bars = dict(board["widgets"][5], type="pie", query={"dimensions": ["customer"], "measures": [{"op": "count"}]})
    r = account.put(f"/api/dashboards/{bid}", {"title": "Renamed", "widgets": [bars, count]})
    assert r.status_code == 200, r.text
    edited = r.json()
    assert edited["title"] == "Renamed" and [w["type"] for w in edited["widgets"]] == ["pie", "kpi"]
    assert sorted(edited["widgets"][0]["data"]["rows"]) == [["Acme", 2], ["Beta", 2], ["Gamma Ltd", 1]]
    # A dashboard filter applies to every widget over a table with that column.
    r = account.put(f"/api/dashboards/{bid}", {"filters": [{"column": "customer", "op": "=", "value": "Acme"}]})
    filtered = r.json()
    assert filtered["widgets"][1]["data"]["rows"] == [[2]]
    assert filtered["widgets"][0]["data"]["rows"] == [["Acme", 2]]
    # Bad filters are named, checked against each widget table they apply to.
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"filters": [{"column": "day", "op": "=", "value": "not a date"}]}),
                   "filters[0].value")
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"filters": [{"column": "nope", "op": "="}]}), "filters[0].column")
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"filters": [{"column": "customer", "op": "between", "values": [1, 2]}]}),
                   "filters[0].op")
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"filters": ["customer"]}), "filters[0]")
    # Bad widgets are named.
    bad = dict(count, query={"measures": [{"op": "sum", "column": "nope"}]})
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"widgets": [bad]}), "widgets[0].query.measures[0].column")
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"widgets": [dict(count, table="6f1c9b3e-0000-4000-8000-000000000000")]}),
                   "widgets[0].table")
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"widgets": [dict(count, type="radar")]}), "widgets[0].type")
    assert_invalid(account.put(f"/api/dashboards/{bid}", {"theme": "neon"}), "theme")
    # Without data; listed; deleted.
    plain = account.get(f"/api/dashboards/{bid}?data=false").json()
    assert all("data" not in w for w in plain["widgets"]) and plain["filters"][0]["column"] == "customer"
    assert_invalid(account.get(f"/api/dashboards/{bid}?data=maybe"), "data")
    listed = account.get("/api/dashboards?limit=1").json()
    assert listed["items"][0]["id"] == bid and listed["items"][0]["widget_count"] == 2 and listed["next_cursor"]
    assert_envelope(register().get(f"/api/dashboards/{bid}"), 404, "not_found")
    assert account.delete(f"/api/dashboards/{bid}").json() == {"id": bid, "status": "deleted"}
    assert_envelope(account.get(f"/api/dashboards/{bid}"), 404, "not_found")


def test_generate_errors_are_clear(sales):  # noqa: F811
    account, table = sales
    assert_invalid(account.post("/api/dashboards/generate", {}), "document_id")
    assert_invalid(account.post("/api/dashboards/generate", {"document_id": table, "table_ids": [table]}), "document_id")
    assert_invalid(account.post("/api/dashboards/generate", {"table_ids": ["x"]}), "table_ids[0]")
    assert_invalid(account.post("/api/dashboards/generate", {"table_ids": [table], "options": {"max_widgets": 99}}),
                   "options.max_widgets")
    r = account.post("/api/dashboards/generate", {"document_id": "6f1c9b3e-0000-4000-8000-000000000000"})
    assert_envelope(r, 404, "not_found")
    r = register().post("/api/dashboards/generate", {"table_ids": [table]})
    assert_envelope(r, 404, "not_found")


def test_generating_counts_against_the_dashboard_quota(pool, sales):  # noqa: F811
    account, table = sales
    pool.restart(ASSAY_QUOTA_DASHBOARD=2)
    try:
        fresh = register()
        other = fresh.post("/api/dashboards/generate", {"table_ids": [table]})
        assert other.status_code == 404  # counted even so: the quota is per request
        assert fresh.post("/api/dashboards/generate", {"table_ids": [table]}).status_code == 404
        r = fresh.post("/api/dashboards/generate", {"table_ids": [table]})
        assert_envelope(r, 429, "quota_exceeded")
        assert int(r.headers["Retry-After"]) > 0
    finally:
        pool.restart()


def test_each_widget_is_served_as_an_svg_chart(sales):  # noqa: F811
    import xml.etree.ElementTree as ET
    account, table = sales
    board = generate(account, table_ids=[table], options={"theme": "dark"})
    for widget in board["widgets"]:
        r = account.get(f"/api/dashboards/{board['id']}/widgets/{widget['id']}.svg")
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "image/svg+xml; charset=utf-8"
        root = ET.fromstring(r.content)
        assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("role") == "img"
        assert root.find("{http://www.w3.org/2000/svg}title").text == widget["title"]
        assert "assay-theme-dark" in root.get("class")
    # The same widget twice: the same bytes.
    first = f"/api/dashboards/{board['id']}/widgets/w1.svg"
    assert account.get(first).content == account.get(first).content
    # The KPI shows the row count; the bar chart has a bar per customer.
    assert ">5<" in account.get(first).text
    bars = next(w for w in board["widgets"] if w["type"] == "bar")
    assert account.get(f"/api/dashboards/{board['id']}/widgets/{bars['id']}.svg").text.count("<rect class=\"s0\"") == 3
    # A title that looks like markup stays text.
    widgets = board["widgets"]
    widgets[0]["title"] = "<script>alert(1)</script>"
    assert account.put(f"/api/dashboards/{board['id']}", {"widgets": widgets}).status_code == 200
    svg = account.get(first).text
    assert "<script" not in svg and "&lt;script&gt;" in svg
    # Unknown widgets, another suffix, another team.
    assert_envelope(account.get(f"/api/dashboards/{board['id']}/widgets/w99.svg"), 404, "not_found")
    assert_envelope(account.get(f"/api/dashboards/{board['id']}/widgets/w1.png"), 404, "not_found")
    assert_envelope(register().get(first), 404, "not_found")


def test_a_dashboard_and_its_svgs_are_kept_until_a_table_or_the_dashboard_changes():
    from test_etl import connect, insert, make_table, run
    account = register()
    connection = connect(account, "postgresql")
    name = make_table("postgresql", [(1, "a", "1.50"), (2, "b", "2.00")])
    first = run(account, connection, {"tables": [{"name": name, "sync_mode": "full_refresh"}]})
    assert first["status"] == "succeeded", first
    board = generate(account, connection_id=connection)
    kpi = next(w for w in board["widgets"] if w["title"] == "Number of rows")

    def rows_count():
        return next(w for w in account.get(f"/api/dashboards/{board['id']}").json()["widgets"] if w["id"] == kpi["id"])["data"]["rows"]

    def svg():
        r = account.get(f"/api/dashboards/{board['id']}/widgets/{kpi['id']}.svg")
        assert r.status_code == 200, r.text
        return r.text

    # Asked often enough that every worker answers from what it kept.
    assert [rows_count() for _ in range(6)] == [[[2]]] * 6
    before = {svg() for _ in range(6)}
    assert len(before) == 1
    # A sync changes the table: no worker answers from before.
    insert("postgresql", name, [(3, "c", "10.00")])
    assert run(account, connection, {"tables": [{"name": name, "sync_mode": "full_refresh"}]})["status"] == "succeeded"
    assert [rows_count() for _ in range(6)] == [[[3]]] * 6
    after = {svg() for _ in range(6)}
    assert len(after) == 1 and after != before
    # Neither does an edit of the dashboard (its theme).
    assert account.put(f"/api/dashboards/{board['id']}", {"theme": "dark"}).status_code == 200
    assert all("#111827" in svg() for _ in range(6))
    # Another team never sees what one team's request kept.
    assert_envelope(register().get(f"/api/dashboards/{board['id']}"), 404, "not_found")
