"""Spreadsheets in: .xlsx workbooks uploaded through POST /api/documents/upload (recognised by
their zip's parts, not their name) become one typed warehouse table per sheet with values,
confidence 1, named after the sheet; damaged workbooks and zip bombs are refused with a 422."""
import datetime
import io
import json
import struct
import subprocess
import time
import zipfile
import zlib

import openpyxl

from access_helpers import register
from conftest import ENV, assert_envelope
from test_documents import upload, wait_done

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
CONTENT_TYPES = ('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
                 '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
                 '<Default Extension="xml" ContentType="application/xml"/>{}</Types>')
SPREADSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def workbook_parts(sheets, shared=None, styles=None, date1904=False):
    """The parts of a workbook written by hand, so that formulas carry exactly the cached values
    given: `sheets` is [(name, rows XML)], `shared` the shared strings (plain or `<r>` runs),
    `styles` the cellXfs' numFmtIds with custom formats {id: code}."""
    parts = {"_rels/.rels": ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                             f'<Relationship Id="rId1" Type="{RELS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')}
    types = f'<Override PartName="/xl/workbook.xml" ContentType="{SPREADSHEET_TYPE}.sheet.main+xml"/>'
    sheet_list, rels = "", ""
    for i, (name, rows) in enumerate(sheets, 1):
        sheet_list += f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>'
        types += f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{SPREADSHEET_TYPE}.worksheet+xml"/>'
        rels += f'<Relationship Id="rId{i}" Type="{RELS}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        parts[f"xl/worksheets/sheet{i}.xml"] = f'<worksheet xmlns="{MAIN}"><sheetData>{rows}</sheetData></worksheet>'
    parts["xl/workbook.xml"] = (f'<workbook xmlns="{MAIN}" xmlns:r="{RELS}"><workbookPr date1904="{int(date1904)}"/>'
                                f'<sheets>{sheet_list}</sheets></workbook>')
    if shared is not None:
        items = (text if text.startswith("<r>") else f"<t>{text}</t>" for text in shared)
        parts["xl/sharedStrings.xml"] = f'<sst xmlns="{MAIN}">' + "".join(f"<si>{item}</si>" for item in items) + "</sst>"
        rels += f'<Relationship Id="rIdS" Type="{RELS}/sharedStrings" Target="sharedStrings.xml"/>'
        types += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SPREADSHEET_TYPE}.sharedStrings+xml"/>'
    if styles is not None:
        formats, xfs = styles
        parts["xl/styles.xml"] = (f'<styleSheet xmlns="{MAIN}"><numFmts>'
                                  + "".join(f'<numFmt numFmtId="{i}" formatCode="{c}"/>' for i, c in formats.items())
                                  + '</numFmts><cellXfs>' + "".join(f'<xf numFmtId="{i}"/>' for i in xfs) + "</cellXfs></styleSheet>")
        rels += f'<Relationship Id="rIdT" Type="{RELS}/styles" Target="styles.xml"/>'
        types += f'<Override PartName="/xl/styles.xml" ContentType="{SPREADSHEET_TYPE}.styles+xml"/>'
    parts["xl/_rels/workbook.xml.rels"] = ('<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                                           f"{rels}</Relationships>")
    parts["[Content_Types].xml"] = CONTENT_TYPES.format(types)
    return parts


def zipped(parts):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text if isinstance(text, bytes) else
                             '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + text)
    return out.getvalue()


def xlsx(sheets, **kwargs):
    return zipped(workbook_parts(sheets, **kwargs))


def row(number, *cells):
    return f'<row r="{number}">' + "".join(cells) + "</row>"


def n(ref, value, style=None):
    styled = f' s="{style}"' if style is not None else ""
    return f'<c r="{ref}"{styled}><v>{value}</v></c>'


def s(ref, index):
    return f'<c r="{ref}" t="s"><v>{index}</v></c>'


def inline(ref, text):
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def tables_from(account, content, filename="book.xlsx"):
    r = upload(account, content, filename=filename)
    assert r.status_code == 202, r.text
    assert r.json()["content_type"] == XLSX_TYPE
    status = wait_done(account, r.json()["id"])
    assert status["status"] == "done", status
    tables = account.get(f"/api/documents/{r.json()['id']}/tables").json()["items"]
    rows = [account.get(f"/api/tables/{t['id']}/rows?limit=100").json()["rows"] for t in tables]
    return r.json(), tables, rows


def columns(table):
    return [(c["name"], c["header"], c["type"]) for c in table["columns"]]


def test_every_sheet_with_values_becomes_a_typed_table_named_after_it():
    account = register()
    shared = ["Region", "Units", "Amount", "Day", "Paid", "Total", "North", "<r><t>So</t></r><r><rPr><b/></rPr><t>uth</t></r>"]
    sales = (row(1, *[s(f"{c}1", i) for i, c in enumerate("ABCDEF")])
             + row(2, s("A2", 6), n("B2", 12), n("C2", "1200.5"), n("D2", 45306, style=1), '<c r="E2" t="b"><v>1</v></c>',
                   '<c r="F2"><f>B2*2</f><v>24</v></c>')
             + row(3, s("A3", 7), n("B3", 7), n("C3", "99.25"), n("D3", 45337, style=1), '<c r="E3" t="b"><v>0</v></c>',
                   '<c r="F3"><f>SUM(B2:B3)</f><v>19</v></c>'))
    notes = row(1, inline("A1", "Note"), inline("B1", "Author")) + row(2, inline("A2", "checked twice"), inline("B2", "Ana"))
    document, tables, rows = tables_from(account, xlsx(
        [("Sales 2024", sales), ("Scratch", row(1, '<c r="A1" s="1"/>')), ("Notes", notes)],
        shared=shared, styles=({}, [0, 14])))

    assert document["page_count"] == 3
    assert [t["name"].split("_", 2)[2] for t in tables] == ["sales_2024", "notes"]
    assert [t["page"] for t in tables] == [1, 3]
    assert all(t["confidence"] == 1 for t in tables)
    assert columns(tables[0]) == [("region", "Region", "text"), ("units", "Units", "integer"), ("amount", "Amount", "decimal"),
                                  ("day", "Day", "date"), ("paid", "Paid", "boolean"), ("total", "Total", "integer")]
    assert rows[0] == [
        {"region": "North", "units": 12, "amount": 1200.5, "day": "2024-01-15", "paid": True, "total": 24},
        {"region": "South", "units": 7, "amount": 99.25, "day": "2024-02-15", "paid": False, "total": 19},
    ]
    assert rows[1] == [{"note": "checked twice", "author": "Ana"}]


def test_dates_times_and_the_1904_date_system():
    account = register()
    styles = ({164: "yyyy-mm-dd", 165: "dd/mm/yyyy hh:mm"}, [0, 164, 165, 20, 14])
    header = row(1, inline("A1", "Day"), inline("B1", "Stamp"), inline("C1", "Start"), inline("D1", "Old"))
    body = (row(2, n("A2", 45306, 1), n("B2", "45306.572916666664", 2), n("C2", "0.5729166666666666", 3), n("D2", 59, 4))
            + row(3, n("A3", 45337, 1), n("B3", "45337.25", 2), n("C3", "0.25", 3), n("D3", 61, 4)))
    _, [table], [rows] = tables_from(account, xlsx([("Dates", header + body)], styles=styles))
    assert columns(table) == [("day", "Day", "date"), ("stamp", "Stamp", "text"), ("start", "Start", "text"), ("old", "Old", "date")]
    assert rows == [
        {"day": "2024-01-15", "stamp": "2024-01-15 13:45:00", "start": "13:45:00", "old": "1900-02-28"},
        {"day": "2024-02-15", "stamp": "2024-02-15 06:00:00", "start": "06:00:00", "old": "1900-03-01"},
    ]

    # The same serials in a workbook counting from 1904.
    _, [table], [rows] = tables_from(account, xlsx([("Dates", header + body)], styles=styles, date1904=True))
    day = datetime.date(1904, 1, 1) + datetime.timedelta(days=45306)
    assert rows[0]["day"] == day.isoformat() and rows[0]["stamp"] == f"{day.isoformat()} 13:45:00"


def test_cells_are_placed_by_reference_and_nothing_is_lost_to_typing():
    account = register()
    # A table placed at B2: column A is empty everywhere, C4 is a gap, D4 an error value.
    body = (row(2, inline("B2", "Item"), inline("C2", "Units"), inline("D2", "Ratio"))
            + row(3, inline("B3", "Apples"), n("C3", 120), n("D3", "0.5"))
            + row(4, inline("B4", "Pears"), '<c r="D4" t="e"><f>1/0</f><v>#DIV/0!</v></c>')
            + row(6, inline("B6", "Plums"), n("C6", "1.0000000000000001E-3"), n("D6", "2.5E-2")))
    _, [table], [rows] = tables_from(account, xlsx([("Stock", body)]))
    assert columns(table) == [("item", "Item", "text"), ("units", "Units", "decimal"), ("ratio", "Ratio", "text")]
    assert rows == [{"item": "Apples", "units": 120, "ratio": "0.5"}, {"item": "Pears", "units": None, "ratio": "#DIV/0!"},
                    {"item": "Plums", "units": 0.001, "ratio": "0.025"}]


def test_a_workbook_written_by_openpyxl():
    account = register()
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Invoices"
    sheet.append(["Customer", "Issued", "Amount", "Paid", "Double"])
    sheet.append(["Acme", datetime.date(2024, 3, 5), 1250.75, True, "=C2*2"])
    sheet.append(["Beta GmbH", datetime.date(2024, 4, 30), 80, False, "=C3*2"])
    book.create_sheet("Empty")
    other = book.create_sheet("Rates")
    other.append(["Code", "Rate"])
    other.append(["EUR", 1.08])
    out = io.BytesIO()
    book.save(out)
    _, tables, rows = tables_from(account, out.getvalue(), filename="export from somewhere.bin")
    assert [t["name"].split("_", 2)[2] for t in tables] == ["invoices", "rates"]
    assert columns(tables[0]) == [("customer", "Customer", "text"), ("issued", "Issued", "date"), ("amount", "Amount", "decimal"),
                                  ("paid", "Paid", "boolean"), ("double", "Double", "text")]
    # openpyxl stores formulas without a calculated value: those cells stay empty.
    assert rows[0] == [{"customer": "Acme", "issued": "2024-03-05", "amount": 1250.75, "paid": True, "double": None},
                       {"customer": "Beta GmbH", "issued": "2024-04-30", "amount": 80, "paid": False, "double": None}]
    assert rows[1] == [{"code": "EUR", "rate": 1.08}]


def test_assay_extract_reads_an_xlsx_as_the_api_stores_it(tmp_path):
    account = register()
    content = xlsx([("Data", row(1, inline("A1", "Name"), inline("B1", "Units")) + row(2, inline("A2", "Acme"), n("B2", 3))),
                    ("More", row(1, n("A1", 1), n("B1", 2)))])
    _, tables, _ = tables_from(account, content)
    path = tmp_path / "book"
    path.write_bytes(content)
    out = subprocess.run([ENV["ASSAY_BIN"], "extract", str(path)], capture_output=True, text=True, timeout=60, check=True)
    extracted = json.loads(out.stdout)["tables"]
    assert [(t["sheet"], t["page"]) for t in extracted] == [("Data", 1), ("More", 2)]
    assert [t["columns"] for t in extracted] == [[{k: c[k] for k in ("name", "header", "type")} for c in t["columns"]] for t in tables]
    assert extracted[0]["values"] == [["Acme", "3"]] and extracted[1]["values"] == [["1", "2"]]


def raw_zip(entries):
    """A zip written byte by byte, for entries already deflated: [(name, deflated, crc, declared size)]."""
    body, directory, date = b"", b"", (2024 - 1980) << 9 | 1 << 5 | 1
    for name, data, crc, size in entries:
        name = name.encode()
        directory += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, date, crc, len(data), size, len(name),
                                 0, 0, 0, 0, 0, len(body)) + name
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, date, crc, len(data), size, len(name), 0) + name + data
    return body + directory + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(directory), len(body), 0)


def deflated(text):
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    return c.compress(text) + c.flush(), zlib.crc32(text), len(text)


def one_gigabyte_of_spaces():
    """1 GiB of spaces deflated (about 1 MB): one block repeated, each ending in a full flush."""
    chunk = b" " * (1 << 20)
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(chunk) + c.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(chunk, crc)
    return block * 1024 + c.flush(), crc, 1 << 30


def test_zip_bombs_are_refused_before_they_are_inflated():
    account = register()
    parts = workbook_parts([("Sheet1", "")])
    small = [(name, *deflated(text.encode())) for name, text in parts.items() if name != "xl/worksheets/sheet1.xml"]
    bomb = one_gigabyte_of_spaces()

    # Its directory says 1 GiB from 1 MB: refused from the directory, nothing inflated.
    started = time.time()
    r = upload(account, raw_zip(small + [("xl/worksheets/sheet1.xml", *bomb)]), filename="bomb.xlsx")
    assert_envelope(r, 422, "archive_too_large")
    assert "zip bomb" in r.json()["error"]["message"] and r.json()["error"]["fields"]["file"]
    assert time.time() - started < 5

    # The same with a directory that lies (1,000 bytes): stopped after 1,000 bytes.
    started = time.time()
    r = upload(account, raw_zip(small + [("xl/worksheets/sheet1.xml", bomb[0], bomb[1], 1000)]), filename="bomb.xlsx")
    assert_envelope(r, 422, "archive_too_large")
    assert "inflates past the 1000 bytes" in r.json()["error"]["message"]
    assert time.time() - started < 5

    # A plain zip bomb named .xlsx is not a workbook: refused by content.
    assert_envelope(upload(account, raw_zip([("zeros.bin", *bomb)]), filename="bomb.xlsx"), 415, "unsupported_media_type")

    # The workers are none the worse.
    tables_from(account, xlsx([("S", row(1, n("A1", 1)))]))


def test_damaged_workbooks_get_clear_422s():
    account = register()
    good = xlsx([("S", row(1, inline("A1", "Name")) + row(2, inline("A2", "Acme")))])

    def refused(content, code, words):
        r = upload(account, content, filename="x.xlsx")
        assert_envelope(r, 422, code)
        assert words in r.json()["error"]["message"], r.json()
        assert r.json()["error"]["fields"]["file"] == r.json()["error"]["message"]

    refused(good[: len(good) // 2], "corrupt_document", "its zip cannot be read")
    parts = workbook_parts([("S", row(1, inline("A1", "x")))])
    parts["xl/worksheets/sheet1.xml"] = f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1"><v>1</v></row></sheetData>'
    refused(zipped(parts), "corrupt_document", "xl/worksheets/sheet1.xml is not well-formed XML (line 1")
    parts = workbook_parts([("S", row(1, inline("A1", "x")))])
    del parts["xl/workbook.xml"]
    refused(zipped(parts), "corrupt_document", "has no xl/workbook.xml")
    refused(xlsx([("S", row(1, s("A1", 3)))], shared=["only one"]), "corrupt_document", "refers to shared string 3 of 1")
    refused(xlsx([("S", row(1, n("A0", 1)))]), "corrupt_document", '"A0", which is not a place on a sheet')
    refused(xlsx([("One", ""), ("Two", row(1, '<c r="A1" s="0"/>'))]), "empty_workbook", "no sheet of the workbook holds a value")
    parts = workbook_parts([("S", "")])
    parts["xl/worksheets/sheet1.xml"] = '<!DOCTYPE lol [<!ENTITY lol "lol">]><worksheet><sheetData/></worksheet>'
    refused(zipped(parts), "corrupt_document", "document type declaration")


def test_zips_that_are_not_workbooks_stay_415():
    account = register()
    docx = zipped({"[Content_Types].xml": CONTENT_TYPES.format(""), "word/document.xml": "<document/>"})
    plain = zipped({"notes.txt": b"hello, world\nsecond, line\n"})
    for content in (docx, plain):
        assert_envelope(upload(account, content, filename="book.xlsx"), 415, "unsupported_media_type")
