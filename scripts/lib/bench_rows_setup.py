#!/usr/bin/env python3
"""Set-up for scripts/bench's rows benchmark, through the API of a running instance.

Registers a user, makes an API key, uploads a text PDF holding one 6-column, 150-row
table, waits until it is processed, generates a 6-widget dashboard from the table and prints
`TABLE_ID API_KEY ROWS COLUMNS DASHBOARD_ID CHART_WIDGET_ID`. The key also has the `share`
scope: the share part shares that dashboard with it.
Standard library only; reads the instance's address from ASSAY_BASE_URL.
"""
import json
import os
import ssl
import sys
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "integration"))
from documents_helpers import _escape, _serialize  # noqa: E402

BASE = os.environ["ASSAY_BASE_URL"]
CONTEXT = ssl._create_unverified_context()  # the instance's self-signed certificate


def request(method, path, body=None, token=None, key=None, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = "Bearer " + token
    if key:
        headers["X-API-Key"] = key
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(BASE + path, data=data, method=method, headers=headers)
    with urllib.request.urlopen(req, context=CONTEXT, timeout=60) as response:
        return json.loads(response.read())


def table_pdf(rows=150):
    """One tall page: a header and `rows` rows of 6 columns in 7 pt Helvetica."""
    header = ["Invoice", "Date", "Customer", "Quantity", "Amount", "Paid"]
    lines = [header] + [[f"INV-{1000 + i}", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", f"Customer {i % 37}",
                         str(1 + i % 9), f"{(i * 37.5) % 1000:.2f}", "yes" if i % 3 else "no"] for i in range(rows)]
    height = 80 + 9 * len(lines)
    ops = ["BT", "/F1 7 Tf"]
    y = height - 40
    for line in lines:
        for index, cell in enumerate(line):
            ops.append(f"1 0 0 1 {40 + 90 * index} {y} Tm ({_escape(cell)}) Tj")
        y -= 9
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 %d] /Contents 4 0 R "
        b"/Resources << /Font << /F1 3 0 R >> >> >>" % height,
    ]
    return _serialize(objects, root=1)


def main():
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    session = request("POST", "/api/auth/register", {"email": email, "username": email.split("@")[0],
                                                     "password": "Bench-Passw0rd!", "full_name": "Bench"})
    token = session["access_token"]
    scopes = ["documents:read", "documents:write", "dashboards:read", "dashboards:write", "share"]
    key = request("POST", "/api/api-keys", {"name": "bench", "scopes": scopes}, token=token)["key"]
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + table_pdf() + f"\r\n--{boundary}--\r\n".encode()
    document = request("POST", "/api/documents/upload", body, key=key,
                       content_type=f"multipart/form-data; boundary={boundary}")
    deadline = time.time() + 120
    while True:
        status = request("GET", f"/api/documents/{document['id']}/status", key=key)
        if status["status"] in ("done", "failed"):
            break
        if time.time() > deadline:
            sys.exit("the benchmark document was not processed in 120 s")
        time.sleep(0.2)
    if status["status"] != "done":
        sys.exit(f"the benchmark document failed: {status['error']}")
    tables = request("GET", f"/api/documents/{document['id']}/tables", key=key)["items"]
    if not tables:
        sys.exit("no table was detected in the benchmark document")
    table = max(tables, key=lambda t: t["row_count"])
    dashboard = request("POST", "/api/dashboards/generate", {"table_ids": [table["id"]], "options": {"max_widgets": 6}}, key=key)
    chart = next((w for w in dashboard["widgets"] if w["type"] not in ("kpi", "table")), dashboard["widgets"][0])
    print(table["id"], key, table["row_count"], len(table["columns"]), dashboard["id"], chart["id"])


if __name__ == "__main__":
    main()
