"""Builds small but real documents for the upload tests, with the standard library only."""
import struct
import zlib


def _serialize(objects, root):
    """Numbered objects (1…n), the cross-reference table and the trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, xref)
    return bytes(out)


def _escape(text):
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages):
    """A text PDF: `pages` is a list of pages, each a list of lines (Helvetica 12). A line
    is a string, or a list of cells laid out as table columns 105 pt apart."""
    objects = []

    def add(body):
        objects.append(body)
        return len(objects)

    catalog = add(None)
    pages_id = add(None)
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 12 Tf", "14 TL", "72 720 Td"]
        y = 720
        for line in lines:
            if isinstance(line, (list, tuple)):
                # A table row: each cell at its own x (72 pt, then every 105 pt).
                for index, cell in enumerate(line):
                    ops.append(f"1 0 0 1 {72 + 105 * index} {y} Tm ({_escape(cell)}) Tj")
            else:
                ops.append(f"1 0 0 1 72 {y} Tm ({_escape(line)}) Tj")
            y -= 16
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R "
                        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (pages_id, content, font)))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id
    objects[pages_id - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (
        b" ".join(b"%d 0 R" % k for k in kids), len(kids))

    return _serialize(objects, root=catalog)


def make_png(width=40, height=20, gray=200):
    """A valid grayscale PNG."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + bytes([gray]) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def make_scanned_pdf(png):
    """A one-page PDF whose only content is the image of a PNG (a "scan": no text layer).

    The PNG's IDAT stream is embedded as is: PDF's FlateDecode with the PNG predictor
    reads PNG scanlines directly. Works for 8-bit, non-interlaced gray or RGB PNGs.
    """
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, ihdr = 8, b"", None
    while pos < len(png):
        length = struct.unpack(">I", png[pos:pos + 4])[0]
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + length
    width, height, depth, color, _, _, interlace = ihdr
    assert depth == 8 and interlace == 0 and color in (0, 2), "needs an 8-bit gray or RGB PNG"
    colors, space = (1, b"/DeviceGray") if color == 0 else (3, b"/DeviceRGB")
    page_w, page_h = 612, round(612 * height / width)
    image = (b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace %s /BitsPerComponent 8 "
             b"/Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors %d /BitsPerComponent 8 /Columns %d >> "
             b"/Length %d >>\nstream\n" % (width, height, space, colors, width, len(idat)) + idat + b"\nendstream")
    content = b"q %d 0 0 %d 0 0 cm /Im1 Do Q" % (page_w, page_h)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R "
        b"/Resources << /XObject << /Im1 5 0 R >> >> >>" % (page_w, page_h),
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        image,
    ]
    return _serialize(objects, root=1)


def _run(args):
    import subprocess
    subprocess.run(args, check=True, capture_output=True)


def render_pages(pdf, fmt="png", dpi=200):
    """Every page of a PDF as an image (pdftocairo): a list of bytes, one per page."""
    import glob
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "in.pdf")
        with open(source, "wb") as f:
            f.write(pdf)
        flag = {"png": "-png", "jpeg": "-jpeg", "tiff": "-tiff"}[fmt]
        extra = ["-gray"] if fmt == "tiff" else []
        _run(["pdftocairo", flag, *extra, "-r", str(dpi), source, os.path.join(tmp, "page")])
        names = sorted(glob.glob(os.path.join(tmp, "page-*")), key=lambda n: int(n.rsplit("-", 1)[1].split(".")[0]))
        out = []
        for name in names:
            with open(name, "rb") as f:
                out.append(f.read())
        return out


def make_tiff(pdf, dpi=200):
    """A multi-page TIFF with one page per PDF page (pdftocairo, then tiffcp)."""
    import os
    import tempfile
    pages = render_pages(pdf, "tiff", dpi)
    with tempfile.TemporaryDirectory() as tmp:
        names = []
        for index, data in enumerate(pages):
            names.append(os.path.join(tmp, "p%d.tif" % index))
            with open(names[-1], "wb") as f:
                f.write(data)
        _run(["tiffcp", "-c", "lzw", *names, os.path.join(tmp, "all.tif")])
        with open(os.path.join(tmp, "all.tif"), "rb") as f:
            return f.read()


def encrypt_pdf(pdf, user_password="secret"):
    """The PDF protected with a user password (qpdf, AES-256)."""
    import os
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        source, target = os.path.join(tmp, "in.pdf"), os.path.join(tmp, "out.pdf")
        with open(source, "wb") as f:
            f.write(pdf)
        _run(["qpdf", "--encrypt", user_password, "owner-" + user_password, "256", "--", source, target])
        with open(target, "rb") as f:
            return f.read()


def png_claiming_size(width, height):
    """A structurally complete PNG whose header claims width × height pixels."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))
