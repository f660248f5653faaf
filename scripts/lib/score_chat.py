#!/usr/bin/env python3
"""Scores POST /api/chat/ask on table questions with known answers (../shared/corpus/tableqa).

  score_chat.py --base URL --questions Q.jsonl --tables DIR --out DIR [--scorer score_tableqa.py]

Registers a user, uploads every table's CSV through POST /api/documents/upload (once per run;
--reuse keeps the uploads of a previous run, recorded in OUT/tables.json, when they still
exist), waits for each to become a warehouse table, asks each question through
POST /api/chat/ask with the document's id, writes OUT/pred.jsonl ({"id", "answer"}: the
answer's `values`) and OUT/replies.jsonl (the whole replies), runs the scorer and prints
its report plus the latency of the asks (p50, p90).
"""
import argparse
import json
import os
import subprocess
import sys
import time
import uuid

import requests
import urllib3

urllib3.disable_warnings()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--tables", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--scorer")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    http = requests.Session()
    http.verify = False
    http.trust_env = False  # a CA bundle from the environment would override verify
    base = args.base.rstrip("/")

    state_path = os.path.join(args.out, "tables.json")
    state = {}
    if args.reuse and os.path.exists(state_path):
        state = json.load(open(state_path))
    token = state.get("token")
    if token and http.get(base + "/api/auth/me", headers={"Authorization": "Bearer " + token}).status_code != 200:
        token, state = None, {}
    if not token:
        email = "score-chat-%s@example.com" % uuid.uuid4().hex[:10]
        r = http.post(base + "/api/auth/register", json={"email": email, "username": "score" + uuid.uuid4().hex[:8],
                                                         "password": "Score-chat-9-password"})
        r.raise_for_status()
        token = r.json()["access_token"]
        state = {"token": token, "documents": {}}
    auth = {"Authorization": "Bearer " + token}

    questions = [json.loads(line) for line in open(args.questions)]
    documents = state.setdefault("documents", {})
    pending = {}
    for name in sorted({q["table"] for q in questions}):
        if name in documents:
            continue
        with open(os.path.join(args.tables, name), "rb") as f:
            r = http.post(base + "/api/documents/upload", headers=auth, files={"file": (name, f, "text/csv")})
        if r.status_code not in (200, 201, 202):
            print("upload of %s failed: %s %s" % (name, r.status_code, r.text[:200]), file=sys.stderr)
            continue
        pending[name] = r.json()["id"]
    deadline = time.time() + 600
    while pending and time.time() < deadline:
        for name, document in list(pending.items()):
            status = http.get(base + "/api/documents/%s/status" % document, headers=auth).json().get("status")
            if status in ("done", "failed"):
                documents[name] = document
                del pending[name]
        time.sleep(0.2)
    json.dump(state, open(state_path, "w"))

    predictions, replies, latencies = [], [], []
    for q in questions:
        document = documents.get(q["table"])
        answer = []
        if document:
            started = time.perf_counter()
            r = http.post(base + "/api/chat/ask", headers=auth, json={"document_id": document, "question": q["question"]})
            latencies.append((time.perf_counter() - started) * 1000)
            reply = r.json() if r.headers.get("Content-Type", "").startswith("application/json") else {"status": r.status_code}
            replies.append({"id": q["id"], "status": r.status_code, "reply": reply})
            if r.status_code == 200 and reply.get("answered"):
                answer = reply["answer"]["values"]
        predictions.append({"id": q["id"], "answer": answer})
    with open(os.path.join(args.out, "pred.jsonl"), "w") as f:
        for p in predictions:
            f.write(json.dumps(p) + "\n")
    with open(os.path.join(args.out, "replies.jsonl"), "w") as f:
        for p in replies:
            f.write(json.dumps(p) + "\n")
    latencies.sort()
    if latencies:
        print("asks: %d, p50 %.1f ms, p90 %.1f ms" % (len(latencies), latencies[len(latencies) // 2],
                                                      latencies[int(len(latencies) * 0.9)]))
    if args.scorer:
        return subprocess.call([sys.executable, args.scorer, "--questions", args.questions,
                                "--pred", os.path.join(args.out, "pred.jsonl"),
                                "--json", os.path.join(args.out, "score.json")])
    return 0


if __name__ == "__main__":
    sys.exit(main())
