#!/usr/bin/env python3
"""The ETL benchmark of scripts/bench, against a running bench instance (VAR/env in the
environment): a 1,000,000-row, 8-column table in the source PostgreSQL and in MariaDB,
synced into the warehouse through the API (a full refresh, timed from the request to
the run's end), beside the physical reference measured in the same run:
`psql -c "COPY … TO STDOUT" | psql -c "COPY … FROM STDIN"` between the same two
PostgreSQL servers. Samples the job workers' peak resident memory (VmHWM). Prints one
JSON object. Standard library only.
"""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from bench_rows_setup import request  # noqa: E402

ROWS = int(os.environ.get("BENCH_ETL_ROWS", "1000000"))
E = os.environ

PG_TABLE = f"""
DROP TABLE IF EXISTS bench_sales;
CREATE TABLE bench_sales (id bigint PRIMARY KEY, customer text, region text, quantity integer, price numeric(12,2),
                          sold_at timestamptz, paid boolean, note varchar(64));
INSERT INTO bench_sales SELECT g, 'customer ' || (g % 5000), (ARRAY['north','south','east','west'])[1 + g % 4], 1 + g % 20,
       (g % 100000) / 100.0, timestamptz '2024-01-01' + g * interval '1 second', g % 3 = 0, md5(g::text)
FROM generate_series(1, {ROWS}) g;
ANALYZE bench_sales;
"""
MYSQL_TABLE = f"""
DROP TABLE IF EXISTS bench_sales;
CREATE TABLE bench_sales (id bigint PRIMARY KEY, customer varchar(40), region varchar(10), quantity int,
                          price decimal(12,2), sold_at datetime, paid tinyint(1), note varchar(64));
INSERT INTO bench_sales SELECT seq, CONCAT('customer ', seq % 5000), ELT(1 + seq % 4, 'north','south','east','west'),
       1 + seq % 20, (seq % 100000) / 100.0, '2024-01-01' + INTERVAL seq SECOND, seq % 3 = 0, MD5(seq)
FROM seq_1_to_{ROWS};
ANALYZE TABLE bench_sales;
"""


def run(args, **kwargs):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def source_pg(sql):
    env = dict(E, PGPASSWORD=E.get("SOURCE_PG_ADMIN_PASSWORD", ""))
    run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", E["ASSAY_SOURCE_PG_ADMIN_URL"]], input=sql, env=env)


def mariadb(sql):
    run(["mariadb", f"--defaults-file={E['ASSAY_MYSQL_ADMIN_CNF']}", E["ASSAY_MYSQL_DATABASE"]], input=sql)


def reference():
    """psql COPY TO STDOUT | psql COPY FROM STDIN, source PostgreSQL → Assay's database."""
    target = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1"]  # PG* of VAR/env: Assay's cluster as superuser
    run(target + ["-c", "DROP TABLE IF EXISTS bench_reference; CREATE TABLE bench_reference (id bigint, customer text, "
                        "region text, quantity integer, price numeric(12,2), sold_at timestamptz, paid boolean, note text)"])
    started = time.time()
    out = subprocess.Popen(["psql", "-X", "-q", E["ASSAY_SOURCE_PG_ADMIN_URL"], "-c", "COPY bench_sales TO STDOUT"],
                           stdout=subprocess.PIPE)
    subprocess.run(target + ["-c", "COPY bench_reference FROM STDIN"], stdin=out.stdout, check=True)
    out.wait()
    seconds = time.time() - started
    run(target + ["-c", "DROP TABLE bench_reference"])
    return seconds


class PeakRSS(threading.Thread):
    """Samples the VmRSS of the master's children whose command line has `role` every 50 ms
    (VmHWM would include earlier work)."""

    def __init__(self, master, role=" job-worker "):
        super().__init__(daemon=True)
        self.master, self.role, self.peak_kb, self.running = master, role, 0, True

    def run(self):
        while self.running:
            pids = subprocess.run(["pgrep", "-P", str(self.master), "-f", self.role], capture_output=True,
                                  text=True).stdout.split()
            for pid in pids:
                try:
                    for line in open(f"/proc/{pid}/status"):
                        if line.startswith("VmRSS:"):
                            self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                except OSError:
                    pass
            time.sleep(0.05)


def sync(token, engine):
    body = {"name": f"bench {engine}", "database_type": engine, "credentials": {
        "host": E["ASSAY_SOURCE_PG_HOST"] if engine == "postgresql" else E["ASSAY_MYSQL_HOST"],
        "port": int(E["ASSAY_SOURCE_PG_PORT"] if engine == "postgresql" else E["ASSAY_MYSQL_PORT"]),
        "database": E["ASSAY_SOURCE_PG_DATABASE"] if engine == "postgresql" else E["ASSAY_MYSQL_DATABASE"],
        "username": E["ASSAY_SOURCE_PG_USER"] if engine == "postgresql" else E["ASSAY_MYSQL_USER"],
        "password": E["ASSAY_SOURCE_PG_PASSWORD"] if engine == "postgresql" else E["ASSAY_MYSQL_PASSWORD"]}}
    connection = request("POST", "/api/connections", body, token=token)["id"]
    started = time.time()
    queued = request("POST", f"/api/etl/jobs/run/{connection}", {"tables": ["bench_sales"]}, token=token)
    while True:
        current = request("GET", f"/api/etl/jobs/{queued['id']}", token=token)
        if current["status"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    seconds = time.time() - started
    if current["status"] != "succeeded":
        sys.exit(f"the {engine} sync failed: {current['error']}")
    return seconds, current["rows_written"]


def main():
    master = int(open(E["ASSAY_PID_FILE"]).read().strip())
    print("[bench] creating the source tables", file=sys.stderr, flush=True)
    source_pg(PG_TABLE)
    mariadb(MYSQL_TABLE)
    print("[bench] reference: psql COPY | psql COPY", file=sys.stderr, flush=True)
    ref = reference()
    import uuid
    email = f"etl-{uuid.uuid4().hex[:8]}@example.com"
    token = request("POST", "/api/auth/register", {"email": email, "username": email.split("@")[0],
                                                   "password": "Bench-Passw0rd!", "full_name": "Bench"})["access_token"]
    result = {"rows": ROWS, "reference_seconds": round(ref, 3), "reference_rows_per_s": round(ROWS / ref)}
    for engine in ("postgresql", "mysql"):
        print(f"[bench] sync from {engine}", file=sys.stderr, flush=True)
        sampler = PeakRSS(master)
        sampler.start()
        seconds, written = sync(token, engine)
        sampler.running = False
        sampler.join()
        result[engine] = {"seconds": round(seconds, 3), "rows_written": written, "rows_per_s": round(ROWS / seconds),
                          "ratio": round(ref / seconds, 3), "job_worker_peak_rss_mb": round(sampler.peak_kb / 1024, 1)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
