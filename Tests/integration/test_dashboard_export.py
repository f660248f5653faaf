"""Dashboard exports (POST /api/export/dashboard/{id}) of a dashboard generated from an uploaded
CSV, read back with real tools: the PDF through poppler (pdftotext finds the title, every
widget's title and the axis labels; pdftoppm renders every page; pdfimages finds no raster
image and qpdf's uncompressed content streams are full of path operators: the charts are
vectors), the .xlsx through unzip (xl/charts/chart1.xml…) and openpyxl (typed cells), the JSON's
shape, the PNG's size; big dashboards as export jobs; errors, privacy and the export quota."""
import io
import subprocess
import zipfile

import openpyxl
import pytest

from access_helpers import assert_invalid, call, client, create_key, register, team_with_member
from conftest import assert_envelope
from test_export import wait_export
from test_spreadsheets import table_from

CUSTOMERS = ["Acme", "Beta", "Gamma Ltd", "Delta"]
CHANNELS = ["Web", "Shop", "Phone"]


def csv_content(rows=150):
    lines = ["Customer,Channel,Amount,Units,Day"]
    for i in range(rows):
        lines.append(f"{CUSTOMERS[i % 4]},{CHANNELS[i % 3]},{(i * 37.5) % 900 + 10:.2f},{1 + i % 9},2024-0{1 + i % 6}-{1 + i % 28:02d}")
    return ("\n".join(lines) + "\n").encode()


def make_board(account, rows=150):
    """A dashboard generated from a CSV table, with a pie and a scatter added and a filter."""
    document, table, _ = table_from(account, csv_content(rows), filename="sales-2024.csv")
    r = account.post("/api/dashboards/generate", {"document_id": document, "options": {"title": "Sales 2024"}})
    assert r.status_code == 201, r.text
    board = r.json()
    widgets = [{k: v for k, v in w.items() if k != "data"} for w in board["widgets"]]
    widgets.append({"id": "pie", "type": "pie", "title": "Orders by channel", "table": table["id"],
                    "query": {"dimensions": ["channel"], "measures": [{"op": "count"}]}, "layout": {"x": 0, "y": 40, "w": 6, "h": 4}})
    widgets.append({"id": "dots", "type": "scatter", "title": "Amount against units", "table": table["id"],
                    "query": {"columns": ["units", "amount"], "limit": 200}, "layout": {"x": 6, "y": 40, "w": 6, "h": 4}})
    r = account.put(f"/api/dashboards/{board['id']}",
                    {"widgets": widgets, "filters": [{"column": "customer", "op": "!=", "value": "Nobody"}]})
    assert r.status_code == 200, r.text
    return r.json(), table


@pytest.fixture(scope="module")
def board():
    account = register()
    dashboard, table = make_board(account)
    return account, dashboard, table


def export(account, board_id, body):
    return account.post(f"/api/export/dashboard/{board_id}", body)


def tool(*args, data=None):
    out = subprocess.run(args, input=data, capture_output=True, check=True)
    return out.stdout


# --- PDF -------------------------------------------------------------------------------------


def test_pdf_shows_the_title_every_widget_and_axis_labels_as_vector_charts(board, tmp_path):
    account, dashboard, _ = board
    r = export(account, dashboard["id"], {"format": "pdf"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="Sales_2024.pdf"')
    path = tmp_path / "board.pdf"
    path.write_bytes(r.content)
    text = tool("pdftotext", "-layout", str(path), "-").decode()
    assert "Sales 2024" in text and "sales-2024.csv" in text and "Exported at" in text
    assert "customer != Nobody" in text
    for widget in dashboard["widgets"]:
        assert widget["title"] in text, widget["title"]
    # Axis labels: the categories under the bars, months under the line, the pie's legend.
    bars = next(w for w in dashboard["widgets"] if w["type"] == "bar")
    for label in [row[0] for row in bars["data"]["rows"]] + ["Jan 2024", "Jun 2024", "Web", "Phone"]:
        assert label in text, label
    # Each widget's data follows as a table; a table running over pages repeats its header.
    table_widget = next(w for w in dashboard["widgets"] if w["type"] == "table")
    assert f"Data: {table_widget['title']}" in text and "Gamma Ltd" in text
    pages = [p for p in text.split("\f") if p.strip()]
    first_data = next(i for i, p in enumerate(pages) if "Data: " in p)
    continued = [p for p in pages[first_data + 1:] if "Data: " not in p.strip().splitlines()[0]]
    assert continued, "the rows should run over several pages"
    for page in continued:
        top = page.strip().splitlines()[0]
        assert ("Customer" in top and "Channel" in top and "Amount" in top) or ("Units" in top and "Amount" in top), top
    # pdftoppm renders every page.
    count = int(next(line.split()[1] for line in tool("pdfinfo", str(path)).decode().splitlines() if line.startswith("Pages:")))
    assert count >= 3
    tool("pdftoppm", "-r", "40", "-png", str(path), str(tmp_path / "page"))
    rendered = sorted(tmp_path.glob("page*.png"))
    assert len(rendered) == count and all(p.stat().st_size > 1000 for p in rendered)
    # Vectors, not pictures: no raster image, and the content streams draw paths.
    assert len(tool("pdfimages", "-list", str(path)).decode().strip().splitlines()) == 2
    plain = tmp_path / "plain.pdf"
    tool("qpdf", "--qdf", "--object-streams=disable", str(path), str(plain))
    tokens = plain.read_bytes().split()
    paths = sum(1 for a, b in zip(tokens, tokens[1:]) if b in (b"m", b"l", b"c", b"re") and a.replace(b".", b"").lstrip(b"-").isdigit())
    assert paths > 300, paths


def test_pdf_without_data_and_on_letter_portrait(board):
    account, dashboard, _ = board
    r = export(account, dashboard["id"], {"format": "pdf", "include_data": False,
                                          "options": {"page_size": "letter", "orientation": "portrait"}})
    assert r.status_code == 200, r.text
    text = tool("pdftotext", "-layout", "-", "-", data=r.content).decode()
    assert "Orders by channel" in text and "Data: " not in text
    assert "612 x 792" in tool("pdfinfo", "-", data=r.content).decode()


# --- Excel -----------------------------------------------------------------------------------


def test_excel_has_native_charts_typed_data_and_an_about_sheet(board):
    account, dashboard, _ = board
    r = export(account, dashboard["id"], {"format": "excel"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    archive = zipfile.ZipFile(io.BytesIO(r.content))
    names = archive.namelist()
    charted = [w for w in dashboard["widgets"] if w["type"] in ("line", "bar", "pie", "scatter", "histogram", "area")]
    assert "xl/charts/chart1.xml" in names
    assert sum(1 for n in names if n.startswith("xl/charts/chart")) == len(charted)
    kinds = "".join(archive.read(n).decode() for n in names if n.startswith("xl/charts/chart"))
    for kind in ("c:lineChart", "c:barChart", "c:pieChart", "c:scatterChart"):
        assert kind in kinds, kind

    book = openpyxl.load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[0] == "About"
    assert len(book.sheetnames) == 1 + len(dashboard["widgets"])
    about = {row[0].value: row[1].value for row in book["About"].iter_rows(min_row=2)}
    assert about["Dashboard"] == "Sales 2024" and "sales-2024.csv" in about["Source documents"]
    assert about["Filters"] == "customer != Nobody" and about["Exported at"]
    line = next(w for w in dashboard["widgets"] if w["type"] == "line")
    sheet = book[line["title"][:31]]
    assert sheet["A2"].is_date and isinstance(sheet["B2"].value, (int, float))
    table_widget = next(w for w in dashboard["widgets"] if w["type"] == "table")
    rows = book[table_widget["title"][:31]]
    header = [c.value for c in rows[1]]
    amount, day = header.index("Amount"), header.index("Day")
    assert isinstance(rows[2][amount].value, (int, float)) and rows[2][day].is_date
    assert [c.value for c in book["Number of rows"][2]] == ["Number of rows", 150]


# --- JSON and PNG ----------------------------------------------------------------------------


def test_json_is_the_configuration_with_each_widgets_data(board):
    account, dashboard, table = board
    r = export(account, dashboard["id"], {"format": "json"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    body = r.json()
    same = account.get(f"/api/dashboards/{dashboard['id']}").json()
    for key in ("id", "title", "theme", "sources", "filters", "widgets", "created_at", "updated_at"):
        assert body[key] == same[key], key
    assert body["exported_at"] and body["tables"][0]["id"] == table["id"]
    assert body["tables"][0]["source"]["kind"] == "document" and body["tables"][0]["source"]["filename"] == "sales-2024.csv"
    bare = export(account, dashboard["id"], {"format": "json", "include_data": False}).json()
    assert all("data" not in w and "query" in w for w in bare["widgets"])


def test_png_is_the_whole_dashboard_at_the_width_asked(board):
    account, dashboard, _ = board
    for body, width in (({"format": "png"}, 1600), ({"format": "png", "options": {"width": 800}}, 800)):
        r = export(account, dashboard["id"], body)
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"] == "image/png"
        png = r.content
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(png[16:20], "big") == width
        assert width < int.from_bytes(png[20:24], "big") < 6 * width


# --- Delivery --------------------------------------------------------------------------------


def test_a_dashboard_past_the_sync_limit_becomes_an_export_job(pool):
    pool.restart(ASSAY_EXPORT_SYNC_ROWS=50)
    try:
        account = register()
        dashboard, table = make_board(account, rows=80)
        r = export(account, dashboard["id"], {"format": "pdf"})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["kind"] == "dashboard" and job["dashboard_id"] == dashboard["id"] and job["format"] == "pdf"
        assert table["id"] in job["table_ids"] and r.headers["Location"] == f"/api/exports/{job['id']}"
        done = wait_export(account, job["id"])
        assert done["status"] == "succeeded", done
        assert done["file"]["name"] == "Sales 2024.pdf" and done["file"]["content_type"] == "application/pdf"
        d = account.get(done["download_url"])
        assert d.status_code == 200 and d.content.startswith(b"%PDF") and len(d.content) == done["file"]["bytes"]
        assert "Orders by channel" in tool("pdftotext", "-", "-", data=d.content).decode()
        # Asked to stream something this big: refused, with the reason.
        assert_invalid(export(account, dashboard["id"], {"format": "excel", "delivery": "download"}), "delivery")
        # A job on request, whatever the size; the options survive the queue.
        r = export(account, dashboard["id"], {"format": "png", "delivery": "job", "options": {"width": 500}})
        assert r.status_code == 202 and r.json()["options"] == {"include_data": True, "options": {"width": 500}}
        done = wait_export(account, r.json()["id"])
        png = account.get(done["download_url"]).content
        assert int.from_bytes(png[16:20], "big") == 500
        # Deleting the dashboard keeps its finished exports (they no longer name it).
        assert account.delete(f"/api/dashboards/{dashboard['id']}").status_code == 200
        assert account.get(f"/api/exports/{done['id']}").json()["dashboard_id"] is None
    finally:
        pool.restart()


# --- Errors, privacy, quota ------------------------------------------------------------------


@pytest.mark.parametrize("body,names", [
    ({}, ["format"]),
    ({"format": "docx"}, ["format"]),
    ({"format": "pdf", "include_data": "yes"}, ["include_data"]),
    ({"format": "pdf", "options": {"font": "x"}}, ["options.font"]),
    ({"format": "png", "options": {"width": 10}}, ["options.width"]),
    ({"format": "json", "delivery": "email"}, ["delivery"]),
])
def test_bad_requests_name_the_field(board, body, names):
    account, dashboard, _ = board
    fields = assert_invalid(export(account, dashboard["id"], body), *names)
    if body.get("format") == "docx":
        assert all(f in fields["format"] for f in ("pdf", "excel", "json", "png"))


def test_unknown_and_other_teams_dashboards_are_not_found_and_bodies_must_be_json(board):
    account, dashboard, _ = board
    assert_envelope(export(account, "6f1c9b3e-0000-4000-8000-000000000000", {"format": "pdf"}), 404, "not_found")
    assert_envelope(export(register(), dashboard["id"], {"format": "pdf"}), 404, "not_found")
    r = account.request("POST", f"/api/export/dashboard/{dashboard['id']}", data=b'{"format": "pdf",',
                        headers={"Content-Type": "application/json"})
    assert_envelope(r, 400, "invalid_json")


def test_viewers_export_and_keys_need_the_export_scope():
    owner, viewer = team_with_member("viewer")
    dashboard, _ = make_board(owner, rows=20)
    assert export(viewer, dashboard["id"], {"format": "json"}).status_code == 200
    key = create_key(owner, ["dashboards:read"])["key"]
    r = call(client(), "POST", f"/api/export/dashboard/{dashboard['id']}", api_key=key, json={"format": "pdf"})
    assert_envelope(r, 403, "missing_scope")


def test_dashboard_and_table_exports_share_the_export_quota(pool):
    account = register()
    dashboard, table = make_board(account, rows=20)
    pool.restart(ASSAY_QUOTA_EXPORT=2)
    try:
        assert account.post(f"/api/export/table/{table['id']}", {"format": "csv"}).status_code == 200
        assert export(account, dashboard["id"], {"format": "json"}).status_code == 200
        r = export(account, dashboard["id"], {"format": "json"})
        assert_envelope(r, 429, "quota_exceeded")
        assert r.headers["X-RateLimit-Limit"] == "2"
    finally:
        pool.restart()
