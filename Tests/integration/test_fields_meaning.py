"""Built-in invoice fields by meaning, through the API: a drawn invoice is uploaded, read
(as a text PDF, and as an image of the same page through OCR) and its fields extracted.
The invoice mixes what rules learned from one file get wrong: the gross total printed
before the net, a service period and a delivery date above the invoice date, a customer
number next to the invoice number, pounds from a German seller."""
import os
import subprocess
import tempfile
import time

from access_helpers import call, client, register
from documents_helpers import make_pdf

GBP_INVOICE = [
    "Nordlicht Beratung GmbH",
    "Hafenstrasse 12, 20457 Hamburg, Deutschland",
    "USt-IdNr.: DE123456789",
    "",
    "Kundennummer: 100234",
    "Rechnungsnummer: RE-2024-0188",
    "Leistungszeitraum: 01.02.2024 - 29.02.2024",
    "Lieferdatum: 28.02.2024",
    "Rechnungsdatum: 05.03.2024",
    "",
    "Rechnungsbetrag: GBP 1,428.00",
    "Nettobetrag: GBP 1,200.00",
    "USt. 19 %: GBP 228.00",
    "",
    "Die Ware bleibt bis zur vollstaendigen Bezahlung unser Eigentum.",
]


def upload_and_wait(account, content, filename, content_type):
    r = call(client(), "POST", "/api/documents/upload", token=account.access,
             files={"file": (filename, content, content_type)})
    assert r.status_code == 202, r.text
    document = r.json()["id"]
    deadline = time.time() + 120
    while True:
        status = account.get(f"/api/documents/{document}/status").json()
        if status["status"] in ("done", "failed"):
            break
        assert time.time() < deadline, status
        time.sleep(0.2)
    assert status["status"] == "done", status
    return document


def invoice_fields(account, document):
    r = account.post("/api/documents/extract", {"document_id": document, "table_id": "invoice"})
    assert r.status_code == 200, r.text
    result = r.json()
    return result, {f["field_id"]: f for f in result["fields"]}


def test_drawn_invoice_fields_by_meaning_through_the_api():
    account = register()
    document = upload_and_wait(account, make_pdf([GBP_INVOICE]), "gbp-invoice.pdf", "application/pdf")
    result, fields = invoice_fields(account, document)
    values = result["values"]
    assert values["amount"] == "1428.00", fields["amount"]
    assert values["currency"] == "GBP" and fields["amount"]["currency"] == "GBP"
    assert values["date"] == "2024-03-05", fields["date"]
    assert values["invoice_number"] == "RE-2024-0188", fields["invoice_number"]
    assert values["issuer"] == "Nordlicht Beratung GmbH", fields["issuer"]
    # Every value says where it is and how sure the extractor is.
    for name in ("amount", "date", "invoice_number", "issuer"):
        value = fields[name]
        assert value["page"] == 1 and 0 < value["confidence"] <= 1, value
        box = value["box"]
        assert 0 <= box["x0"] < box["x1"] <= 612 and 0 <= box["y0"] < box["y1"] <= 792, value


def test_the_same_invoice_as_an_image_gives_the_same_fields():
    account = register()
    with tempfile.TemporaryDirectory() as folder:
        pdf = os.path.join(folder, "invoice.pdf")
        with open(pdf, "wb") as handle:
            handle.write(make_pdf([GBP_INVOICE]))
        subprocess.run(["pdftocairo", "-png", "-r", "300", "-singlefile", pdf, os.path.join(folder, "invoice")], check=True)
        with open(os.path.join(folder, "invoice.png"), "rb") as handle:
            png = handle.read()
    document = upload_and_wait(account, png, "gbp-invoice.png", "image/png")
    result, fields = invoice_fields(account, document)
    values = result["values"]
    assert values["amount"] == "1428.00", fields["amount"]
    assert values["date"] == "2024-03-05", fields["date"]
    assert values["invoice_number"] == "RE-2024-0188", fields["invoice_number"]
    assert values["currency"] == "GBP", fields["currency"]
    amount = fields["amount"]
    assert amount["page"] == 1 and amount["box"]["x1"] > amount["box"]["x0"] and 0 < amount["confidence"] <= 1
