"""Export of warehouse tables: CSV read back with Python's csv module (quotes, commas,
newlines, unicode, formulas), JSON and NDJSON with typed values checked against a schema,
.xlsx read back with openpyxl, PDF turned into text with pdftotext, job exports with
progress, download through nginx and expiry, batch zips, a job worker killed mid-export,
ETL tables, clear errors, privacy and the export quota."""
import csv
import io
import json
import os
import signal
import subprocess
import tempfile
import time
import zipfile

import jsonschema
import openpyxl

import pytest

from access_helpers import assert_invalid, call, client, create_key, psql, register, team_with_member
from conftest import ENV
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


def test_csv_writes_booleans_as_true_and_false_and_null_as_empty():
    account = register()
    table = table_of(account)
    grow(table, 2)  # paid: true for the three first rows, then false, true
    psql(f'UPDATE warehouse."{table["name"]}" SET paid = NULL WHERE _row = 1;')
    r = export(account, table["id"], {"format": "csv"})
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8"), newline="")))
    assert rows[0][-1] == "Paid"
    assert [row[-1] for row in rows[1:]] == ["", "true", "true", "false", "true"], rows


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


JSON_SCHEMA = {
    "type": "object",
    "required": ["metadata", "columns", "rows"],
    "additionalProperties": False,
    "properties": {
        "metadata": {
            "type": "object",
            "required": ["table_id", "table", "source", "row_count", "exported_at"],
            "properties": {
                "table_id": {"type": "string", "format": "uuid"},
                "row_count": {"type": "integer", "minimum": 0},
                "source": {"type": "object", "required": ["kind"],
                           "properties": {"kind": {"enum": ["document", "connection"]}}},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            },
        },
        "columns": {"type": "array", "items": {
            "type": "object", "required": ["name", "header", "type"],
            "properties": {"name": {"type": "string"}, "header": {"type": "string"}, "type": {"type": "string"}}}},
        "rows": {"type": "array", "items": {"type": "object"}},
    },
}


def grow(table, rows):
    """Adds `rows` generated rows (and a date and a boolean column) to an extracted table."""
    name = table["name"]
    psql(f"""
        ALTER TABLE warehouse."{name}" ADD COLUMN day date, ADD COLUMN paid boolean;
        UPDATE warehouse."{name}" SET day = '2024-03-01', paid = true;
        INSERT INTO warehouse."{name}" (_row, customer, note, units, price, day, paid)
            SELECT g + 3, 'Customer ' || g, 'row ' || g, g, g * 1.25, date '2024-01-01' + g % 365, g % 2 = 0
            FROM generate_series(1, {rows}) g;
        UPDATE extracted_tables SET row_count = {rows + 3},
            columns = columns || '[{{"name": "day", "header": "Day", "type": "date"}},
                                   {{"name": "paid", "header": "Paid", "type": "boolean"}}]'::jsonb
        WHERE id = '{table["id"]}';
    """)


def wait_export(account, export_id, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        current = account.get(f"/api/exports/{export_id}").json()
        if current["status"] in ("succeeded", "failed"):
            return current
        time.sleep(0.1)
    raise AssertionError(f"export {export_id} still {current['status']}: {current}")


def test_json_export_validates_against_its_schema():
    account = register()
    table = table_of(account)
    grow(table, 5)
    body = export(account, table["id"], {"format": "json"}).json()
    jsonschema.validate(body, JSON_SCHEMA)
    assert body["metadata"]["row_count"] == 8 and len(body["rows"]) == 8
    assert body["rows"][3] == {"customer": "Customer 1", "note": "row 1", "units": 1, "price": 1.25,
                               "day": "2024-01-02", "paid": False}
    # A bad document is caught by the schema (the check can fail).
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**body, "rows": [1]}, JSON_SCHEMA)


def test_excel_round_trips_through_openpyxl():
    account = register()
    table = table_of(account)
    grow(table, 4)
    # One cell the extraction was unsure of.
    psql(f"""UPDATE extracted_tables SET cells = jsonb_set(cells, '{{0,2}}', '["l2", 0.31]') WHERE id = '{table["id"]}';""")
    r = export(account, table["id"], {"format": "excel", "options": {"rows_per_sheet": 5}})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'{table["name"]}.xlsx' in r.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    data_sheets = [ws for ws in book.worksheets if ws.title != "Metadata"]
    assert len(data_sheets) == 2, book.sheetnames  # 7 rows, 5 per sheet
    first, second = data_sheets
    header = [c.value for c in first[1]]
    assert header == ["Customer", "Note", "Units", "Price", "Day", "Paid"]
    assert all(c.font.bold for c in first[1]) and first.freeze_panes == "A2" and first.auto_filter.ref
    values = [[c.value for c in row] for row in first.iter_rows(min_row=2)]
    assert values[0][:4] == ["Müller, Jörg", 'said "hi"', 12, 4.5]
    assert values[1][0] == "=SUM(A1:A9)" and first.cell(3, 1).data_type == "s"  # text, never a formula
    assert values[0][4].year == 2024 and values[0][4].month == 3 and first.cell(2, 5).is_date
    assert values[3][5] is False and values[4][5] is True
    assert isinstance(values[2][2], int) and values[2][2] == 1200
    low = first.cell(2, 3)
    assert low.comment is not None and "l2" in low.comment.text and low.fill.fgColor.rgb not in (None, "00000000")
    assert [c.value for c in second[1]] == header and second.cell(2, 1).value == "Customer 3"
    assert second.max_row == 3
    meta = {row[1].value: row[2].value for row in book["Metadata"].iter_rows(min_row=2)}
    assert meta["Rows"] == "7" and meta["Source document"] == "doc.pdf" and meta["Extraction confidence"]
    assert meta["Sheets"] == ", ".join(ws.title for ws in data_sheets)


def pdf_text(content):
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(content)
        f.flush()
        text = subprocess.run(["pdftotext", "-layout", f.name, "-"], check=True, capture_output=True).stdout.decode()
        info = subprocess.run(["pdfinfo", f.name], check=True, capture_output=True).stdout.decode()
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    return text, pages


def test_pdf_repeats_the_header_on_every_page_and_loses_no_row():
    account = register()
    table = table_of(account)
    grow(table, 400)
    r = export(account, table["id"], {"format": "pdf", "options": {"title": "Orders 2024"}})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/pdf", r.text
    text, pages = pdf_text(r.content)
    assert pages > 3
    page_texts = text.split("\f")[:pages]
    assert all("Customer" in page and "Price" in page for page in page_texts), "header missing on a page"
    assert "Orders 2024" in page_texts[0] and "Müller" in text
    for n in range(1, 401):
        assert text.count(f"Customer {n} ") + text.count(f"Customer {n}\n") == 1, n
    assert all(f"{n}" in page_texts[n - 1] for n in range(1, pages + 1))


def test_large_exports_become_jobs_with_progress_and_download_through_nginx(pool):
    pool.restart(ASSAY_EXPORT_SYNC_ROWS=10)
    try:
        account = register()
        table = table_of(account)
        grow(table, 50)
        r = export(account, table["id"], {"format": "excel"})
        assert r.status_code == 202, r.text
        assert r.headers["Location"] == f"/api/exports/{r.json()['id']}"
        done = wait_export(account, r.json()["id"])
        assert done["status"] == "succeeded", done
        assert done["progress"]["rows_done"] == 53 and done["progress"]["percent"] == 100.0
        assert done["file"]["bytes"] > 0 and done["expires_at"]
        d = account.get(done["download_url"])
        assert d.status_code == 200 and len(d.content) == done["file"]["bytes"]
        assert d.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        assert "attachment" in d.headers["Content-Disposition"]
        book = openpyxl.load_workbook(io.BytesIO(d.content))
        assert book.worksheets[0].max_row == 54
        # Direct download of a large table is refused with the reason; CSV still streams.
        assert_invalid(export(account, table["id"], {"format": "excel", "delivery": "download"}), "delivery")
        assert export(account, table["id"], {"format": "csv"}).status_code == 200
        # Someone else cannot see or fetch it; the internal location is not reachable.
        other = register()
        assert_envelope(other.get(f"/api/exports/{done['id']}"), 404)
        assert_envelope(other.get(done["download_url"]), 404)
        assert call(client(), "GET", f"/_protected_exports/{done['id']}/export.xlsx").status_code == 404
        # Expiry: past its time the download is gone, and the sweep deletes the file.
        psql(f"UPDATE exports SET expires_at = now() - interval '1 second' WHERE id = '{done['id']}';")
        assert_envelope(account.get(done["download_url"]), 410, "export_expired")
        path = os.path.join(ENV["ASSAY_EXPORTS_DIR"], done["id"])
        deadline = time.time() + 30
        while os.path.exists(path) and time.time() < deadline:
            time.sleep(0.5)
        assert not os.path.exists(path)
        assert account.get(f"/api/exports/{done['id']}").json()["status"] == "expired"
        listed = account.get("/api/exports?limit=1").json()
        assert listed["items"][0]["id"] == done["id"]
    finally:
        pool.restart()


def test_batch_zip_lists_every_table():
    account = register()
    tables = [table_of(account), table_of(account)]
    r = account.post("/api/export/batch", {"table_ids": [t["id"] for t in tables], "format": "csv"})
    assert r.status_code == 202, r.text
    done = wait_export(account, r.json()["id"])
    assert done["status"] == "succeeded" and done["kind"] == "batch" and done["progress"]["tables_done"] == 2, done
    d = account.get(done["download_url"])
    assert d.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(d.content))
    # Named for people: both tables come from a doc.pdf, so the second is numbered.
    names = ["doc.pdf, table 1, page 1.csv", "doc.pdf, table 1, page 1 (2).csv"]
    assert archive.namelist() == names
    for name in names:
        rows = list(csv.reader(io.StringIO(archive.read(name).decode(), newline="")))
        assert rows[0] == ["Customer", "Note", "Units", "Price"] and len(rows) == 4
    r = account.post("/api/export/batch", {"table_ids": [tables[0]["id"]], "format": "excel"})
    done = wait_export(account, r.json()["id"])
    names = zipfile.ZipFile(io.BytesIO(account.get(done["download_url"]).content)).namelist()
    assert names == ["doc.pdf, table 1, page 1.xlsx"]


def test_batch_errors():
    account = register()
    table = table_of(account)
    assert_invalid(account.post("/api/export/batch", {"format": "csv"}), "table_ids")
    assert_invalid(account.post("/api/export/batch", {"table_ids": [], "format": "csv"}), "table_ids")
    assert_invalid(account.post("/api/export/batch", {"table_ids": ["x", table["id"], table["id"]], "format": "pdf"}),
                   "table_ids[0]", "table_ids[2]")
    assert_invalid(account.post("/api/export/batch", {"table_ids": [table["id"]], "format": "doc"}), "format")
    foreign = table_of(register())
    assert_envelope(account.post("/api/export/batch", {"table_ids": [table["id"], foreign["id"]], "format": "csv"}),
                    404, "not_found")
    assert_envelope(account.get("/api/exports/00000000-0000-0000-0000-000000000000"), 404)
    assert_invalid(account.get("/api/exports?status=lost"), "status")


def test_download_before_the_export_is_ready_is_refused(pool):
    account = register()
    table = table_of(account)
    pool.restart(ASSAY_JOB_WORKERS=0)
    try:
        r = export(account, table["id"], {"format": "csv", "delivery": "job"})
        assert r.status_code == 202 and r.json()["status"] == "queued", r.text
        assert_envelope(account.get(f"/api/exports/{r.json()['id']}/download"), 409, "export_not_ready")
    finally:
        pool.restart()


def test_a_job_export_survives_a_job_worker_restart(pool):
    pool.restart(ASSAY_JOB_LEASE_SECONDS=3, ASSAY_JOB_WORKERS=1)
    try:
        account = register()
        table = table_of(account)
        grow(table, 60000)
        r = export(account, table["id"], {"format": "pdf", "delivery": "job"})
        assert r.status_code == 202, r.text
        export_id = r.json()["id"]
        deadline = time.time() + 60
        while True:
            current = account.get(f"/api/exports/{export_id}").json()
            if current["status"] == "running" and current["progress"]["rows_done"] > 0:
                break
            assert time.time() < deadline and current["status"] not in ("succeeded", "failed"), current
            time.sleep(0.05)
        for pid in pool.job_worker_pids():
            os.kill(pid, signal.SIGKILL)
        done = wait_export(account, export_id, timeout=300)
        assert done["status"] == "succeeded" and done["progress"]["rows_done"] == 60003, done
        job = account.get(f"/api/jobs/{done['job_id']}").json()
        assert job["status"] == "succeeded" and job["attempts"] == 2, job
        text, pages = pdf_text(account.get(done["download_url"]).content)
        assert text.count("Customer 60000") == 1 and "Customer 1 " in text
    finally:
        pool.restart()


def test_a_table_copied_by_etl_exports_like_an_extracted_one():
    from test_etl import connect, make_table, run
    account = register()
    connection = connect(account, "postgresql")
    source = make_table("postgresql", [(2, "b, \"quoted\"", "2.00"), (1, "=cmd", "1.50")])
    assert run(account, connection, {"tables": [source]})["status"] == "succeeded"
    listed = account.get("/api/warehouse/tables?source=connection").json()["items"]
    [table] = [t for t in listed if t["source"]["table"].endswith(source)]
    assert table["row_count"] == 2 and [c["kind"] for c in table["columns"]] == ["integer", "text", "decimal", "timestamp"]
    assert_invalid(account.get("/api/warehouse/tables?source=ftp"), "source")
    r = export(account, table["id"], {"format": "csv"})
    assert r.status_code == 200, r.text
    rows = list(csv.reader(io.StringIO(r.content.decode(), newline="")))
    # Rows in key order, formulas neutralised, quotes and commas intact.
    assert rows == [["id", "name", "amount", "updated_at"], ["1", "'=cmd", "1.50", "2024-01-01 00:00:00"],
                    ["2", 'b, "quoted"', "2.00", "2024-01-01 00:00:00"]]
    body = export(account, table["id"], {"format": "json"}).json()
    jsonschema.validate(body, JSON_SCHEMA)
    assert body["metadata"]["source"]["kind"] == "connection" and body["rows"][0]["amount"] == 1.5
    assert_envelope(register().post(f"/api/export/table/{table['id']}", {"format": "csv"}), 404, "not_found")
    # Its rows read like an extracted table's, in key order.
    page = account.get(f"/api/tables/{table['id']}/rows?limit=1&offset=1").json()
    assert page["total"] == 2 and page["next_offset"] is None and page["table"]["source"]["kind"] == "connection"
    assert page["rows"] == [{"id": 2, "name": 'b, "quoted"', "amount": 2.0, "updated_at": "2024-01-01T00:00:00"}]
    assert_envelope(register().get(f"/api/tables/{table['id']}/rows"), 404)
