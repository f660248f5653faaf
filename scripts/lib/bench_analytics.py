#!/usr/bin/env python3
"""The analytics benchmark of scripts/bench, against a running bench instance (VAR/env in the
environment):

1. POST /api/chat/ask (the built-in parser) on a 100,000-row, 7-column table: questions of
   ten kinds (lookups by customer, counts by region, averages by product, totals by region
   and by month, rankings, comparisons), each with other values so that most answers are not
   cached, asked over one keep-alive HTTPS connection after a warm-up that lets every worker
   read the table's vocabulary once. Client-side p50 / p90 / max in ms (target p50 <= 30 ms).
2. POST /api/dashboards/generate on a 1,000,000-row table of the same shape: the first call
   (the profile computed on a sample, every widget's query run cold) and the median of three
   more (target <= 2 s for the first).

Tables are written with SQL, as the export benchmark's are. Prints one JSON object.
"""
import http.client
import json
import os
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid

sys.path.insert(0, os.path.dirname(__file__))
from bench_rows_setup import request  # noqa: E402

E = os.environ
CHAT_ROWS = int(E.get("BENCH_CHAT_ROWS", "100000"))
GENERATE_ROWS = int(E.get("BENCH_GENERATE_ROWS", "1000000"))
ASKS = int(E.get("BENCH_CHAT_ASKS", "300"))
REGIONS = ["North", "South", "East", "West"]
PRODUCTS = [f"Product {n}" for n in range(1, 21)]


def psql(sql):
    return subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1"], input=sql, check=True,
                          capture_output=True, text=True).stdout.strip()


def make_table(team, prefix, rows):
    """An orders table as the warehouse holds an extracted one: its id, name and document."""
    table_id, document_id = str(uuid.uuid4()), str(uuid.uuid4())
    name = f"{prefix}_{document_id[:8]}"
    columns = json.dumps([{"name": n, "header": h, "type": t} for n, h, t in [
        ("order_id", "Order ID", "integer"), ("order_date", "Order Date", "date"), ("region", "Region", "text"),
        ("customer", "Customer", "text"), ("product", "Product", "text"), ("quantity", "Quantity", "integer"),
        ("amount", "Amount", "currency")]])
    regions = "ARRAY[" + ",".join(f"'{r}'" for r in REGIONS) + "]"
    psql(f"""
        DROP TABLE IF EXISTS warehouse.{name};
        CREATE TABLE warehouse.{name} (_row integer PRIMARY KEY, order_id bigint, order_date date, region text,
                                       customer text, product text, quantity bigint, amount numeric);
        INSERT INTO warehouse.{name} SELECT g, 100000 + g, date '2025-01-01' + (g % 540), ({regions})[1 + g % 4],
               'Customer ' || (g * 7 % 5000), 'Product ' || (1 + g * 3 % 20), 1 + g % 9, ((g * 37) % 100000) / 100.0
        FROM generate_series(1, {rows}) g;
        INSERT INTO documents (id, team_id, filename, content_type, size_bytes, sha256, page_count, status)
        VALUES ('{document_id}', '{team}', '{name}.csv', 'text/csv', 0, 'bench-{document_id}', 1, 'done');
        INSERT INTO extracted_tables (id, team_id, document_id, table_name, page_from, page_to, bbox, columns, row_count,
                                      confidence, cells)
        VALUES ('{table_id}', '{team}', '{document_id}', '{name}', 1, 1, '{{}}', '{columns}', {rows}, 1, '[]');
        ALTER TABLE warehouse.{name} OWNER TO CURRENT_USER;
        GRANT SELECT ON warehouse.{name} TO PUBLIC;
        ANALYZE warehouse.{name};
    """)
    return table_id, name, document_id


def drop(*tables):
    for _, name, document_id in tables:
        psql(f"DROP TABLE warehouse.{name}; DELETE FROM documents WHERE id = '{document_id}';")


def questions(count):
    """`count` questions cycling through ten kinds, each time with other values."""
    kinds = [
        lambda i: f"What is the total amount for Customer {i * 13 % 5000}?",
        lambda i: f"How many orders from the {REGIONS[i % 4]} region?",
        lambda i: f"What is the average quantity of Product {1 + i % 20}?",
        lambda i: f"How many orders have an amount greater than {100 + i * 7 % 900}?",
        lambda i: f"Which customer placed order {100001 + i * 331 % 99999}?",
        lambda i: f"What is the highest amount in the {REGIONS[(i + 1) % 4]} region for Product {1 + i * 3 % 20}?",
        lambda i: "Total amount by region" if i % 2 else "Total quantity by month",
        lambda i: f"Top {3 + i % 5} customers by amount",
        lambda i: f"Which product has the highest total amount in the {REGIONS[i % 4]} region?",
        lambda i: f"How many orders did Customer {i * 17 % 5000} place in 2025?",
    ]
    return [kinds[i % len(kinds)](i // len(kinds)) for i in range(count)]


def main():
    email = f"analytics-{uuid.uuid4().hex[:8]}@example.com"
    session = request("POST", "/api/auth/register", {"email": email, "username": email.split("@")[0],
                                                     "password": "Bench-Passw0rd!", "full_name": "Bench"})
    token, team = session["access_token"], session["team"]["id"]
    key = request("POST", "/api/api-keys", {"name": "analytics", "scopes": ["chat", "dashboards:read", "dashboards:write"]},
                  token=token)["key"]
    print(f"[bench] a {CHAT_ROWS}-row table for chat and a {GENERATE_ROWS}-row one for generate", file=sys.stderr, flush=True)
    chat = make_table(team, "bench_chat", CHAT_ROWS)
    big = make_table(team, "bench_generate", GENERATE_ROWS)
    chat_table, big_table = chat[0], big[0]

    url = urllib.parse.urlsplit(E["ASSAY_BASE_URL"])
    connection = http.client.HTTPSConnection(url.hostname, url.port, context=ssl._create_unverified_context(), timeout=60)
    headers = {"Content-Type": "application/json", "X-API-Key": key}

    def ask(question):
        started = time.perf_counter()
        connection.request("POST", "/api/chat/ask", json.dumps({"table_id": chat_table, "question": question}), headers)
        response = connection.getresponse()
        body = json.loads(response.read())
        elapsed = (time.perf_counter() - started) * 1000
        if response.status != 200 or not body.get("answered"):
            sys.exit(f"chat failed on {question!r}: {response.status} {json.dumps(body)[:400]}")
        return elapsed, body

    print("[bench] chat: warm-up (each worker reads the table's vocabulary once)", file=sys.stderr, flush=True)
    workers = int(E.get("ASSAY_WORKERS", "4"))
    cold = [ask("How many orders are there?")[0] for _ in range(workers * 3)]
    print(f"[bench] chat: {ASKS} questions", file=sys.stderr, flush=True)
    latencies, server = [], []
    for question in questions(ASKS):
        elapsed, body = ask(question)
        latencies.append(elapsed)
        server.append(body.get("duration_ms", 0))
    latencies.sort()
    result = {
        "chat_rows": CHAT_ROWS, "chat_asks": ASKS,
        "chat_p50_ms": round(statistics.median(latencies), 2),
        "chat_p90_ms": round(latencies[int(len(latencies) * 0.9)], 2),
        "chat_max_ms": round(latencies[-1], 2),
        "chat_server_p50_ms": round(statistics.median(server), 2),
        "chat_first_ask_ms": round(max(cold), 1),
    }

    print("[bench] generate on the large table", file=sys.stderr, flush=True)
    runs = []
    for _ in range(4):
        started = time.perf_counter()
        connection.request("POST", "/api/dashboards/generate", json.dumps({"table_ids": [big_table]}), headers)
        response = connection.getresponse()
        body = json.loads(response.read())
        runs.append(time.perf_counter() - started)
        if response.status != 201:
            sys.exit(f"generate failed: {response.status} {json.dumps(body)[:400]}")
    result.update({"generate_rows": GENERATE_ROWS, "generate_widgets": len(body["widgets"]),
                   "generate_first_s": round(runs[0], 3), "generate_warm_median_s": round(statistics.median(runs[1:]), 3)})
    drop(chat, big)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
