"""Exports a reader trusts: PDF identifiers never broken across lines (read back with
pdftotext, rendered with pdftoppm), "Page N of M" on every page, titles that are the
human name of the table (a document's file name and the table's place in it, or a
connection's name and its source table) and a metadata block that lists each item once;
Excel decimal columns with a number format (read back with openpyxl); batch zip entries
named like the titles, unique and safe on every operating system."""
import io
import re
import os
import subprocess
import tempfile
import zipfile

import openpyxl

from access_helpers import register
from documents_helpers import make_pdf
from sources_helpers import pg_admin, pg_body, unique_table
from test_documents import upload, wait_done
from test_export import PAGE, export, pdf_text, wait_export
from test_etl import run

ROWS = 260


def invoice(n):
    # The first 200 rows (which size the columns) have short ids; later ones longer ones.
    if n <= 200:
        return f"INV-{n}"
    if n <= 230:
        return f"INV-{10000 + n}"
    return f"INV-2024-{'0' * 24}{10000 + n}"


def etl_table(account, connection_name="Shop ledger"):
    """A connection table with identifiers, a JSON column, an amount and narrow filler columns."""
    name = unique_table("invoices")
    fillers = ", ".join(f"f{i} text" for i in range(6))
    pg_admin(f"""
        CREATE TABLE {name} (id integer PRIMARY KEY, invoice text, payload jsonb, amount numeric(12,2), {fillers});
        INSERT INTO {name}
            SELECT g, NULL, jsonb_build_object('sku', 'SKU-' || g || '-XL', 'qty', g % 5,
                                               'ref', 'REF-2024-' || g, 'note', 'rush order'),
                   g * 1234.5, {", ".join("'x'" for _ in range(6))}
            FROM generate_series(1, {ROWS}) g;
    """)
    pg_admin("".join(f"UPDATE {name} SET invoice = '{invoice(n)}' WHERE id = {n};" for n in range(1, ROWS + 1)))
    r = account.post("/api/connections", pg_body(name=connection_name))
    assert r.status_code == 201, r.text
    assert run(account, r.json()["id"], {"tables": [name]})["status"] == "succeeded"
    listed = account.get("/api/warehouse/tables?source=connection").json()["items"]
    [table] = [t for t in listed if t["source"]["table"].endswith(name)]
    return table, name


def download(account, r):
    if r.status_code == 202:
        done = wait_export(account, r.json()["id"])
        assert done["status"] == "succeeded", done
        return account.get(done["download_url"]).content
    assert r.status_code == 200, r.text
    return r.content


def test_pdf_never_splits_an_identifier_and_numbers_pages_of_the_whole():
    account = register()
    table, source = etl_table(account)
    content = download(account, export(account, table["id"], {"format": "pdf", "options": {"orientation": "portrait"}}))
    with tempfile.TemporaryDirectory() as folder:
        path = f"{folder}/t.pdf"
        with open(path, "wb") as f:
            f.write(content)
        subprocess.run(["pdftoppm", "-r", "40", "-png", path, f"{folder}/page"], check=True, capture_output=True)
        rendered = os.listdir(folder)
        title = subprocess.run(["pdfinfo", path], check=True, capture_output=True, text=True).stdout
    text, pages = pdf_text(content)
    assert pages >= 2 and len([f for f in rendered if f.endswith(".png")]) == pages
    page_texts = text.split("\f")[:pages]
    for n, page in enumerate(page_texts, 1):
        assert f"Page {n} of {pages}" in page, n
    # The title is the connection's name and the source table, not the warehouse name.
    human = f"Shop ledger, public.{source}"
    assert human in page_texts[0] and re.search(r"^Title:\s+" + re.escape(human) + "$", title, re.M), title
    assert table["name"] not in page_texts[0].split("\n")[0]
    first_lines = [line.strip() for line in page_texts[0].split("\n") if line.strip()]
    for label in ("Source connection", "Source table", "Rows", "Exported at", "Warehouse table"):
        assert sum(line.startswith(label) for line in first_lines) == 1, label
    # No identifier is broken: each shows whole, or (far too long for its column) cut with "…".
    # (A shrunk id may sit close enough to the next column for pdftotext to join them.)
    tokens = text.split()
    found = re.findall(r'INV-[^\s{"]*', text)
    ids = {invoice(n) for n in range(1, ROWS + 1)}
    for token in found:
        assert token in ids or (token.endswith("…") and any(i.startswith(token[:-1]) for i in ids)), token
    for token in tokens:
        assert not (token.isdigit() and len(token) >= 4), f"{token}: the tail of a broken identifier"
    assert all(invoice(n) in found for n in range(1, 231))
    assert any(t.endswith("…") for t in found)
    assert "shortened to fit" in page_texts[-1]
    # JSON wraps between its members, never inside a value.
    for n in range(1, ROWS + 1):
        assert f'"REF-2024-{n}",' in tokens or f'"REF-2024-{n}"}}' in tokens, n


def test_excel_decimal_columns_have_a_number_format():
    account = register()
    table, _ = etl_table(account)
    book = openpyxl.load_workbook(io.BytesIO(download(account, export(account, table["id"], {"format": "excel"}))))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    amount = header.index("amount") + 1
    assert sheet.cell(2, amount).value == 1234.5
    assert all(sheet.cell(r, amount).number_format == "#,##0.00" for r in range(2, 12))
    assert sheet.cell(2, header.index("id") + 1).number_format == "0"
    # A document's money column whose values name their currency shows it.
    page = ["Orders", ["Item", "Price", "Total"], ["Tea", "4.50", "EUR 9.00"], ["Cake", "12.00", "EUR 24.00"],
            ["Pie", "3.25", "EUR 6.50"]]
    doc = upload(account, make_pdf([page])).json()
    assert wait_done(account, doc["id"])["status"] == "done"
    [extracted] = account.get(f"/api/documents/{doc['id']}/tables").json()["items"]
    r = export(account, extracted["id"], {"format": "excel"})
    book = openpyxl.load_workbook(io.BytesIO(download(account, r)))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]] == ["Item", "Price", "Total"]
    assert sheet.cell(2, 2).value == 4.5 and sheet.cell(2, 2).number_format == "#,##0.00"
    assert sheet.cell(2, 3).value == 9 and sheet.cell(2, 3).number_format == "[$€] #,##0.00"
    # The metadata sheet lists each item once.
    labels = [row[1].value for row in book["Metadata"].iter_rows(min_row=2)]
    assert len(labels) == len(set(labels)), labels


def test_pdf_title_of_a_document_table_is_its_file_and_place():
    account = register()
    second = ["Stock", ["Part", "Count", "Bin"], ["bolt", "12", "A1"], ["nut", "40", "B2"], ["washer", "7", "C3"]]
    doc = upload(account, make_pdf([[*PAGE], second]), filename="Lieferung März.pdf").json()
    assert wait_done(account, doc["id"])["status"] == "done"
    tables = account.get(f"/api/documents/{doc['id']}/tables").json()["items"]
    assert len(tables) == 2, tables
    texts = [pdf_text(download(account, export(account, t["id"], {"format": "pdf"})))[0] for t in tables]
    titles = sorted(text.split("\n")[0].strip() for text in texts)
    assert titles == ["Lieferung März.pdf, table 1, page 1", "Lieferung März.pdf, table 2, page 2"]


def test_batch_zip_entries_are_human_unique_and_safe():
    account = register()
    ids = []
    for filename in ("doc.pdf", "doc.pdf", "CON.pdf"):
        doc = upload(account, make_pdf([PAGE]), filename=filename).json()
        assert wait_done(account, doc["id"])["status"] == "done"
        ids += [t["id"] for t in account.get(f"/api/documents/{doc['id']}/tables").json()["items"]]
    table, source = etl_table(account, connection_name="Shop/ledger: EU")
    ids.append(table["id"])
    r = account.post("/api/export/batch", {"table_ids": ids, "format": "csv"})
    assert r.status_code == 202, r.text
    done = wait_export(account, r.json()["id"])
    assert done["status"] == "succeeded", done
    names = zipfile.ZipFile(io.BytesIO(account.get(done["download_url"]).content)).namelist()
    assert names == ["doc.pdf, table 1, page 1.csv", "doc.pdf, table 1, page 1 (2).csv",
                     "_CON.pdf, table 1, page 1.csv", f"Shop_ledger_ EU, public.{source}.csv"]
    for name in names:
        assert not set(name) & set('/\\:*?"<>|') and not any(ord(c) < 32 for c in name), name
        stem = name.rsplit(".", 1)[0]
        assert stem == stem.rstrip(". ") and len(name.encode()) <= 140, name
