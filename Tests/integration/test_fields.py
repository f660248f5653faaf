"""Field extraction: document-table configurations, extract (direct and as a job),
results, re-extract, privacy and errors, and the LLM path against a local stand-in."""
import time

import pytest

from access_helpers import assert_invalid, call, client, create_key, register, team_with_member
from conftest import assert_envelope
from documents_helpers import make_pdf
from llm_stub import serving

INVOICE = [
    "ACME Trading GmbH",
    "Musterstrasse 1, 10115 Berlin",
    "",
    "Invoice No: INV-2024-0042",
    "Invoice Date: 05.03.2024",
    "Bill to: Example Customer Ltd",
    "",
    "Subtotal: 1,000.00 EUR",
    "VAT 19%: 190.00 EUR",
    "Total due: 1,190.00 EUR",
    "",
    "Contact: billing@acme.example",
]

FINANCIAL = {
    "id": "financial",
    "name": "Financial Documents",
    "fields": [
        {"field_id": "amount", "name": "Amount", "field_type": "currency"},
        {"field_id": "date", "name": "Date", "field_type": "date"},
    ],
}


def extract(account, content=None, table=None, table_id=None, document_id=None, filename="invoice.pdf", token=None):
    data = {}
    if table is not None:
        data["table"] = table if isinstance(table, str) else __import__("json").dumps(table)
    if table_id is not None:
        data["table_id"] = table_id
    if document_id is not None:
        data["document_id"] = document_id
    files = {"file": (filename, content, "application/pdf")} if content is not None else None
    if files is None:
        # requests only sends multipart when there is a file; force it for form-only bodies.
        files = {k: (None, v) for k, v in data.items()}
        data = None
    return call(client(), "POST", "/api/documents/extract", token=token or account.access, files=files, data=data)


def wait_result(account, result_id, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = account.get(f"/api/documents/results/{result_id}")
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("done", "failed"):
            return r.json()
        time.sleep(0.1)
    raise AssertionError(f"result {result_id} not finished: {r.json()}")


def field(result, field_id):
    return next(f for f in result["fields"] if f["field_id"] == field_id)


# --- configurations ---------------------------------------------------------------------------


def test_table_configurations_are_created_updated_listed_and_deleted():
    account = register()
    r = account.post("/api/documents/tables", FINANCIAL)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["id"] == "financial" and created["name"] == "Financial Documents" and not created["builtin"]
    assert [f["field_id"] for f in created["fields"]] == ["amount", "date"]
    assert created["fields"][0] == {"field_id": "amount", "name": "Amount", "field_type": "currency", "synonyms": [],
                                    "description": None, "required": False}
    # Posting the same id replaces it.
    changed = dict(FINANCIAL, name="Finance", fields=FINANCIAL["fields"] + [
        {"field_id": "email", "name": "Email", "field_type": "email", "synonyms": ["E-Mail", "Courriel"], "required": True}])
    r = account.post("/api/documents/tables", changed)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Finance" and len(r.json()["fields"]) == 3
    assert r.json()["fields"][2]["synonyms"] == ["E-Mail", "Courriel"] and r.json()["fields"][2]["required"] is True
    got = account.get("/api/documents/tables/financial").json()
    assert got["uuid"] == created["uuid"] and got["name"] == "Finance"
    listed = account.get("/api/documents/tables").json()["items"]
    assert [t["id"] for t in listed] == ["financial", "invoice"]
    assert listed[1]["builtin"] is True and {f["field_id"] for f in listed[1]["fields"]} == {
        "amount", "date", "invoice_number", "issuer", "currency", "address"}
    assert account.get("/api/documents/tables/invoice").json()["builtin"] is True
    assert account.delete("/api/documents/tables/financial").json() == {"id": "financial", "status": "deleted"}
    assert_envelope(account.get("/api/documents/tables/financial"), 404, "not_found")
    assert_envelope(account.delete("/api/documents/tables/financial"), 404, "not_found")
    assert_envelope(account.delete("/api/documents/tables/invoice"), 409, "builtin_table")


@pytest.mark.parametrize("body,names", [
    ({}, ["id", "name", "fields"]),
    ({"id": "bad id!", "name": "x", "fields": [{"field_id": "a", "name": "A", "field_type": "text"}]}, ["id"]),
    ({"id": "t", "name": "", "fields": []}, ["name", "fields"]),
    ({"id": "t", "name": "T", "fields": [{"field_id": "a", "name": "A", "field_type": "money"}]}, ["fields[0].field_type"]),
    ({"id": "t", "name": "T", "fields": [{"field_id": "a", "name": "A", "field_type": "text"},
                                         {"field_id": "a", "name": "B", "field_type": "date"}]}, ["fields[1].field_id"]),
    ({"id": "t", "name": "T", "fields": [{"field_id": "9x", "field_type": "text"}]}, ["fields[0].field_id", "fields[0].name"]),
    ({"id": "t", "name": "T", "fields": ["amount"]}, ["fields[0]"]),
    ({"id": 5, "name": ["x"], "fields": {}}, ["id", "name", "fields"]),
])
def test_invalid_configurations_are_refused_with_the_fields_named(body, names):
    account = register()
    fields = assert_invalid(account.post("/api/documents/tables", body), *names)
    if "fields[0].field_type" in names:
        assert "currency" in fields["fields[0].field_type"] and "percentage" in fields["fields[0].field_type"]


def test_configuration_requests_need_json_and_the_right_role():
    owner, viewer = team_with_member("viewer")
    assert_envelope(call(client(), "POST", "/api/documents/tables", token=owner.access, data=b"{not json",
                         headers={"Content-Type": "application/json"}), 400, "invalid_json")
    assert_envelope(call(client(), "POST", "/api/documents/tables", token=owner.access, data=b"id=x"), 415)
    assert_envelope(viewer.post("/api/documents/tables", FINANCIAL), 403, "forbidden")
    assert owner.post("/api/documents/tables", FINANCIAL).status_code == 201
    # Readable by the team, not by anyone else.
    assert viewer.get("/api/documents/tables/financial").status_code == 200
    assert_envelope(register().get("/api/documents/tables/financial"), 404, "not_found")
    assert call(client(), "GET", "/api/documents/tables").status_code == 401


# --- extraction -------------------------------------------------------------------------------


def test_seed_example_extracts_a_small_text_pdf_in_the_request():
    account = register()
    r = extract(account, make_pdf([INVOICE]), table=FINANCIAL)
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["status"] == "done" and result["extractor"] == "rules" and result["error"] is None
    assert result["table"] == {"id": "financial", "name": "Financial Documents", "saved": True}
    amount, date = field(result, "amount"), field(result, "date")
    assert amount["value"] == "1190.00" and amount["currency"] == "EUR", amount
    assert date["value"] == "2024-03-05", date
    for value in (amount, date):
        assert value["page"] == 1 and 0 < value["confidence"] <= 1
        box = value["box"]
        assert 0 <= box["x0"] < box["x1"] <= 612 and 0 <= box["y0"] < box["y1"] <= 792, box
    assert result["values"] == {"amount": "1190.00", "date": "2024-03-05"}
    # The inline configuration was saved, and the file became a processed document.
    assert account.get("/api/documents/tables/financial").status_code == 200
    doc = account.get(f"/api/documents/{result['document_id']}").json()
    assert doc["status"] == "done" and doc["pages"][0]["source"] == "text"
    listed = account.get("/api/documents/results").json()["items"]
    assert [item["id"] for item in listed] == [result["id"]]


def test_custom_fields_of_several_types():
    account = register()
    table = {"id": "custom", "name": "Custom", "fields": [
        {"field_id": "invoice_number", "name": "Invoice No", "field_type": "text"},
        {"field_id": "contact", "name": "Contact", "field_type": "email"},
        {"field_id": "vat", "name": "VAT", "field_type": "percentage"},
        {"field_id": "po_number", "name": "Purchase order", "field_type": "text", "required": True},
    ]}
    result = extract(account, make_pdf([INVOICE]), table=table).json()
    assert result["status"] == "done", result
    assert field(result, "invoice_number")["value"] == "INV-2024-0042"
    assert field(result, "contact")["value"] == "billing@acme.example"
    assert field(result, "vat")["value"] == "19"
    missing = field(result, "po_number")
    assert missing["value"] is None and missing["confidence"] == 0 and missing["page"] is None
    assert result["missing_required"] == ["po_number"]


def test_builtin_invoice_table_and_an_uploaded_document():
    account = register()
    up = call(client(), "POST", "/api/documents/upload", token=account.access,
              files={"file": ("inv.pdf", make_pdf([INVOICE]), "application/pdf")}).json()
    deadline = time.time() + 30
    while account.get(f"/api/documents/{up['id']}/status").json()["status"] != "done":
        assert time.time() < deadline
        time.sleep(0.1)
    r = account.post("/api/documents/extract", {"document_id": up["id"], "table_id": "invoice"})
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["document_id"] == up["id"] and result["table"] == {"id": "invoice", "name": "Invoice", "saved": False}
    assert result["values"]["amount"] == "1190.00" and result["values"]["currency"] == "EUR"
    assert result["values"]["date"] == "2024-03-05" and result["values"]["invoice_number"] == "INV-2024-0042"


def test_a_longer_document_is_extracted_by_a_job():
    account = register()
    pages = [INVOICE] + [["Terms and conditions page %d" % n] for n in range(2, 8)]
    r = extract(account, make_pdf(pages), table=FINANCIAL)
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] in ("queued", "processing", "done") and queued["job_id"]
    assert r.headers["Location"] == f"/api/documents/results/{queued['id']}"
    result = wait_result(account, queued["id"])
    assert result["status"] == "done", result
    assert result["values"] == {"amount": "1190.00", "date": "2024-03-05"}
    doc = account.get(f"/api/documents/{result['document_id']}").json()
    assert doc["status"] == "done" and doc["page_count"] == 7 and len(doc["pages"]) == 7
    job = account.get(f"/api/jobs/{queued['job_id']}").json()
    assert job["status"] == "succeeded" and job["result"]["extractor"] == "rules"


def test_re_extract_uses_the_configuration_as_it_is_now():
    account = register()
    result = extract(account, make_pdf([INVOICE]), table=FINANCIAL).json()
    assert set(result["values"]) == {"amount", "date"}
    account.post("/api/documents/tables", dict(FINANCIAL, fields=FINANCIAL["fields"] + [
        {"field_id": "email", "name": "Contact", "field_type": "email"}]))
    r = account.post(f"/api/documents/results/{result['id']}/re-extract")
    assert r.status_code == 200, r.text
    again = r.json()
    assert again["id"] == result["id"] and again["status"] == "done"
    assert again["values"] == {"amount": "1190.00", "date": "2024-03-05", "email": "billing@acme.example"}
    # Or with another configuration.
    r = account.post(f"/api/documents/results/{result['id']}/re-extract", {"table_id": "invoice"})
    assert r.status_code == 200 and r.json()["table"]["id"] == "invoice"
    assert r.json()["values"]["invoice_number"] == "INV-2024-0042"
    assert_envelope(account.post(f"/api/documents/results/{result['id']}/re-extract", {"table_id": "nope"}), 404)
    assert_invalid(account.post(f"/api/documents/results/{result['id']}/re-extract", {"table_id": 7}), "table_id")


def test_re_extract_keeps_the_earlier_results_as_versions():
    account = register()
    first = extract(account, make_pdf([INVOICE]), table=FINANCIAL).json()
    assert first["version"] == 1 and first["versions"] == []
    rid = first["id"]
    r = account.post(f"/api/documents/results/{rid}/re-extract", {"table_id": "invoice"})
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["version"] == 2 and second["table"]["id"] == "invoice"
    assert second["values"]["invoice_number"] == "INV-2024-0042"
    # The result shows the latest run and lists the earlier one.
    shown = account.get(f"/api/documents/results/{rid}").json()
    assert shown["version"] == 2 and shown["values"] == second["values"]
    [v1] = shown["versions"]
    assert v1["version"] == 1 and v1["table"] == {"id": "financial", "name": first["table"]["name"]}
    assert v1["status"] == "done" and v1["url"] == f"/api/documents/results/{rid}/versions/1"
    assert v1["started_at"] <= v1["completed_at"] <= shown["run_started_at"]
    # The earlier version is kept whole: its values, its configuration's table.
    old = account.get(v1["url"]).json()
    assert old["version"] == 1 and old["current_version"] == 2 and old["id"] == rid
    assert old["values"] == first["values"] and old["table"]["id"] == "financial"
    # A third run lists both, newest first.
    account.post(f"/api/documents/results/{rid}/re-extract")
    assert [v["version"] for v in account.get(f"/api/documents/results/{rid}").json()["versions"]] == [2, 1]
    assert account.get(f"/api/documents/results/{rid}/versions/2").json()["table"]["id"] == "invoice"
    # Unknown versions and other teams: 404.
    assert_envelope(account.get(f"/api/documents/results/{rid}/versions/3"), 404, "not_found")
    assert_envelope(account.get(f"/api/documents/results/{rid}/versions/9"), 404, "not_found")
    assert_envelope(account.get(f"/api/documents/results/{rid}/versions/x"), 404, "not_found")
    assert_envelope(register().get(f"/api/documents/results/{rid}/versions/1"), 404, "not_found")
    # Deleting the result deletes its versions.
    account.delete(f"/api/documents/results/{rid}")
    assert_envelope(account.get(f"/api/documents/results/{rid}/versions/1"), 404, "not_found")


def test_results_are_listed_filtered_paginated_and_deleted():
    account = register()
    content = make_pdf([INVOICE])
    ids = [extract(account, content, table=FINANCIAL).json()["id"] for _ in range(3)]
    page1 = account.get("/api/documents/results?limit=2").json()
    assert [r["id"] for r in page1["items"]] == ids[::-1][:2] and page1["next_cursor"]
    page2 = account.get(f"/api/documents/results?limit=2&cursor={page1['next_cursor']}").json()
    assert [r["id"] for r in page2["items"]] == [ids[0]] and page2["next_cursor"] is None
    doc = account.get(f"/api/documents/results/{ids[1]}").json()["document_id"]
    assert [r["id"] for r in account.get(f"/api/documents/results?document_id={doc}").json()["items"]] == [ids[1]]
    assert len(account.get("/api/documents/results?table_id=financial&status=done").json()["items"]) == 3
    assert_invalid(account.get("/api/documents/results?limit=0&status=odd&document_id=x&cursor=zz"),
                   "limit", "status", "document_id", "cursor")
    assert account.delete(f"/api/documents/results/{ids[0]}").json() == {"id": ids[0], "status": "deleted"}
    assert_envelope(account.get(f"/api/documents/results/{ids[0]}"), 404, "not_found")
    assert_envelope(account.delete(f"/api/documents/results/{ids[0]}"), 404, "not_found")
    assert_envelope(account.get("/api/documents/results/not-a-uuid"), 404)


def test_extract_errors_are_clear():
    account = register()
    pdf = make_pdf([INVOICE])
    assert_invalid(extract(account, None, table=FINANCIAL), "file")
    assert_invalid(extract(account, pdf), "table")
    assert_invalid(extract(account, pdf, table="{not json"), "table")
    assert_invalid(extract(account, pdf, table={"id": "x", "name": "X", "fields": [{"field_id": "a"}]}),
                   "table.fields[0].name", "table.fields[0].field_type")
    assert_envelope(extract(account, pdf, table_id="unknown"), 404, "not_found")
    assert_envelope(extract(account, b"plain text, not a document", table=FINANCIAL, filename="a.pdf"), 415)
    assert_envelope(extract(account, b"%PDF-1.4\ngarbage\n", table=FINANCIAL), 422, "corrupt_document")
    assert_invalid(extract(account, b"", table=FINANCIAL), "file")
    assert_invalid(extract(account, None, table=FINANCIAL, document_id="nope"), "document_id")
    assert_invalid(account.post("/api/documents/extract", {"table_id": "invoice"}), "document_id")
    # Nothing was stored for any of these.
    assert account.get("/api/documents").json()["items"] == []
    assert account.get("/api/documents/results").json()["items"] == []


def test_results_and_documents_of_another_team_are_invisible():
    owner, viewer = team_with_member("viewer")
    result = extract(owner, make_pdf([INVOICE]), table=FINANCIAL).json()
    stranger = register()
    for method, path in [("GET", f"/api/documents/results/{result['id']}"),
                         ("DELETE", f"/api/documents/results/{result['id']}"),
                         ("POST", f"/api/documents/results/{result['id']}/re-extract")]:
        assert_envelope(stranger.request(method, path), 404, "not_found")
    assert_envelope(stranger.post("/api/documents/extract", {"document_id": result["document_id"], "table_id": "invoice"}),
                    404, "not_found")
    assert stranger.get("/api/documents/results").json()["items"] == []
    # A viewer of the team may read but not extract or delete.
    assert viewer.get(f"/api/documents/results/{result['id']}").status_code == 200
    assert_envelope(extract(viewer, make_pdf([INVOICE]), table=FINANCIAL), 403, "forbidden")
    assert_envelope(viewer.delete(f"/api/documents/results/{result['id']}"), 403, "forbidden")
    reader = create_key(owner, ["documents:read"])["key"]
    assert_envelope(call(client(), "POST", "/api/documents/extract", api_key=reader,
                         json={"document_id": result["document_id"], "table_id": "invoice"}), 403, "missing_scope")


# --- the LLM extractor, against a local chat-completions server ------------------------------


@pytest.fixture
def llm(pool):
    with serving(pool, LLM_API_KEY="sk-test-secret", LLM_TIMEOUT=5, LLM_MAX_RETRIES=2) as stub:
        yield stub


LLM_ANSWER = {"fields": {"amount": {"value": "1,190.00 EUR", "page": 1}, "date": {"value": "05.03.2024", "page": 1}}}


def test_llm_extracts_with_a_json_schema_after_a_429(llm, pool):
    llm.script = [("status", 429, 1), ("answer", LLM_ANSWER)]
    account = register()
    r = extract(account, make_pdf([INVOICE]), table=FINANCIAL)
    assert r.status_code == 202, r.text
    result = wait_result(account, r.json()["id"])
    assert result["status"] == "done" and result["extractor"] == "llm" and result["fallback_reason"] is None, result
    assert result["values"] == {"amount": "1190.00", "date": "2024-03-05"}
    amount = field(result, "amount")
    assert amount["currency"] == "EUR" and amount["raw"] == "1,190.00 EUR" and amount["page"] == 1
    assert amount["box"] is not None and amount["confidence"] > 0.5
    assert len(llm.requests) == 2
    sent = llm.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["Authorization"] == "Bearer sk-test-secret"
    body = sent["body"]
    assert body["model"] == "stub-model" and body["response_format"]["type"] == "json_schema"
    schema = body["response_format"]["json_schema"]["schema"]
    assert set(schema["properties"]["fields"]["required"]) == {"amount", "date"}
    assert "1,190.00 EUR" in body["messages"][-1]["content"]
    # The key is never logged.
    assert "sk-test-secret" not in pool.log.read_text(errors="replace")


@pytest.mark.parametrize("script,reason", [
    ([("garbage",)], "not the requested JSON"),
    ([("not_chat",)], "not a chat completion"),
    ([("status", 500)] * 3, "HTTP 500 after 3 attempt"),
    ([("status", 401)], "HTTP 401"),
])
def test_llm_failures_fall_back_to_the_rules(llm, script, reason):
    llm.script = list(script)
    account = register()
    r = extract(account, make_pdf([INVOICE]), table=FINANCIAL)
    assert r.status_code == 202, r.text
    result = wait_result(account, r.json()["id"])
    assert result["status"] == "done" and result["extractor"] == "rules", result
    assert reason in result["fallback_reason"], result["fallback_reason"]
    assert result["values"] == {"amount": "1190.00", "date": "2024-03-05"}
    assert len(llm.requests) == len(script)
