"""Spreadsheets in: delimited text uploaded through POST /api/documents/upload (recognised by
content) becomes a typed warehouse table with confidence 1, like an extracted one."""
import json
import subprocess

from access_helpers import call, client, register
from conftest import ENV
from conftest import assert_envelope
from test_documents import upload, wait_done


def table_from(account, content, filename="data.csv"):
    r = upload(account, content, filename=filename)
    assert r.status_code == 202, r.text
    assert r.json()["content_type"] == "text/csv"
    status = wait_done(account, r.json()["id"])
    assert status["status"] == "done", status
    tables = account.get(f"/api/documents/{r.json()['id']}/tables").json()["items"]
    assert len(tables) == 1, tables
    rows = account.get(f"/api/tables/{tables[0]['id']}/rows?limit=100").json()
    return r.json()["id"], tables[0], rows


def columns(table):
    return [(c["name"], c["header"], c["type"]) for c in table["columns"]]


def test_csv_with_a_bom_quotes_and_a_quoted_newline():
    account = register()
    content = ("\ufeffCustomer,Note,Units,Amount,Day\r\n"
               "\"Müller, Jörg\",\"said \"\"hi\"\"\",12,\"1,200.50\",2024-01-05\r\n"
               "Beta,\"two\nlines\",7,99.00,2024-02-03\r\n").encode("utf-8")
    _, table, rows = table_from(account, content)
    assert columns(table) == [("customer", "Customer", "text"), ("note", "Note", "text"), ("units", "Units", "integer"),
                              ("amount", "Amount", "decimal"), ("day", "Day", "date")]
    assert table["confidence"] == 1
    first, second = rows["rows"]
    assert first["customer"] == "Müller, Jörg" and first["note"] == 'said "hi"' and first["units"] == 12
    assert float(first["amount"]) == 1200.5 and first["day"] == "2024-01-05"
    assert second["note"] == "two\nlines"


def test_assay_extract_reads_a_csv_as_the_api_stores_it(tmp_path):
    account = register()
    content = b"Customer;Units;Day\nAcme;12;2024-01-05\nBeta;;2024-02-03\n"
    _, table, rows = table_from(account, content)
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    out = subprocess.run([ENV["ASSAY_BIN"], "extract", str(path)], capture_output=True, text=True, timeout=60, check=True)
    [extracted] = json.loads(out.stdout)["tables"]
    assert extracted["columns"] == [{"name": c["name"], "header": c["header"], "type": c["type"]} for c in table["columns"]]
    assert extracted["values"] == [["Acme", "12", "2024-01-05"], ["Beta", None, "2024-02-03"]]
    assert extracted["rows"] == [["Customer", "Units", "Day"], ["Acme", "12", "2024-01-05"], ["Beta", "", "2024-02-03"]]
    assert [r["units"] for r in rows["rows"]] == [12, None]


def test_semicolons_latin_1_decimal_commas_and_ragged_rows():
    account = register()
    content = "Name;Preis;Menge\nMüller;1,50;3\nSchäfer;2,25\n".encode("latin-1")
    _, table, rows = table_from(account, content)
    assert columns(table)[0] == ("name", "Name", "text")
    assert [r["name"] for r in rows["rows"]] == ["Müller", "Schäfer"]
    assert [float(r["preis"]) for r in rows["rows"]] == [1.5, 2.25]
    assert [r["menge"] for r in rows["rows"]] == [3, None]


def test_tabs_no_header_and_nothing_lost_to_typing():
    account = register()
    _, table, rows = table_from(account, b"1\t2.5\tx\n2\tn/a\ty\n3\t4\tz\n", filename="numbers.tsv")
    assert [c["header"] for c in table["columns"]] == ["column 1", "column 2", "column 3"]
    assert table["columns"][0]["type"] == "integer"
    # One cell that is not a number keeps the column as text: no value turns into NULL.
    assert table["columns"][1]["type"] == "text"
    assert [r[table["columns"][1]["name"]] for r in rows["rows"]] == ["2.5", "n/a", "4"]


def test_text_that_is_not_a_table_is_still_refused():
    account = register()
    for content in [b"hello, this is plain text\n", b"one line, two commas, here\nand a second line without\n",
                    b"\x00\x01binary,data\n\x00,\x02\n"]:
        assert_envelope(upload(account, content, filename="x.csv"), 415, "unsupported_media_type")


def test_a_dashboard_is_generated_from_a_csv():
    account = register()
    lines = ["Region,Amount,Day"] + [f"{'North' if i % 2 else 'South'},{i * 10}.00,2024-0{1 + i % 6}-1{i % 9}" for i in range(1, 31)]
    document, _, _ = table_from(account, ("\n".join(lines) + "\n").encode())
    r = account.post("/api/dashboards/generate", {"document_id": document})
    assert r.status_code == 201, r.text
    kinds = [(w["type"], w["title"]) for w in r.json()["widgets"]]
    assert ("kpi", "Total Amount") in kinds and ("bar", "Total Amount by Region") in kinds
    assert any(kind == "line" for kind, _ in kinds) and kinds[-1][0] == "table"
    assert next(w for w in r.json()["widgets"] if w["title"] == "Number of rows")["data"]["rows"] == [[30]]
