#!/usr/bin/env python3
"""The share and embed pages' part of scripts/bench, against a running bench instance
(ASSAY_BASE_URL in the environment). scripts/bench itself runs wrk and restarts the pool;
this script does the rest:

`setup API_KEY DASHBOARD_ID`: makes a public share link of the dashboard (view only) and an
embed of one of its chart widgets (a bar or line chart when it has one), through the API, and
prints `SHARE_ID EMBED_ID CHART_ID CHART_TYPE`.

`summarize` (the runs' JSON on stdin, as scripts/bench assembles it): per page, the medians of
the requests/s with the access log on and off, their ratio (target on/off >= 0.90), and whether
each run with the log on wrote about one row per request and each run with it off none.
Prints one JSON object.
"""
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(__file__))
from bench_rows_setup import request  # noqa: E402

ON_OFF_TARGET = 0.90


def setup(key, dashboard_id):
    widgets = request("GET", f"/api/dashboards/{dashboard_id}", key=key)["widgets"]
    charts = [w for w in widgets if w["type"] not in ("kpi", "table")]
    if not charts:
        sys.exit(f"dashboard {dashboard_id} has no chart widget: {[w['type'] for w in widgets]}")
    chart = next((w for w in charts if w["type"] in ("bar", "line")), charts[0])
    link = request("POST", "/api/share/dashboard", {"dashboard_id": dashboard_id, "share_type": "public_link",
                                                   "permissions": ["view"]}, key=key)
    embed = request("POST", "/api/embed/widget", {"dashboard_id": dashboard_id, "widget_kind": "chart", "chart_id": chart["id"],
                                                 "allowed_origins": ["https://example.com"]}, key=key)
    print(link["share_id"], embed["widget_id"], chart["id"], chart["type"])


def rows_check(run, connections):
    """Rows the run added to the access log against the responses wrk counted. With the log
    on, every response was one view; requests still in flight when wrk stopped (at most one
    per connection) or that timed out in wrk were served and logged without being counted.
    With it off: none."""
    wrk, added = run["wrk"], run["rows_after"] - run["rows_before"]
    if run["log"] == "off":
        return added == 0
    return wrk["responses"] * 0.99 <= added <= wrk["responses"] + wrk["socket_errors"] + connections


def summarize(raw):
    pages, ok = {}, True
    for page in raw["pages"]:
        runs = [r for r in raw["runs"] if r["page"] == page]
        on = [r["wrk"]["rps"] for r in runs if r["log"] == "on"]
        off = [r["wrk"]["rps"] for r in runs if r["log"] == "off"]
        on_median, off_median = statistics.median(on), statistics.median(off)
        ratio = round(on_median / off_median, 3) if off_median > 0 else 0
        errors = sum(r["wrk"]["non_2xx"] + r["wrk"]["socket_errors"] for r in runs)
        rows = [{"log": r["log"], "repetition": r["repetition"], "responses": r["wrk"]["responses"],
                 "rows_added": r["rows_after"] - r["rows_before"], "ok": rows_check(r, raw["connections"])} for r in runs]
        result = "PASS" if ratio >= ON_OFF_TARGET and errors == 0 and all(x["ok"] for x in rows) else "FAIL"
        ok &= result == "PASS"
        pages[page] = {"on_rps": on, "off_rps": off, "on_median_rps": round(on_median, 1), "off_median_rps": round(off_median, 1),
                       "ratio": ratio, "target": ON_OFF_TARGET, "errors": errors, "access_log_rows": rows, "result": result,
                       "runs": [{"log": r["log"], "repetition": r["repetition"], "wrk": r["wrk"]} for r in runs]}
    print(json.dumps({"chart": raw["chart"], "repetitions": raw["repetitions"], "order": raw["order"], "pages": pages,
                      "result": "PASS" if ok else "FAIL"}))


def main():
    if sys.argv[1:2] == ["setup"] and len(sys.argv) == 4:
        setup(sys.argv[2], sys.argv[3])
    elif sys.argv[1:] == ["summarize"]:
        summarize(json.load(sys.stdin))
    else:
        sys.exit("usage: bench_share.py setup API_KEY DASHBOARD_ID | summarize < runs.json")


if __name__ == "__main__":
    main()
