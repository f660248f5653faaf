"""Built-in invoice fields by meaning, through the API: a drawn invoice is uploaded, read
(as a text PDF, and as an image of the same page through OCR) and its fields extracted.
The invoice mixes what rules learned from one file get wrong: the gross total printed
before the net, a service period and a delivery date above the invoice date, a customer
number next to the invoice number, pounds from a German seller. And the same invoice as faint
print with a few black specks, which a global threshold turns into nothing."""
import os
import struct
import subprocess
import tempfile
import time
import zlib

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


EXPECTED = {"amount": "1428.00", "date": "2024-03-05", "invoice_number": "RE-2024-0188",
            "issuer": "Nordlicht Beratung GmbH", "currency": "GBP"}


def assert_expected(result, fields, names):
    for name in names:
        assert result["values"][name] == EXPECTED[name], fields.get(name)


def invoice_fields(account, document):
    r = account.post("/api/documents/extract", {"document_id": document, "table_id": "invoice"})
    assert r.status_code == 200, r.text
    result = r.json()
    return result, {f["field_id"]: f for f in result["fields"]}


def test_drawn_invoice_fields_by_meaning_through_the_api():
    account = register()
    document = upload_and_wait(account, make_pdf([GBP_INVOICE]), "gbp-invoice.pdf", "application/pdf")
    result, fields = invoice_fields(account, document)
    assert_expected(result, fields, EXPECTED)
    assert fields["amount"]["currency"] == "GBP"
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
    assert_expected(result, fields, ("amount", "date", "invoice_number", "currency"))
    amount = fields["amount"]
    assert amount["page"] == 1 and amount["box"]["x1"] > amount["box"]["x0"] and 0 < amount["confidence"] <= 1


def faint_print_png(lines, dpi=200, ink=185, paper=242, specks=0.005):
    """The page drawn, then made faint (black ink printed light grey on a grey paper, as a
    faded thermal receipt) with black specks in its corners (under 1 % of the page): a global
    threshold (Otsu's, tesseract's own) then falls between the specks and everything else."""
    with tempfile.TemporaryDirectory() as folder:
        pdf = os.path.join(folder, "page.pdf")
        with open(pdf, "wb") as handle:
            handle.write(make_pdf([lines]))
        subprocess.run(["pdftoppm", "-gray", "-r", str(dpi), "-singlefile", pdf, os.path.join(folder, "page")], check=True)
        with open(os.path.join(folder, "page.pgm"), "rb") as handle:
            magic, size, _, data = handle.read().split(b"\n", 3)
    assert magic == b"P5"
    width, height = map(int, size.split())
    pixels = bytearray(ink + value * (paper - ink) // 255 for value in data[:width * height])
    side = int((specks * width * height / 4) ** 0.5)
    for x, y in ((10, 10), (width - side - 10, 10), (10, height - side - 10), (width - side - 10, height - side - 10)):
        for row in range(y, y + side):
            pixels[row * width + x:row * width + x + side] = bytes(side)
    raw = b"".join(b"\x00" + bytes(pixels[row * width:(row + 1) * width]) for row in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b""))


def test_faint_print_with_dark_specks_is_read_again_and_gives_its_fields():
    # Read as it is, this page gives no word at all; read again with its contrast stretched
    # and its strokes thickened, every field.
    account = register()
    document = upload_and_wait(account, faint_print_png(GBP_INVOICE), "faint-invoice.png", "image/png")
    status = account.get(f"/api/documents/{document}/status").json()
    assert not status.get("warnings"), status  # not an empty page
    result, fields = invoice_fields(account, document)
    assert_expected(result, fields, ("amount", "date", "invoice_number", "issuer"))
