#!/usr/bin/env python3
"""The dashboard export benchmark of scripts/bench, against a running bench instance (VAR/env
in the environment): a 1,000-row, 6-column CSV uploaded and read by the real pipeline, a
dashboard over it of 6 charts (line, bar, area, pie, scatter, histogram) and 2 table widgets
of 1,000 rows each, exported as PDF with each widget's data (`POST /api/export/dashboard/{id}`,
streamed: the widgets' queries, the SVG charts drawn by librsvg, the tables paginated) and timed
from the request until the last byte arrived through nginx. One warm-up, then BENCH_DASHBOARD_RUNS
(default 5) timed runs. Prints one JSON object: median, best and worst seconds, pages, bytes.
"""
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from bench_rows_setup import request  # noqa: E402

ROWS = 1000
RUNS = int(os.environ.get("BENCH_DASHBOARD_RUNS", "5"))
BASE = os.environ["ASSAY_BASE_URL"]
CONTEXT = ssl._create_unverified_context()  # the instance's self-signed certificate


def csv_rows():
    lines = ["Invoice,Customer,Channel,Units,Amount,Day"]
    for i in range(ROWS):
        lines.append(f"INV-{10000 + i},Customer {i % 12},{('Web', 'Shop', 'Phone', 'Mail')[i % 4]},{1 + i % 9},"
                     f"{(i * 37.5) % 1000 + 5:.2f},2024-{1 + i % 12:02d}-{1 + i % 28:02d}")
    return ("\n".join(lines) + "\n").encode()


def upload(key, content):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sales.csv\"\r\n"
            f"Content-Type: text/csv\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    document = request("POST", "/api/documents/upload", body, key=key, content_type=f"multipart/form-data; boundary={boundary}")
    deadline = time.time() + 120
    while request("GET", f"/api/documents/{document['id']}/status", key=key)["status"] not in ("done", "failed"):
        if time.time() > deadline:
            sys.exit("the benchmark CSV was not processed in 120 s")
        time.sleep(0.2)
    tables = request("GET", f"/api/documents/{document['id']}/tables", key=key)["items"]
    if len(tables) != 1 or tables[0]["row_count"] != ROWS:
        sys.exit(f"expected one table of {ROWS} rows, got {[(t['name'], t['row_count']) for t in tables]}")
    return document["id"], tables[0]["id"]


def widgets(table):
    def widget(n, kind, title, query, x, y, w=6, h=4):
        return {"id": f"w{n}", "type": kind, "title": title, "table": table, "query": query,
                "layout": {"x": x, "y": y, "w": w, "h": h}}
    total = {"op": "sum", "column": "amount"}
    return [
        widget(1, "line", "Amount by month", {"dimensions": [{"column": "day", "bucket": "month"}], "measures": [total]}, 0, 0),
        widget(2, "bar", "Amount by customer", {"dimensions": ["customer"], "measures": [total]}, 6, 0),
        widget(3, "area", "Units by month", {"dimensions": [{"column": "day", "bucket": "month"}],
                                             "measures": [{"op": "sum", "column": "units"}]}, 0, 4),
        widget(4, "pie", "Orders by channel", {"dimensions": ["channel"], "measures": [{"op": "count"}]}, 6, 4),
        widget(5, "scatter", "Amount against units", {"columns": ["units", "amount"], "limit": 300}, 0, 8),
        widget(6, "histogram", "Distribution of amount", {"dimensions": [{"column": "amount", "bins": 10}],
                                                          "measures": [{"op": "count"}]}, 6, 8),
        widget(7, "table", "Invoices", {"columns": ["invoice", "customer", "channel", "units", "amount", "day"], "limit": ROWS},
               0, 12, 12, 6),
        widget(8, "table", "Invoices by amount", {"columns": ["invoice", "amount", "day"], "limit": ROWS,
                                                  "order": [{"by": "amount", "direction": "desc"}]}, 0, 18, 12, 6),
    ]


def export_pdf(key, dashboard):
    req = urllib.request.Request(f"{BASE}/api/export/dashboard/{dashboard}", method="POST",
                                 data=json.dumps({"format": "pdf", "include_data": True}).encode(),
                                 headers={"Content-Type": "application/json", "X-API-Key": key})
    started = time.time()
    with urllib.request.urlopen(req, context=CONTEXT, timeout=120) as response:
        body = response.read()
    seconds = time.time() - started
    if not body.startswith(b"%PDF"):
        sys.exit("the dashboard export is not a PDF")
    return seconds, body


def main():
    email = f"dash-{uuid.uuid4().hex[:10]}@example.com"
    session = request("POST", "/api/auth/register", {"email": email, "username": email.split("@")[0],
                                                     "password": "Bench-Passw0rd!", "full_name": "Bench"})
    key = request("POST", "/api/api-keys", {"name": "dashboard export", "scopes": [
        "documents:read", "documents:write", "dashboards:read", "dashboards:write", "export"]},
                  token=session["access_token"])["key"]
    print(f"[bench] a {ROWS}-row CSV and a dashboard of 6 charts and 2 tables of {ROWS} rows", file=sys.stderr, flush=True)
    document, table = upload(key, csv_rows())
    dashboard = request("POST", "/api/dashboards/generate", {"document_id": document, "options": {"title": "Benchmark"}},
                        key=key)["id"]
    request("PUT", f"/api/dashboards/{dashboard}", {"widgets": widgets(table)}, key=key)
    export_pdf(key, dashboard)  # warm-up: fonts, the workers' first cairo and librsvg use
    times, body = [], b""
    for _ in range(RUNS):
        seconds, body = export_pdf(key, dashboard)
        times.append(seconds)
    info = subprocess.run(["pdfinfo", "-"], input=body, capture_output=True, check=True).stdout.decode()
    pages = int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    print(json.dumps({"runs": RUNS, "median_seconds": round(statistics.median(times), 3), "best_seconds": round(min(times), 3),
                      "worst_seconds": round(max(times), 3), "pages": pages, "bytes": len(body)}))


if __name__ == "__main__":
    main()
