"""Documents: upload (multipart, by magic bytes, with limits), processing status,
the page model from a PDF's text layer, listing, privacy and deletion."""
import concurrent.futures as futures
import json
import os
import time

import pytest

from access_helpers import assert_fields, call, client, create_key, psql, register, team_with_member
from conftest import ENV, assert_envelope
from documents_helpers import make_pdf, make_png, make_scanned_pdf, render_pages

PAGES = [["Invoice 1001", "Total 42.50 EUR"], ["Second page text"], ["Third page, the end."]]


def upload(account, content, filename="doc.pdf", token=None, api_key=None):
    return call(client(), "POST", "/api/documents/upload", token=None if api_key else (token or account.access),
                api_key=api_key, files={"file": (filename, content, "application/octet-stream")})


def wait_done(account, document_id, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = call(client(), "GET", f"/api/documents/{document_id}/status", token=account.access)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return r.json()
        time.sleep(0.1)
    raise AssertionError(f"document {document_id} not processed: {r.json()}")


def uploads_dir():
    return ENV["ASSAY_UPLOADS_DIR"]


def test_pdf_upload_is_processed_into_pages_with_word_boxes():
    account = register()
    content = make_pdf(PAGES)
    r = upload(account, content, filename="invoice-1001.pdf")
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["status"] == "queued"
    assert doc["filename"] == "invoice-1001.pdf"
    assert doc["content_type"] == "application/pdf"
    assert doc["page_count"] == 3 and doc["size_bytes"] == len(content)
    assert r.headers["Location"] == f"/api/documents/{doc['id']}/status"
    # The file is stored under its SHA-256.
    assert os.path.exists(os.path.join(uploads_dir(), doc["sha256"]))
    status = wait_done(account, doc["id"])
    assert status["status"] == "done", status
    assert status["pages_done"] == 3 and status["pages_total"] == 3 and status["error"] is None
    full = call(client(), "GET", f"/api/documents/{doc['id']}", token=account.access).json()
    assert [p["page"] for p in full["pages"]] == [1, 2, 3]
    assert all(p["source"] == "text" and p["word_count"] > 0 for p in full["pages"])
    words = json.loads(psql("SELECT words FROM document_pages WHERE document_id = :'id' AND page = 1;", id=doc["id"]))
    texts = [w[0] for w in words]
    assert texts[:2] == ["Invoice", "1001"] and "42.50" in texts
    x0, y0, x1, y1 = words[0][1:5]
    # 72 pt from the left, near the top of a 792 pt page (origin top-left), Helvetica 12.
    assert 70 <= x0 <= 74 and x1 > x0 and 60 <= y0 < y1 <= 90, words[0]
    job = call(client(), "GET", f"/api/jobs/{status['job_id']}", token=account.access).json()
    assert job["status"] == "succeeded" and job["progress"]["total"] == 3
    assert job["result"]["pages_by_source"]["text"] == 3


def test_image_upload_is_accepted_by_content_not_name():
    account = register()
    r = upload(account, make_png(), filename="scan.pdf")
    assert r.status_code == 202, r.text
    assert r.json()["content_type"] == "image/png" and r.json()["page_count"] == 1
    assert wait_done(account, r.json()["id"])["status"] == "done"


@pytest.mark.parametrize("content,status,code", [
    (b"hello, this is plain text\n", 415, "unsupported_media_type"),
    (b"", 422, "validation_failed"),
    (b"%PDF-1.4\nthis is not really a pdf\n", 422, "corrupt_document"),
    (make_png()[:-20], 422, "truncated_document"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00truncated", 422, "truncated_document"),
])
def test_bad_files_get_clear_errors_and_leave_nothing(content, status, code):
    account = register()
    before = set(os.listdir(uploads_dir()))
    r = upload(account, content)
    error = assert_envelope(r, status, code)
    assert error["message"]
    assert set(os.listdir(uploads_dir())) == before, "a refused upload must leave no file"
    listed = call(client(), "GET", "/api/documents", token=account.access).json()
    assert listed["items"] == []


def test_a_zero_byte_file_is_empty_and_a_missing_one_is_required():
    account = register()
    assert_fields(upload(account, b""), 422, "validation_failed", "file")
    assert upload(account, b"").json()["error"]["fields"]["file"] == "is empty"
    r = call(client(), "POST", "/api/documents/upload", token=account.access, files={"note": (None, "no file here")})
    assert r.json()["error"]["fields"]["file"].startswith("is required"), r.text


def test_upload_requires_multipart_with_a_file_part():
    account = register()
    r = call(client(), "POST", "/api/documents/upload", token=account.access, json={"file": "x"})
    assert_envelope(r, 415, "unsupported_media_type")
    r = call(client(), "POST", "/api/documents/upload", token=account.access, files={"other": ("a.txt", b"abc")})
    error = assert_envelope(r, 422, "validation_failed")
    assert "file" in error["fields"]
    r = call(client(), "POST", "/api/documents/upload", token=account.access,
             data=b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n%PDF-1.4 cut",
             headers={"Content-Type": "multipart/form-data; boundary=xyz"})
    assert_envelope(r, 400, "invalid_multipart")


def test_upload_over_the_limit_is_413(pool):
    pool.restart(ASSAY_MAX_UPLOAD_BYTES=4096)
    try:
        account = register()
        assert_envelope(upload(account, make_pdf([["x" * 40] * 40] * 6)), 413, "payload_too_large")
        assert upload(account, make_pdf([["small"]])).status_code == 202
    finally:
        pool.restart()


def test_too_many_pages_is_refused(pool):
    pool.restart(ASSAY_MAX_PAGES=2)
    try:
        account = register()
        error = assert_envelope(upload(account, make_pdf(PAGES)), 422, "too_many_pages")
        assert "limit is 2" in error["message"]
    finally:
        pool.restart()


def test_documents_are_private_paginated_and_deleted_with_their_file():
    account, stranger = register(), register()
    content = make_pdf([["shared file"]])
    first = upload(account, content).json()
    second = upload(account, content).json()
    third = upload(account, make_pdf([["another"]])).json()
    assert first["sha256"] == second["sha256"] != third["sha256"]
    for doc in (first, second, third):
        wait_done(account, doc["id"])
    page1 = call(client(), "GET", "/api/documents?limit=2", token=account.access).json()
    assert [d["id"] for d in page1["items"]] == [third["id"], second["id"]]
    page2 = call(client(), "GET", f"/api/documents?limit=2&cursor={page1['next_cursor']}", token=account.access).json()
    assert [d["id"] for d in page2["items"]] == [first["id"]] and page2["next_cursor"] is None
    assert_envelope(call(client(), "GET", "/api/documents?limit=0", token=account.access), 422)
    assert_envelope(call(client(), "GET", "/api/documents?cursor=zzz", token=account.access), 422)
    for path in (f"/api/documents/{first['id']}", f"/api/documents/{first['id']}/status"):
        assert_envelope(call(client(), "GET", path, token=stranger.access), 404, "not_found")
    assert_envelope(call(client(), "DELETE", f"/api/documents/{first['id']}", token=stranger.access), 404)
    stored = os.path.join(uploads_dir(), first["sha256"])
    assert call(client(), "DELETE", f"/api/documents/{first['id']}", token=account.access).status_code == 200
    assert os.path.exists(stored), "the file is still used by the second document"
    assert call(client(), "DELETE", f"/api/documents/{second['id']}", token=account.access).status_code == 200
    assert not os.path.exists(stored)
    assert psql("SELECT count(*) FROM document_pages WHERE document_id = :'id';", id=second["id"]) == "0"
    assert_envelope(call(client(), "GET", f"/api/documents/{second['id']}", token=account.access), 404)


def test_permissions_and_scopes():
    owner, viewer = team_with_member("viewer")
    assert_envelope(upload(viewer, make_pdf([["x"]])), 403, "forbidden")
    reader = create_key(owner, ["documents:read"])["key"]
    error = assert_envelope(upload(owner, make_pdf([["x"]]), api_key=reader), 403, "missing_scope")
    assert "documents:write" in error["message"]
    writer = create_key(owner, ["documents:write"])["key"]
    assert upload(owner, make_pdf([["x"]]), api_key=writer).status_code == 202
    assert call(client(), "GET", "/api/documents", api_key=reader).status_code == 200
    assert call(client(), "POST", "/api/documents/upload", files={"file": ("a", b"x")}).status_code == 401


def test_upload_quota(pool):
    pool.restart(ASSAY_QUOTA_UPLOAD=2)
    try:
        account = register()
        for _ in range(2):
            assert upload(account, make_pdf([["q"]])).status_code == 202
        r = upload(account, make_pdf([["q"]]))
        assert_envelope(r, 429, "quota_exceeded")
        assert r.headers["X-RateLimit-Limit"] == "2" and int(r.headers["Retry-After"]) > 0
    finally:
        pool.restart()


CORPUS = os.path.join(ENV.get("ASSAY_REPO", "."), "..", "shared", "corpus")
needs_corpus = pytest.mark.skipif(not os.path.isdir(CORPUS), reason="../shared/corpus is not beside the repository")


def page_words(document_id, page=1):
    return json.loads(psql("SELECT words FROM document_pages WHERE document_id = :'id' AND page = :'p';",
                           id=document_id, p=page))


@needs_corpus
def test_photo_of_a_receipt_is_ocrd_with_boxes_and_confidence():
    account = register()
    with open(os.path.join(CORPUS, "i2d", "docs", "oyo.png"), "rb") as f:
        r = upload(account, f.read(), filename="oyo.png")
    assert r.status_code == 202, r.text
    assert wait_done(account, r.json()["id"], timeout=120)["status"] == "done"
    page = call(client(), "GET", f"/api/documents/{r.json()['id']}", token=account.access).json()["pages"][0]
    assert page["source"] == "ocr" and page["word_count"] > 30 and page["confidence"] > 0.6
    words = page_words(r.json()["id"])
    texts = {w[0].strip(",.:").upper() for w in words}
    assert {"PAYMENT", "RECEIPT", "SANJAY"} <= texts, sorted(texts)[:50]
    receipt = next(w for w in words if w[0].upper().startswith("RECEIPT"))
    # Boxes are in the image's pixels (2892 × 4093), inside the image, sensible in size.
    assert 0 <= receipt[1] < receipt[3] <= 2892 and 0 <= receipt[2] < receipt[4] <= 4093
    assert 0 < receipt[5] <= 1


@needs_corpus
def test_receipt_lines_the_layout_analysis_drops_are_read():
    """tesseract's automatic page segmentation leaves out this receipt's invoice number and
    date lines (the plain `tesseract` command does too); Assay reads lines of ink no word
    covers on their own, and places them by their height on the page."""
    account = register()
    with open(os.path.join(CORPUS, "sroie", "docs", "sroie_488.jpg"), "rb") as f:
        r = upload(account, f.read(), filename="receipt.jpg")
    assert r.status_code == 202, r.text
    assert wait_done(account, r.json()["id"], timeout=120)["status"] == "done"
    text = psql("SELECT text FROM document_pages WHERE document_id = :'id' AND page = 1;", id=r.json()["id"])
    lines = text.splitlines()
    number = next(i for i, line in enumerate(lines) if "CS-SA-0108918" in line)
    date = next(i for i, line in enumerate(lines) if "06/09/2017" in line)
    # Between the tax summary above and the closing lines below, as printed. The number and
    # the date share one printed line: whether a reading keeps them on one line or splits it
    # differs between machines (tesseract picks its SIMD dot product by CPU, and they round
    # differently; another machine's CI read one line, this one reads two).
    summary = next(i for i, line in enumerate(lines) if line.startswith("SR @ 6%"))
    closing = next(i for i, line in enumerate(lines) if "THANK YOU" in line)
    assert summary < number <= date < closing, text
    words = {w[0] for w in page_words(r.json()["id"])}
    assert {"CS-SA-0108918", "06/09/2017"} <= words
    # Read once: nothing tesseract had read is read again.
    printed = [line for line in lines if line.strip()]
    assert len(set(printed)) == len(printed), text


def peak_rss_kb(pid):
    """A process's peak resident memory (VmHWM); job workers reset it as each job starts."""
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_a_very_large_photo_is_read_within_the_memory_bound(pool, kind):
    """A page photographed at 600 dpi (5100 × 6600, 34 MP; a 4961 × 7016 receipt once took a
    job worker to 551 MB) is decoded reduced (JPEG) or straight to grey (PNG) and read at
    about 350 dpi: the text is read, boxes stay in the photo's pixels, and the job worker
    that read it peaked at no more than 250 MB."""
    lines = ["CORNER GROCERY SDN BHD", "Receipt No: R-20481", "Date: 12/03/2024",
             "Milk 2L 6.90", "Bread 3.50", "TOTAL 10.40"]
    photo = render_pages(make_pdf([lines]), fmt=kind, dpi=600)[0]
    # One job worker, fresh: the document's job is the one whose peak is read.
    pool.restart(ASSAY_JOB_WORKERS=1)
    try:
        [worker] = pool.job_worker_pids()
        account = register()
        r = upload(account, photo, filename=f"photo.{kind}")
        assert r.status_code == 202, r.text
        assert wait_done(account, r.json()["id"], timeout=180)["status"] == "done"
        peak = peak_rss_kb(worker)
    finally:
        pool.restart()
    assert peak <= 250 * 1024, f"job worker peaked at {peak // 1024} MB"
    text = psql("SELECT text FROM document_pages WHERE document_id = :'id' AND page = 1;", id=r.json()["id"])
    assert "R-20481" in text and "TOTAL 10.40" in text, text
    size = psql("SELECT width || 'x' || height FROM document_pages WHERE document_id = :'id' AND page = 1;",
                id=r.json()["id"])
    assert size == "5100x6600", size
    # Drawn from x = 72 pt (600 px at 600 dpi), on the sixth line: its baseline 720 - 5 × 16 pt
    # from the foot of the 792 pt page.
    total = next(w for w in page_words(r.json()["id"]) if w[0] == "TOTAL")
    baseline = (792 - 720 + 5 * 16) * 600 / 72
    assert 560 <= total[1] <= 640 and baseline - 120 <= total[2] < baseline, total


def test_ocr_processes_run_openmp_with_one_thread(pool):
    """tesseract's OpenMP threads beside the job workers' own made pages several times
    slower on two cores: assay restarts itself with OMP_THREAD_LIMIT=1 unless it is set."""
    expected = os.environ.get("OMP_THREAD_LIMIT", "1").encode()
    pids = pool.job_worker_pids() + pool.worker_pids() + [pool.master_pid()]
    assert len(pids) >= 3
    for pid in pids:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environment = dict(item.split(b"=", 1) for item in f.read().split(b"\0") if b"=" in item)
        assert environment.get(b"OMP_THREAD_LIMIT") == expected, pid


@needs_corpus
def test_scanned_pdf_page_is_rendered_and_ocrd():
    account = register()
    with open(os.path.join(CORPUS, "scribe", "docs", "filing_01.png"), "rb") as f:
        pdf = make_scanned_pdf(f.read())
    r = upload(account, pdf, filename="scan.pdf")
    assert r.status_code == 202, r.text
    assert r.json()["content_type"] == "application/pdf"
    assert wait_done(account, r.json()["id"], timeout=120)["status"] == "done"
    page = call(client(), "GET", f"/api/documents/{r.json()['id']}", token=account.access).json()["pages"][0]
    assert page["source"] == "ocr" and page["word_count"] > 50
    words = page_words(r.json()["id"])
    # Boxes are in PDF points of the 612-wide page, like a text layer's.
    assert all(0 <= w[1] <= w[3] <= 613 for w in words)


TABLE_PAGE = [
    "Quarterly report",
    ["Date", "Product", "Units", "Unit price", "Share"],
    ["2024-01-15", "Widget", "12", "$4.50", "10%"],
    ["20/02/2024", "Gadget", "7", "$12.00", "25.5%"],
    ["5 Mar 2024", "Doohickey", "1,200", "$0.99", "64.5%"],
    "Notes follow after the table.",
]


def test_table_is_detected_typed_and_stored_in_the_warehouse():
    account = register()
    r = upload(account, make_pdf([TABLE_PAGE]), filename="report.pdf")
    doc = r.json()
    assert wait_done(account, doc["id"])["status"] == "done"
    listed = call(client(), "GET", f"/api/documents/{doc['id']}/tables", token=account.access).json()
    assert len(listed["items"]) == 1, listed
    table = listed["items"][0]
    assert table["page"] == 1 and table["row_count"] == 3 and table["schema"] == "warehouse"
    assert [(c["name"], c["type"]) for c in table["columns"]] == [
        ("date", "date"), ("product", "text"), ("units", "integer"), ("unit_price", "currency"), ("share", "percent")]
    assert [c["header"] for c in table["columns"]][3] == "Unit price"
    assert table["sample_rows"][0] == {"date": "2024-01-15", "product": "Widget", "units": 12, "unit_price": 4.5, "share": 10}
    assert 0 < table["confidence"] <= 1 and table["bbox"]["x0"] < table["bbox"]["x1"]
    # A real typed table in PostgreSQL.
    types = psql("SELECT string_agg(column_name || ':' || data_type, ',' ORDER BY ordinal_position) "
                 "FROM information_schema.columns WHERE table_schema = 'warehouse' AND table_name = :'t';", t=table["name"])
    assert types == "_row:integer,date:date,product:text,units:bigint,unit_price:numeric,share:numeric"
    assert psql(f"SELECT sum(units) FROM warehouse.\"{table['name']}\";") == "1219"
    rows = call(client(), "GET", f"/api/tables/{table['id']}/rows?limit=2", token=account.access).json()
    assert [row["date"] for row in rows["rows"]] == ["2024-01-15", "2024-02-20"]
    assert rows["total"] == 3 and rows["next_offset"] == 2
    rest = call(client(), "GET", f"/api/tables/{table['id']}/rows?limit=2&offset=2", token=account.access).json()
    assert [row["units"] for row in rest["rows"]] == [1200] and rest["next_offset"] is None
    assert_envelope(call(client(), "GET", f"/api/tables/{table['id']}/rows?limit=0", token=account.access), 422)
    stranger = register()
    assert_envelope(call(client(), "GET", f"/api/tables/{table['id']}/rows", token=stranger.access), 404)
    assert_envelope(call(client(), "GET", f"/api/documents/{doc['id']}/tables", token=stranger.access), 404)
    # Deleting the document drops its warehouse table.
    assert call(client(), "DELETE", f"/api/documents/{doc['id']}", token=account.access).status_code == 200
    assert psql("SELECT to_regclass(:'t') IS NULL;", t=f"warehouse.{table['name']}") == "t"


def test_table_pages_are_kept_by_the_workers_until_the_table_changes():
    """Workers keep pages they served; a change to the table's metadata (the trigger's
    NOTIFY), a reconnect, or the document's deletion must reach every worker at once."""
    account = register()
    doc = upload(account, make_pdf([TABLE_PAGE])).json()
    wait_done(account, doc["id"])
    table = call(client(), "GET", f"/api/documents/{doc['id']}/tables", token=account.access).json()["items"][0]
    path = f"/api/tables/{table['id']}/rows?limit=2"
    name = f'warehouse."{table["name"]}"'

    def products(n=12 * int(ENV.get("ASSAY_WORKERS", "3"))):
        """What the workers serve. Enough requests, 8 at a time, to reach every worker: one by
        one they could all go over the one FastCGI connection nginx keeps open."""
        def one(_):
            return tuple(row["product"] for row in call(client(), "GET", path, token=account.access).json()["rows"])
        with futures.ThreadPoolExecutor(8) as pool:
            return set(pool.map(one, range(n)))

    assert products() == {("Widget", "Gadget")}
    # Rows edited behind Assay's back (no metadata change) are not seen: the pages are kept.
    psql(f"UPDATE {name} SET product = 'Changed' WHERE _row = 1;")
    assert products() == {("Widget", "Gadget")}
    # Touching the metadata row notifies every worker.
    psql("UPDATE extracted_tables SET row_count = row_count WHERE id = :'id';", id=table["id"])
    assert products() == {("Changed", "Gadget")}
    # A reconnect may have missed notifications: the worker starts afresh.
    psql(f"UPDATE {name} SET product = 'Again' WHERE _row = 1;")
    # Every FastCGI worker's session (they connect as application "assay-web"; matching on
    # the last statement missed a worker whose last request ran another one); the timeout
    # waits until they are gone.
    ended = psql("SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000)) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                 "AND application_name = 'assay-web';")
    assert int(ended) >= 1
    assert products() == {("Again", "Gadget")}
    # A kept page is still another team's secret.
    stranger = register()
    for _ in range(6):
        assert_envelope(call(client(), "GET", path, token=stranger.access), 404)
    # Deleting the document: every worker answers 404 at once.
    assert call(client(), "DELETE", f"/api/documents/{doc['id']}", token=account.access).status_code == 200
    for _ in range(12):
        assert_envelope(call(client(), "GET", path, token=account.access), 404)


def test_prose_has_no_tables():
    account = register()
    doc = upload(account, make_pdf(PAGES)).json()
    wait_done(account, doc["id"])
    assert call(client(), "GET", f"/api/documents/{doc['id']}/tables", token=account.access).json()["items"] == []


def test_long_digit_strings_do_not_break_the_warehouse():
    account = register()
    page = ["Accounts", ["Holder", "Balance", "Account"],
            ["Ada", "10.50", "123456789012345678901234"],
            ["Bob", "7.25", "987654321098765432109876"],
            ["Cy", "1.00", "555555555555555555555555"]]
    doc = upload(account, make_pdf([page])).json()
    assert wait_done(account, doc["id"])["status"] == "done"
    table = call(client(), "GET", f"/api/documents/{doc['id']}/tables", token=account.access).json()["items"][0]
    assert [(c["name"], c["type"]) for c in table["columns"]] == [("holder", "text"), ("balance", "decimal"), ("account", "decimal")]
    assert table["row_count"] == 3


def test_a_non_ascii_byte_in_a_part_header_name_is_400_not_a_dead_worker(pool):
    """multipart-kit 4.7.1 trapped on it (index out of range) and the worker died (502)."""
    account = register()
    pids = set(pool.worker_pids())
    body = b"--d32d\r\n\xb0\xf3\x92\x92\xbe\xc3\x89\xf3\x81\x81\xa9\"d$\xb6\xdd--d32d--\r\n"
    r = call(client(), "POST", "/api/documents/upload", token=account.access, data=body,
             headers={"Content-Type": "multipart/form-data; boundary=d32d"})
    assert_envelope(r, 400, "invalid_multipart")
    assert set(pool.worker_pids()) == pids


@pytest.mark.parametrize("kind", ["png", "scanned pdf"])
def test_a_blank_page_is_done_with_a_no_text_found_warning(kind):
    """A page that gives no text, also after OCR tried again, is not silent: the document is
    done (nothing failed) and says which page, in the document, its status and the job."""
    account = register()
    blank = make_png(width=1240, height=1754, gray=255)
    content = blank if kind == "png" else make_scanned_pdf(blank)
    r = upload(account, content, filename=f"blank.{'png' if kind == 'png' else 'pdf'}")
    assert r.status_code == 202, r.text
    document = r.json()
    assert document["warnings"] == []
    status = wait_done(account, document["id"], timeout=60)
    assert status["status"] == "done" and status["error"] is None
    assert [(w["code"], w["page"]) for w in status["warnings"]] == [("no_text_found", 1)]
    assert "page 1" in status["warnings"][0]["message"]
    shown = call(client(), "GET", f"/api/documents/{document['id']}", token=account.access).json()
    assert shown["warnings"] == status["warnings"]
    job = call(client(), "GET", f"/api/jobs/{document['job_id']}", token=account.access).json()
    assert job["result"]["warnings"] == status["warnings"], job


def test_a_page_with_text_has_no_warnings():
    account = register()
    r = upload(account, make_pdf([["Invoice 1001", "Total 42.50 EUR"]]))
    status = wait_done(account, r.json()["id"])
    assert status["status"] == "done" and status["warnings"] == []
