"""The log is JSON, all of it: what C libraries print in the workers (tesseract, leptonica,
poppler, the database server's warnings) arrives as log records too.

This module runs after the document, extraction, ETL and export tests (file order), so the
last check covers the log of all of them.
"""
import datetime
import json
import re
import subprocess
import time
import uuid

from access_helpers import register
from conftest import ENV
from documents_helpers import make_png
from test_jobs import enqueue, wait_for


def test_what_a_job_prints_to_stderr_is_a_json_record_with_the_job_id(pool):
    account = register()
    text = "Warning: leptonica-like message " + uuid.uuid4().hex
    job = enqueue(account, payload={"ms": 50, "stderr": text})
    assert wait_for(account, job["id"])["status"] == "succeeded"
    # The worker has logged it before it takes its next job, moments after the job ended.
    deadline = time.time() + 3
    while True:
        records = [l for l in pool.log_lines() if l.get("line") == text]
        if records or time.time() > deadline:
            break
        time.sleep(0.05)
    assert len(records) == 1, records
    record = records[0]
    assert record["msg"] == "native output" and record["level"] == "warning"
    assert record["job.id"] == job["id"]
    assert isinstance(record["pid"], int)
    # UTC with milliseconds, moments ago.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["ts"]), record["ts"]
    logged = datetime.datetime.strptime(record["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - logged).total_seconds()) < 60, record["ts"]


def test_every_line_of_the_log_is_json(pool):
    # A job's output is logged before the job is marked done; give the last records a moment.
    time.sleep(0.5)
    lines = [l for l in pool.log.read_text(errors="replace").splitlines() if l.strip()]
    assert len(lines) > 100
    not_json = []
    for line in lines:
        try:
            assert isinstance(json.loads(line), dict)
        except (ValueError, AssertionError):
            not_json.append(line)
    assert not_json == [], not_json[:20]


def test_assay_extract_of_a_scan_prints_no_leak_warnings(tmp_path):
    """Tesseract reports the dictionaries an engine still holds at exit as "WARNING! LEAK!"
    lines; `assay extract` ends its engine first."""
    image = tmp_path / "scan.png"
    image.write_bytes(make_png(width=400, height=200))
    out = subprocess.run([ENV["ASSAY_BIN"], "extract", str(image)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["meta"]["pages"] == 1
    assert "LEAK" not in out.stderr, out.stderr[:500]
