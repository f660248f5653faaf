#!/usr/bin/env python3
"""The export benchmark of scripts/bench, against a running bench instance (VAR/env in
the environment): a 1,000,000-row, 6-column warehouse table exported as CSV through the
API (`POST /api/export/table/{id}`, streamed) beside PostgreSQL's own
`COPY … TO STDOUT (FORMAT csv)` into a file, measured in the same run, with the FastCGI
workers' peak resident memory during the export; then the same table as .xlsx and as PDF
through export jobs (`"delivery": "job"`, timed from the POST until the job says succeeded,
then downloaded through nginx), with the job worker's peak resident memory.
BENCH_EXPORT_FORMATS (default csv,excel,pdf) picks the formats. Prints one JSON object.
"""
import json
import os
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from bench_etl import PeakRSS  # noqa: E402
from bench_rows_setup import request  # noqa: E402

ROWS = int(os.environ.get("BENCH_EXPORT_ROWS", "1000000"))
FORMATS = os.environ.get("BENCH_EXPORT_FORMATS", "csv,excel,pdf").split(",")
E = os.environ


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=sql, check=True,
                          capture_output=True, text=True).stdout.strip()


def main():
    master = int(open(E["ASSAY_PID_FILE"]).read().strip())
    email = f"export-{uuid.uuid4().hex[:8]}@example.com"
    session = request("POST", "/api/auth/register", {"email": email, "username": email.split("@")[0],
                                                     "password": "Bench-Passw0rd!", "full_name": "Bench"})
    token, team = session["access_token"], session["team"]["id"]
    key = request("POST", "/api/api-keys", {"name": "export", "scopes": ["export"]}, token=token)["key"]
    table_id, document_id = str(uuid.uuid4()), str(uuid.uuid4())
    print(f"[bench] a {ROWS}-row, 6-column warehouse table", file=sys.stderr, flush=True)
    columns = json.dumps([{"name": n, "header": n.title(), "type": t} for n, t in
                          [("invoice", "text"), ("customer", "text"), ("units", "integer"), ("price", "decimal"),
                           ("sold_on", "date"), ("note", "text")]])
    psql(f"""
        DROP TABLE IF EXISTS warehouse.bench_export;
        CREATE TABLE warehouse.bench_export (_row integer PRIMARY KEY, invoice text, customer text, units bigint,
                                             price numeric, sold_on date, note text);
        INSERT INTO warehouse.bench_export SELECT g, 'INV-' || g, 'Customer ' || (g % 5000), 1 + g % 20,
               (g % 100000) / 100.0, date '2024-01-01' + (g % 365), CASE WHEN g % 10 = 0 THEN '=cell ' || g ELSE 'note, "' || g || '"' END
        FROM generate_series(1, {ROWS}) g;
        INSERT INTO documents (id, team_id, filename, content_type, size_bytes, sha256, page_count, status)
        VALUES ('{document_id}', '{team}', 'bench.pdf', 'application/pdf', 0, 'bench', 1, 'done');
        INSERT INTO extracted_tables (id, team_id, document_id, table_name, page_from, page_to, bbox, columns, row_count,
                                      confidence, cells)
        VALUES ('{table_id}', '{team}', '{document_id}', 'bench_export', 1, 1, '{{}}', '{columns}', {ROWS}, 1, '[]');
        ALTER TABLE warehouse.bench_export OWNER TO CURRENT_USER;
        GRANT SELECT ON warehouse.bench_export TO PUBLIC;
        ANALYZE warehouse.bench_export;
    """)
    print("[bench] reference: COPY … TO STDOUT (FORMAT csv) into a file", file=sys.stderr, flush=True)
    target = os.path.join(E["ASSAY_VAR_DIR"], "bench-copy.csv")
    started = time.time()
    with open(target, "wb") as out:
        subprocess.run(["psql", "-X", "-q", "-c", "COPY (SELECT invoice, customer, units, price, sold_on, note FROM "
                        "warehouse.bench_export ORDER BY _row) TO STDOUT (FORMAT csv)"], stdout=out, check=True)
    reference = time.time() - started
    reference_bytes = os.path.getsize(target)
    os.unlink(target)
    result = {"rows": ROWS, "reference_seconds": round(reference, 3), "reference_rows_per_s": round(ROWS / reference),
              "reference_bytes": reference_bytes}
    if "csv" in FORMATS:
        print("[bench] CSV through the API", file=sys.stderr, flush=True)
        sampler = PeakRSS(master, role=" worker ")
        sampler.start()
        req = urllib.request.Request(E["ASSAY_BASE_URL"] + f"/api/export/table/{table_id}", method="POST",
                                     data=json.dumps({"format": "csv"}).encode(),
                                     headers={"Content-Type": "application/json", "X-API-Key": key})
        started = time.time()
        size = download(req)
        seconds = time.time() - started
        sampler.running = False
        sampler.join()
        result.update({"csv_seconds": round(seconds, 3), "csv_rows_per_s": round(ROWS / seconds), "csv_bytes": size,
                       "ratio": round(reference / seconds, 3), "worker_peak_rss_mb": round(sampler.peak_kb / 1024, 1)})
    for fmt in [f for f in FORMATS if f in ("excel", "pdf")]:
        print(f"[bench] {fmt} through an export job", file=sys.stderr, flush=True)
        sampler = PeakRSS(master)
        sampler.start()
        started = time.time()
        job = request("POST", f"/api/export/table/{table_id}", {"format": fmt, "delivery": "job"}, key=key)
        while job["status"] not in ("succeeded", "failed"):
            time.sleep(0.2)
            job = request("GET", f"/api/exports/{job['id']}", key=key)
        seconds = time.time() - started
        sampler.running = False
        sampler.join()
        if job["status"] != "succeeded" or job["progress"]["rows_done"] != ROWS:
            sys.exit(f"the {fmt} export failed: {job}")
        req = urllib.request.Request(E["ASSAY_BASE_URL"] + job["download_url"], headers={"X-API-Key": key})
        size = download(req)
        if size != job["file"]["bytes"]:
            sys.exit(f"the {fmt} download has {size} bytes, the export {job['file']['bytes']}")
        result.update({f"{fmt}_seconds": round(seconds, 3), f"{fmt}_rows_per_s": round(ROWS / seconds),
                       f"{fmt}_bytes": size, f"{fmt}_job_worker_peak_rss_mb": round(sampler.peak_kb / 1024, 1)})
    psql("DROP TABLE warehouse.bench_export;")
    print(json.dumps(result))


def download(req):
    """Reads a response to the end; its size in bytes."""
    size = 0
    with urllib.request.urlopen(req, context=ssl._create_unverified_context(), timeout=1800) as response:
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
    return size


if __name__ == "__main__":
    main()
