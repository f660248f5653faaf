#!/usr/bin/env python3
"""scripts/bench's huge-image section: a job worker's peak memory reading a 600 dpi photo.

Uploads BENCH_HUGE_IMAGE (default: the SROIE receipt scanned at 600 dpi, 4961 x 7016, from
../shared/corpus; without the corpus, a text page rendered at 600 dpi as JPEG), finds the
job worker that claims the document's job (jobs.locked_by while it runs), and reads that
worker's VmHWM from /proc when the document is done: job workers reset their peak as each
job starts, so it is this job's peak. Prints one JSON object. Target: <= 250 MB.
Standard library only; reads the instance's address from ASSAY_BASE_URL, PostgreSQL's from
the PG* variables.
"""
import json
import os
import socket
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "integration"))
from bench_rows_setup import request  # noqa: E402

REPO = os.path.join(os.path.dirname(__file__), "..", "..")
RECEIPT = os.path.join(REPO, "..", "shared", "corpus", "sroie", "docs", "sroie_538.jpg")


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=sql, check=True,
                          capture_output=True, text=True).stdout.strip()


def huge_image():
    """(file name, bytes) of the photo to read."""
    path = os.environ.get("BENCH_HUGE_IMAGE") or (RECEIPT if os.path.isfile(RECEIPT) else None)
    if path:
        with open(path, "rb") as f:
            return os.path.basename(path), f.read()
    from documents_helpers import make_pdf, render_pages
    lines = ["CORNER GROCERY SDN BHD", "Receipt No: R-20481", "Date: 12/03/2024"] + \
            [f"Item {n:02d} {n * 1.25:.2f}" for n in range(1, 30)] + ["TOTAL 543.75"]
    return "rendered-600dpi.jpg", render_pages(make_pdf([lines]), fmt="jpeg", dpi=600)[0]


def peak_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("VmHWM:")).split()[1])


def main():
    name, content = huge_image()
    email = f"huge-{uuid.uuid4().hex[:8]}@example.com"
    session = request("POST", "/api/auth/register", {"email": email, "username": email.split("@")[0],
                                                     "password": "Bench-Passw0rd!", "full_name": "Bench"})
    key = request("POST", "/api/api-keys", {"name": "huge", "scopes": ["documents:read", "documents:write"]},
                  token=session["access_token"])["key"]
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + content + f"\r\n--{boundary}--\r\n".encode()
    started = time.time()
    document = request("POST", "/api/documents/upload", body, key=key,
                       content_type=f"multipart/form-data; boundary={boundary}")
    worker = None
    host = socket.gethostname()
    while True:
        if worker is None:
            locked = psql(f"SELECT locked_by FROM jobs WHERE payload->>'document_id' = '{document['id']}' "
                          "AND status = 'running';")
            if locked.startswith(host + ":"):
                worker = int(locked.rsplit(":", 1)[1])
        status = request("GET", f"/api/documents/{document['id']}/status", key=key)
        if status["status"] in ("done", "failed"):
            break
        if time.time() - started > 300:
            sys.exit("the huge image was not processed in 300 s")
        time.sleep(0.1)
    seconds = time.time() - started
    if status["status"] != "done":
        sys.exit(f"the huge image failed: {status.get('error')}")
    if worker is None:
        sys.exit("the job worker that read the huge image was not seen")
    peak = peak_kb(worker)
    page = request("GET", f"/api/documents/{document['id']}", key=key)["pages"][0]
    width, height = psql(f"SELECT width || ' ' || height FROM document_pages WHERE document_id = '{document['id']}' "
                         "AND page = 1;").split()
    print(json.dumps({"image": name, "bytes": len(content), "width": float(width), "height": float(height),
                      "seconds": round(seconds, 2), "words": page["word_count"],
                      "job_worker_peak_rss_mb": round(peak / 1024, 1), "limit_mb": 250}))


if __name__ == "__main__":
    main()
