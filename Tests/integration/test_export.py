"""Export of an extracted table: CSV read back with Python's csv module (quotes, commas,
newlines, unicode, formulas), JSON and NDJSON with typed values, clear errors, privacy
and the export quota."""
import csv
import io
import json

import pytest

from access_helpers import assert_invalid, call, client, create_key, psql, register, team_with_member
from conftest import assert_envelope
from documents_helpers import make_pdf
from test_documents import upload, wait_done

PAGE = [
    "Orders",
    ["Customer", "Note", "Units", "Price"],
    ["Müller, Jörg", "said \"hi\"", "12", "4.50"],
    ["=SUM(A1:A9)", "@cmd", "7", "12.00"],
    ["-ab", "+plus", "1,200", "0.99"],
]


def table_of(account):
    doc = upload(account, make_pdf([PAGE])).json()
    assert wait_done(account, doc["id"])["status"] == "done"
    tables = account.get(f"/api/documents/{doc['id']}/tables").json()["items"]
    assert len(tables) == 1, tables
    table = tables[0]
    # A newline inside a cell (a PDF line cannot carry one).
    psql(f'UPDATE warehouse."{table["name"]}" SET note = E\'two\\nlines\' WHERE _row = 3;')
    return table


def export(account, table_id, body):
    return account.post(f"/api/export/table/{table_id}", body)


def test_csv_round_trips_through_a_real_reader():
    account = register()
    table = table_of(account)
    r = export(account, table["id"], {"format": "csv"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=\"") and f"{table['name']}.csv" in disposition
    assert b"\r\n" in r.content and r.content.count(b"\r\n") >= 4
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8"), newline="")))
    assert rows[0] == ["Customer", "Note", "Units", "Price"]
    assert rows[1] == ["Müller, Jörg", 'said "hi"', "12", "4.50"]
    # Formulas are neutralised in text cells; numbers stay numbers.
    assert rows[2] == ["'=SUM(A1:A9)", "'@cmd", "7", "12.00"]
    assert rows[3] == ["'-ab", "two\nlines", "1200", "0.99"]
    assert len(rows) == 4
    # Options: a BOM and semicolons for spreadsheet users, protection off on request.
    r = export(account, table["id"], {"format": "csv", "options": {"delimiter": ";", "bom": True, "formula_protection": False}})
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.content[3:].decode("utf-8"), newline=""), delimiter=";"))
    assert rows[2][0] == "=SUM(A1:A9)" and rows[1][0] == "Müller, Jörg"


def test_json_and_ndjson_carry_typed_values():
    account = register()
    table = table_of(account)
    r = export(account, table["id"], {"format": "json"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json", r.text
    body = r.json()
    assert set(body) == {"metadata", "columns", "rows"}
    assert body["metadata"]["row_count"] == 3 and body["metadata"]["source"]["kind"] == "document"
    assert [(c["name"], c["type"]) for c in body["columns"]] == [
        ("customer", "text"), ("note", "text"), ("units", "integer"), ("price", "decimal")]
    assert body["rows"][0] == {"customer": "Müller, Jörg", "note": 'said "hi"', "units": 12, "price": 4.5}
    assert body["rows"][1]["customer"] == "=SUM(A1:A9)"  # JSON is data, not a spreadsheet
    assert body["rows"][2]["note"] == "two\nlines" and body["rows"][2]["units"] == 1200
    r = export(account, table["id"], {"format": "json", "options": {"ndjson": True}})
    assert r.headers["Content-Type"] == "application/x-ndjson"
    lines = r.content.decode().splitlines()
    assert [json.loads(line)["units"] for line in lines] == [12, 7, 1200]


@pytest.mark.parametrize("body,names", [
    ({"format": "xml"}, ["format"]),
    ({}, ["format"]),
    ({"format": "csv", "options": {"colour": "red"}}, ["options.colour"]),
    ({"format": "csv", "options": {"delimiter": "x", "bom": "yes"}}, ["options.delimiter", "options.bom"]),
    ({"format": "json", "options": {"delimiter": ","}}, ["options.delimiter"]),
])
def test_bad_formats_and_options_are_named(body, names):
    account = register()
    table = table_of(account)
    fields = assert_invalid(export(account, table["id"], body), *names)
    if names == ["format"] and body:
        assert "csv" in fields["format"] and "excel" in fields["format"] and "pdf" in fields["format"]


def test_privacy_scope_and_unavailable_formats():
    owner, viewer = team_with_member("viewer")
    table = table_of(owner)
    assert viewer.post(f"/api/export/table/{table['id']}", {"format": "csv"}).status_code == 200
    assert_envelope(register().post(f"/api/export/table/{table['id']}", {"format": "csv"}), 404, "not_found")
    key = create_key(owner, ["documents:read"])["key"]
    assert_envelope(call(client(), "POST", f"/api/export/table/{table['id']}", api_key=key, json={"format": "csv"}),
                    403, "missing_scope")
    assert_envelope(owner.post(f"/api/export/table/{table['id']}", {"format": "pdf"}), 501, "format_not_available")
    assert_envelope(owner.post("/api/export/table/00000000-0000-0000-0000-000000000000", {"format": "csv"}), 404)


def test_export_quota(pool):
    pool.restart(ASSAY_QUOTA_EXPORT=2)
    try:
        account = register()
        table = table_of(account)
        for _ in range(2):
            assert export(account, table["id"], {"format": "csv"}).status_code == 200
        r = export(account, table["id"], {"format": "csv"})
        assert_envelope(r, 429, "quota_exceeded")
        assert r.headers["X-RateLimit-Limit"] == "2"
    finally:
        pool.restart()
