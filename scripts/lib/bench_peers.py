#!/usr/bin/env python3
"""The peers comparison of `scripts/bench --peers`: Assay beside the reference stacks of
../shared/peers (Flask under gunicorn, FastAPI under uvicorn) on the same data.

    bench_peers.py seed      the peers' database `peers` in the bench's source PostgreSQL
                             (sql/seed.sql), readable by the `source` role; prints PEERS_PG_DSN
    bench_peers.py setup     Assay's side through its API: a user and an API key whose quota
                             does not run out, the same `bench_rows` copied in by ETL from the
                             peers' database and uploaded once more as a CSV; and a JWT the
                             peers accept (user 1). Prints KEY=VALUE lines for the shell.
    bench_peers.py summarize reads the runs (JSON on stdin), prints the table, writes JSON.

Standard library only; reads the instance from VAR/env in the environment.
"""
import base64
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid


E = os.environ
PEERS_DIR = E.get("BENCH_PEERS_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "peers"))
DATABASE = "peers"
CORES = os.cpu_count() or 1


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def admin_url(database):
    """The source PostgreSQL's admin URL with another database."""
    parts = urllib.parse.urlsplit(E["ASSAY_SOURCE_PG_ADMIN_URL"])
    return urllib.parse.urlunsplit(parts._replace(path="/" + database))


def psql(url, sql=None, args=()):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", *args, url], input=sql, text=True, check=True,
                   capture_output=True)


def seed():
    log("peers: database 'peers' in the source PostgreSQL, seeded from sql/seed.sql")
    psql(E["ASSAY_SOURCE_PG_ADMIN_URL"], f"DROP DATABASE IF EXISTS {DATABASE}; CREATE DATABASE {DATABASE};")
    # The hash only fills a column (argon2id of 'Bench-Passw0rd!' would do as well).
    pwhash = "$argon2id$v=19$m=19456,t=2,p=1$YmVuY2hzYWx0$Zm9vYmFyYmF6"
    psql(admin_url(DATABASE), None, ("-v", f"pwhash={pwhash}", "-f", os.path.join(PEERS_DIR, "sql", "seed.sql")))
    user = E["ASSAY_SOURCE_PG_USER"]
    psql(admin_url(DATABASE), f'GRANT CONNECT ON DATABASE {DATABASE} TO "{user}"; '
                              f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{user}";')
    # The peers connect over the unix socket, as Assay does to its own database.
    print(f"host={E['ASSAY_SOURCE_PG_SOCKET_DIR']} port={E['ASSAY_SOURCE_PG_PORT']} dbname={DATABASE} "
          f"user={user} password={E['ASSAY_SOURCE_PG_PASSWORD']}")


def jwt_hs256(claims, secret):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(signature)}"


def wait_for(what, probe, timeout=300):
    deadline = time.time() + timeout
    while True:
        done = probe()
        if done is not None:
            return done
        if time.time() > deadline:
            sys.exit(f"{what}: not done in {timeout} s")
        time.sleep(0.2)


def setup():
    sys.path.insert(0, os.path.dirname(__file__))
    from bench_rows_setup import request

    email = f"peers-{uuid.uuid4().hex[:10]}@example.com"
    token = request("POST", "/api/auth/register", {"email": email, "username": email.split("@")[0],
                                                   "password": "Bench-Passw0rd!", "full_name": "Bench"})["access_token"]
    key = request("POST", "/api/api-keys", {"name": "peers", "scopes": ["documents:read"]}, token=token)["key"]

    log("Assay: bench_rows copied in by ETL from the peers' database")
    body = {"name": "peers", "database_type": "postgresql", "credentials": {
        "host": E["ASSAY_SOURCE_PG_HOST"], "port": int(E["ASSAY_SOURCE_PG_PORT"]), "database": DATABASE,
        "username": E["ASSAY_SOURCE_PG_USER"], "password": E["ASSAY_SOURCE_PG_PASSWORD"]}}
    connection = request("POST", "/api/connections", body, token=token)["id"]
    queued = request("POST", f"/api/etl/jobs/run/{connection}", {"tables": ["bench_rows"]}, token=token)

    def etl_done():
        run = request("GET", f"/api/etl/jobs/{queued['id']}", token=token)
        if run["status"] == "failed":
            sys.exit(f"the ETL run failed: {run['error']}")
        return run if run["status"] == "succeeded" else None
    run = wait_for("the ETL run", etl_done)
    etl_name = next((t.get("warehouse_table") for t in run["tables"] if t.get("warehouse_table")), None)
    tables = request("GET", "/api/warehouse/tables?limit=100", token=token)["items"]
    etl_table = next((t["id"] for t in tables if t["name"] == etl_name), None)
    if etl_table is None:
        sys.exit(f"the ETL'd table {etl_name!r} is not among the warehouse tables")

    log("Assay: the same rows uploaded as a CSV")
    csv = subprocess.run(["psql", "-X", "-q", admin_url(DATABASE), "-c",
                          "COPY (SELECT id, name, amount, day, note, active FROM bench_rows ORDER BY id) "
                          "TO STDOUT (FORMAT csv, HEADER)"], check=True, capture_output=True).stdout
    boundary = uuid.uuid4().hex
    upload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bench_rows.csv\"\r\n"
              f"Content-Type: text/csv\r\n\r\n").encode() + csv + f"\r\n--{boundary}--\r\n".encode()
    document = request("POST", "/api/documents/upload", upload, token=token,
                       content_type=f"multipart/form-data; boundary={boundary}")

    def document_done():
        status = request("GET", f"/api/documents/{document['id']}/status", token=token)
        if status["status"] == "failed":
            sys.exit(f"the CSV upload failed: {status}")
        return status if status["status"] == "done" else None
    wait_for("the CSV upload", document_done)
    found = request("GET", f"/api/documents/{document['id']}/tables", token=token)
    items = found["items"] if isinstance(found, dict) else found
    csv_table = items[0]["id"]

    secret = E["PEERS_JWT_SECRET"]
    print(f"ASSAY_KEY={key}")
    print(f"ETL_TABLE={etl_table}")
    print(f"CSV_TABLE={csv_table}")
    print(f"PEER_JWT={jwt_hs256({'sub': '1', 'exp': int(time.time()) + 86400}, secret)}")


TARGETS = {"version": 3.0, "me": 2.0, "rows": 3.0}


def summarize():
    data = json.load(sys.stdin)
    runs = data["runs"]
    routes = []
    for r in runs:
        if r["route"] not in routes:
            routes.append(r["route"])

    def median(route, stack, field):
        values = [r[field] for r in runs if r["route"] == route and r["stack"] == stack and r.get(field) is not None]
        return statistics.median(values) if values else None

    static = median("static", "nginx", "rps") or 0
    table, failed = [], False
    print(f"\nPeers: wrk -t{data['threads']} -c{data['connections']} -d{data['duration']}, {data['repetitions']} "
          f"interleaved repetitions, medians; CPU = user+system time of each stack's processes (its PostgreSQL "
          f"included, nginx not) per request; nginx and machine: the same for nginx and for all of this machine's "
          f"{CORES} CPUs (wrk, the kernel and anything else running included: run it on a quiet machine)")
    print(f"{'route':<12} {'stack':<12} {'req/s':>10} {'p99 ms':>8} {'CPU ms/req':>11} {'nginx':>6} {'machine':>8} "
          f"{'non-2xx':>8} {'÷ faster peer':>14} {'÷ nginx static':>15} {'target':>7}  result")
    ceilings = []
    for route in routes:
        stacks = []
        for r in runs:
            if r["route"] == route and r["stack"] not in stacks:
                stacks.append(r["stack"])
        peers = [median(route, s, "rps") or 0 for s in ("flask", "fastapi") if s in stacks]
        faster = max(peers) if peers else 0
        for stack in stacks:
            rps = median(route, stack, "rps") or 0
            errors = sum(r["non_2xx"] + r["socket_errors"] for r in runs if r["route"] == route and r["stack"] == stack)
            mine = stack.startswith("assay")
            ratio = rps / faster if faster and mine else None
            target = TARGETS.get(route) if mine else None
            verdict = ""
            if target is not None:
                verdict = "PASS" if ratio is not None and ratio >= target else "FAIL"
            if errors:
                verdict = "FAIL (non-2xx)" if mine else "(errors)"
            failed |= verdict.startswith("FAIL")
            cpu = median(route, stack, "cpu_ms")
            nginx_cpu, machine_cpu = median(route, stack, "nginx_cpu_ms"), median(route, stack, "machine_cpu_ms")
            if mine and faster and cpu is not None and machine_cpu and machine_cpu > cpu:
                # What the rest costs per request (nginx, wrk, the kernel) caps every stack: with the
                # stack's own CPU at zero and the machine saturated it could answer CORES / rest.
                ceiling = CORES * 1000 / (machine_cpu - cpu)
                ceilings.append(f"  {route} {stack}: {machine_cpu - cpu:.3f} ms/req besides Assay → at most "
                                f"{ceiling:,.0f} req/s = {ceiling / faster:.2f} × the faster peer")
            row = {"route": route, "stack": stack, "rps": round(rps, 1), "p99_ms": median(route, stack, "p99_ms"),
                   "cpu_ms_per_request": None if cpu is None else round(cpu, 3),
                   "nginx_cpu_ms_per_request": None if nginx_cpu is None else round(nginx_cpu, 3),
                   "machine_cpu_ms_per_request": None if machine_cpu is None else round(machine_cpu, 3),
                   "non_2xx_and_errors": errors,
                   "ratio_to_faster_peer": None if ratio is None else round(ratio, 2),
                   "ratio_to_nginx_static": round(rps / static, 4) if static else None,
                   "target": target, "result": verdict}
            table.append(row)
            print(f"{route:<12} {stack:<12} {rps:>10.1f} {row['p99_ms'] or 0:>8.2f} "
                  f"{'-' if cpu is None else format(cpu, '.3f'):>11} {'-' if nginx_cpu is None else format(nginx_cpu, '.3f'):>6} "
                  f"{'-' if machine_cpu is None else format(machine_cpu, '.3f'):>8} {errors:>8} "
                  f"{'-' if ratio is None else format(ratio, '.2f'):>14} "
                  f"{'-' if not static else format(rps / static, '.4f'):>15} {'-' if target is None else target:>7}  {verdict}")
    if ceilings:
        print("\nCeiling on this machine (its CPUs ÷ what all but Assay cost per request: nginx, wrk, the kernel; "
              "Assay's own CPU at zero):")
        print("\n".join(ceilings))
    memory = data.get("memory", {})
    print("\nResident memory after the run (MB; VmRSS unless marked PSS; pools: master first):")
    for stack, workers in memory.items():
        values = ", ".join(f"{kb / 1024:.1f}" for kb in workers.values())
        print(f"  {stack:<20} {values or 'none found'}")
    limit_kb = 50 * 1024
    workers = memory.get("assay workers", {})
    rss_ok = bool(workers) and all(kb <= limit_kb for kb in workers.values())
    print(f"  Assay FastCGI workers <= 50 MB each: {'PASS' if rss_ok else 'FAIL'}")
    failed |= not rss_ok
    print(f"  peers: {'PASS' if not failed else 'FAIL'}")
    with open(data["results"], "w") as out:
        json.dump({"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "table": table, "memory": memory,
                   "runs": runs, "result": "FAIL" if failed else "PASS"}, out, indent=1)


if __name__ == "__main__":
    {"seed": seed, "setup": setup, "summarize": summarize}[sys.argv[1]]()
