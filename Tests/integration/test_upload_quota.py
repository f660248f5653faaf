"""The hourly upload quota counts accepted uploads only: refused files and extractions of
documents uploaded before do not spend it (the latter count in the general quota)."""
from access_helpers import call, client, register
from conftest import assert_envelope
from documents_helpers import make_pdf
from test_documents import upload, wait_done

LIMIT = 10  # ASSAY_QUOTA_UPLOAD's default, as the test instance runs it


def test_refused_uploads_do_not_spend_the_upload_quota():
    account = register()
    for attempt in range(LIMIT + 2):
        r = upload(account, b"" if attempt % 2 else b"not a document at all", filename=f"bad{attempt}.bin")
        assert r.status_code in (415, 422), r.text
    r = upload(account, make_pdf([["Accepted after twelve refusals"]]))
    assert r.status_code == 202, r.text
    assert int(r.headers["X-RateLimit-Remaining"]) == LIMIT - 1


def test_extracting_an_uploaded_document_again_does_not_spend_the_upload_quota():
    account = register()
    up = upload(account, make_pdf([["Invoice No: 7", "Total due: 12.00 EUR"]])).json()
    assert wait_done(account, up["id"])["status"] == "done"
    for _ in range(LIMIT + 2):
        r = account.post("/api/documents/extract", {"document_id": up["id"], "table_id": "invoice"})
        assert r.status_code == 200, r.text
    r = upload(account, make_pdf([["Still room for uploads"]]))
    assert r.status_code == 202, r.text


def test_accepted_uploads_still_reach_the_quota():
    account = register()
    for n in range(LIMIT):
        assert upload(account, make_pdf([[f"Upload {n}"]])).status_code == 202
    r = upload(account, make_pdf([["One too many"]]))
    assert_envelope(r, 429, "quota_exceeded")
    assert int(r.headers["Retry-After"]) > 0
