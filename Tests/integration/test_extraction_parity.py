"""The upload API stores exactly the tables `assay extract` reports: the same pages, column
names, headers and types, and the same values in every row; and finds the same invoice
fields. Also: each drawn test document gives the header and every data row a person reads
on it."""
import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from access_helpers import call, client, psql, register
from conftest import ENV
from documents_helpers import make_pdf
from test_documents import upload, wait_done

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "tables"

# Text-layer documents built here, beside the drawn fixtures: an unruled table with a
# header line, one continuing on a second page, an invoice, and a page without any table.
BUILT = {
    "built-unruled.pdf": make_pdf([[
        "Quarterly report",
        ["Region", "Units", "Revenue", "Updated"],
        ["North", "120", "1,250.50", "2024-01-05"],
        ["South", "95", "980.00", "2024-01-06"],
        ["East", "143", "1,410.25", "2024-01-07"],
        ["West", "88", "870.75", "2024-01-08"],
    ]]),
    "built-two-pages.pdf": make_pdf([
        [f"line {n}" for n in range(30)] + [["Item", "Qty", "Price"]] + [[f"Part {n}", str(n), f"{n}.50"] for n in range(1, 12)],
        [[f"Part {n}", str(n), f"{n}.50"] for n in range(12, 20)] + ["End of list"],
    ]),
    "built-invoice.pdf": make_pdf([[
        "ACME Trading GmbH", "Musterstrasse 1, 10115 Berlin", "",
        "Invoice No: INV-2024-0042", "Invoice Date: 05.03.2024", "",
        ["Item", "Qty", "Price"], ["Bolts", "10", "2.50"], ["Nuts", "20", "1.25"], ["Washers", "5", "0.80"], "",
        "Total due: 54.00 EUR",
    ]]),
    "built-prose.pdf": make_pdf([["Dear customer, thank you for your order of last week."]]),
}


def documents():
    docs = [(name, content) for name, content in BUILT.items()]
    docs += [(path.name, path.read_bytes()) for path in sorted(FIXTURES.glob("*.pdf"))]
    return docs


def cli(path):
    out = subprocess.run([ENV["ASSAY_BIN"], "extract", str(path)], capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout)
    assert "error" not in result, result
    return result


def cli_tables(path):
    """The stored tables `assay extract` reports; a table continuing on further pages also has
    an entry per further page (`continues`) with the grid found there, for the scorers."""
    tables = cli(path)["tables"]
    stored = [table for table in tables if "continues" not in table]
    for index, table in enumerate(tables):
        if "continues" in table:
            continued = tables[table["continues"]]
            assert "continues" not in continued and table["page"] in continued["pages"], (path.name, index)
    # The page grids hold what was read: every body row found, and the header rows as found.
    for table in stored:
        grids = [table["rows"]] + [t["rows"] for t in tables if t.get("continues") == tables.index(table)]
        assert table["rows"][:len(table["header_rows"])] == table["header_rows"], path.name
        assert sum(len(grid) for grid in grids) >= len(table["header_rows"]) + len(table["values"]), path.name
        if len(grids) == 1:
            assert len(table["rows"]) == len(table["header_rows"]) + len(table["values"]), path.name
    return stored


def typed(value, column_type):
    """A CLI value (the text PostgreSQL parses) as the API's typed JSON presents it."""
    if value is None:
        return None
    if column_type == "integer":
        return int(value)
    if column_type in ("decimal", "currency", "percent"):
        return Decimal(value)
    if column_type == "boolean":
        return value == "true"
    return value


def api_tables(account, document_id):
    r = call(client(), "GET", f"/api/documents/{document_id}/tables", token=account.access)
    assert r.status_code == 200, r.text
    tables = []
    for item in r.json()["items"]:
        rows = call(client(), "GET", f"/api/tables/{item['id']}/rows?limit=1000", token=account.access)
        assert rows.status_code == 200, rows.text
        body = rows.json()
        assert body["total"] == item["row_count"] == len(body["rows"]), body
        tables.append((item, body["rows"]))
    return tables


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Every document uploaded once; returns {name: (path, [(table, rows)], document id, account)}."""
    folder = tmp_path_factory.mktemp("parity")
    uploaded = {}
    for index, (name, content) in enumerate(documents()):
        if index % 4 == 0:
            # The hourly upload quota (10 per user) counts uploads and field extractions alike.
            account = register()
        (folder / name).write_bytes(content)
        r = upload(account, content, filename=name)
        assert r.status_code == 202, r.text
        uploaded[name] = (r.json()["id"], account)
    result = {}
    for name, (document_id, account) in uploaded.items():
        status = wait_done(account, document_id, timeout=120)
        assert status["status"] == "done", status
        result[name] = (folder / name, api_tables(account, document_id), document_id, account)
    return result


def test_the_api_stores_exactly_what_the_batch_command_reports(stored):
    assert len(stored) >= len(BUILT)
    for name, (path, api, _, _) in stored.items():
        cli = cli_tables(path)
        assert len(api) == len(cli), f"{name}: API stored {len(api)} tables, assay extract reports {len(cli)}"
        for index, ((item, rows), expected) in enumerate(zip(api, cli)):
            where = f"{name} table {index + 1}"
            assert item["page"] == expected["page"], where
            assert item["pages"] == [expected["pages"][0], expected["pages"][-1]], where
            assert item["columns"] == expected["columns"], where
            assert item["row_count"] == len(expected["values"]), where
            names = [c["name"] for c in expected["columns"]]
            types = [c["type"] for c in expected["columns"]]
            for number, (row, values) in enumerate(zip(rows, expected["values"]), start=1):
                got = [row[n] for n in names]
                got = [Decimal(str(v)) if t in ("decimal", "currency", "percent") and v is not None else v
                       for v, t in zip(got, types)]
                assert got == [typed(v, t) for v, t in zip(values, types)], f"{where} row {number}"


def test_the_api_finds_the_invoice_fields_the_batch_command_reports(stored):
    """Fields are read from the pages the job stored; the batch command reads them in memory."""
    found = 0
    for name, (path, _, document_id, account) in stored.items():
        r = call(client(), "POST", "/api/documents/extract", token=account.access,
                 json={"document_id": document_id, "table_id": "invoice"})
        assert r.status_code == 200, r.text
        values = {k: v for k, v in r.json()["values"].items() if v is not None}
        assert values == cli(path)["fields"], name
        found += len(values)
    assert found > 0


def test_a_document_without_a_table_stores_none(stored):
    _, api, _, _ = stored["built-prose.pdf"]
    assert api == []


def test_an_unruled_table_keeps_its_header_and_every_row(stored):
    _, api, _, _ = stored["built-unruled.pdf"]
    assert len(api) == 1
    item, rows = api[0]
    assert [c["header"] for c in item["columns"]] == ["Region", "Units", "Revenue", "Updated"]
    assert [c["type"] for c in item["columns"]] == ["text", "integer", "decimal", "date"]
    assert [r["region"] for r in rows] == ["North", "South", "East", "West"]
    assert rows[0]["revenue"] == 1250.5 and rows[3]["updated"] == "2024-01-08"


def test_a_table_continuing_on_the_next_page_is_one_table(stored):
    path, api, _, _ = stored["built-two-pages.pdf"]
    assert len(api) == 1, [t["columns"] for t, _ in api]
    item, rows = api[0]
    assert item["pages"] == [1, 2]
    assert [c["header"] for c in item["columns"]] == ["Item", "Qty", "Price"]
    assert [r["item"] for r in rows] == [f"Part {n}" for n in range(1, 20)]
    # The scorers see it page by page, as printed: the header and first rows, then the rest.
    pages = [(t["page"], [row[0] for row in t["rows"]]) for t in cli(path)["tables"]]
    assert pages == [(1, ["Item"] + [f"Part {n}" for n in range(1, 12)]), (2, [f"Part {n}" for n in range(12, 20)])]


@pytest.mark.parametrize("expected_file", sorted(FIXTURES.glob("*.json")), ids=lambda p: p.stem)
def test_each_drawn_table_gives_its_header_and_every_data_row(stored, expected_file):
    """The fixture's JSON says what a person reads in the document's main table: the column
    headers and every data row, with each cell's text as stored beside the typed values."""
    expected = json.loads(expected_file.read_text())
    name = expected_file.with_suffix(".pdf").name
    _, api, _, _ = stored[name]
    headers = [[c["header"] for c in item["columns"]] for item, _ in api]
    assert expected["header"] in headers, f"{name}: stored headers {headers}"
    item, _ = api[headers.index(expected["header"])]
    assert item["row_count"] == len(expected["rows"]), name
    cells = json.loads(cells_of(item["id"]))
    assert [[cell[0] for cell in row] for row in cells] == expected["rows"], name


def cells_of(table_id):
    return psql("SELECT cells FROM extracted_tables WHERE id = :'id';", id=table_id)
