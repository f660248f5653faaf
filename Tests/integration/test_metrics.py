"""GET /metrics: the whole pool's metrics in Prometheus' text format, summed over every worker
through shared memory; who may read them; and the one structured log line per request."""
import concurrent.futures as futures
import json
import os
import signal
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families

from access_helpers import call, client, create_key, psql, register
from conftest import ENV, assert_envelope, session, url
from documents_helpers import make_pdf

# The test profile's nginx takes this header as the client's address (realip, test profile
# only): the request then goes through the same maps and location rules as one from elsewhere.
ELSEWHERE = {"X-Assay-Test-Remote-Addr": "203.0.113.7"}


def scrape(http=None, headers=None):
    """The families of one scrape, after checking the response is the text format."""
    r = (http or session()).get(url("/metrics"), headers=headers or {}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    assert r.headers["Cache-Control"] == "no-store"
    return {family.name: family for family in text_string_to_metric_families(r.text)}


def value(families, family, sample=None, **labels):
    """One sample's value (0 when the series does not exist yet)."""
    for s in families[family].samples:
        if s.name == (sample or family) and s.labels == labels:
            return s.value
    return 0


def requests_of(families, route, status, method="GET"):
    # prometheus_client names a counter's family without the `_total` suffix.
    return value(families, "assay_http_requests", "assay_http_requests_total", method=method, route=route,
                 status=str(status))


def duration_count(families, route, method="GET"):
    return value(families, "assay_http_request_duration_seconds", "assay_http_request_duration_seconds_count",
                 method=method, route=route)


def wait_for(condition, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        result = condition()
        if result or time.time() > deadline:
            return result
        time.sleep(0.1)


def test_request_counts_are_exact_across_all_workers(pool):
    before = scrape()
    pids = []

    def one(path):
        # Each from its own loopback address: unknown /api/ paths count against the address's quota.
        r = client().get(url(path), timeout=30)
        return r.status_code, (r.json().get("pid") if r.status_code == 200 else None)

    paths = ["/api/_test/pid"] * 90 + ["/api/no/such/route/%d" % i for i in range(25)] + ["/nothing-here"] * 5
    with futures.ThreadPoolExecutor(8) as executor:
        results = list(executor.map(one, paths))
    assert [status for status, _ in results].count(200) == 90
    assert [status for status, _ in results].count(404) == 30
    pids = {pid for _, pid in results if pid}
    # Several workers answered: the totals below are the pool's, not one worker's.
    assert len(pids) >= 2, pids

    after = scrape()
    assert requests_of(after, "/api/_test/pid", 200) - requests_of(before, "/api/_test/pid", 200) == 90
    # Unknown paths share one route label, whatever the path.
    assert requests_of(after, "unmatched", 404) - requests_of(before, "unmatched", 404) == 30
    assert duration_count(after, "/api/_test/pid") - duration_count(before, "/api/_test/pid") == 90
    # The first scrape counted itself once it was answered.
    assert requests_of(after, "/metrics", 200) - requests_of(before, "/metrics", 200) == 1
    routes = {s.labels["route"] for s in after["assay_http_requests"].samples}
    assert not any(r.startswith("/api/no/") for r in routes), routes


def test_histograms_are_cumulative_and_count_matches_the_inf_bucket(pool):
    s = session()
    for _ in range(5):
        assert s.get(url("/api/version")).status_code == 200
    families = scrape()
    histograms = [f for f in families.values() if f.type == "histogram"]
    assert {f.name for f in histograms} >= {"assay_http_request_duration_seconds"}
    checked = 0
    for family in histograms:
        series = {}
        for sample in family.samples:
            key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            series.setdefault(key, {"buckets": []})
            if sample.name.endswith("_bucket"):
                series[key]["buckets"].append((float(sample.labels["le"]), sample.value))
            elif sample.name.endswith("_count"):
                series[key]["count"] = sample.value
            elif sample.name.endswith("_sum"):
                series[key]["sum"] = sample.value
        for key, data in series.items():
            bounds = [b for b, _ in data["buckets"]]
            counts = [c for _, c in data["buckets"]]
            assert bounds == sorted(bounds) and bounds[-1] == float("inf"), (family.name, key)
            assert counts == sorted(counts), (family.name, key, counts)
            assert counts[-1] == data["count"], (family.name, key)
            assert data["sum"] >= 0
            checked += 1
    version = duration_count(families, "/api/version")
    assert version >= 5
    assert checked > 0
    # The gauges and counters of the pool are there.
    assert value(families, "assay_workers", kind="fastcgi") == int(ENV["ASSAY_WORKERS"])
    assert value(families, "assay_http_requests_in_flight") >= 1  # this scrape
    assert "assay_worker_restarts" in families and "assay_database_errors" in families


def test_counts_survive_recycled_workers_and_recycles_are_counted(pool):
    pool.restart(ASSAY_WORKERS=2, ASSAY_MAX_REQUESTS=5)
    try:
        s = session()
        before = scrape(s)
        recycled_before = value(before, "assay_worker_recycles", "assay_worker_recycles_total", kind="fastcgi")
        pids = []
        for _ in range(40):
            r = s.get(url("/api/_test/pid"))
            assert r.status_code == 200
            pids.append(r.json()["pid"])
        # Each worker served at most 5: at least 8 different ones counted these requests.
        assert len(set(pids)) >= 8, pids
        after = wait_for(lambda: (lambda f: f if value(f, "assay_worker_recycles", "assay_worker_recycles_total",
                                                       kind="fastcgi") - recycled_before >= 8 else None)(scrape(s)))
        assert after, "recycles not counted"
        assert requests_of(after, "/api/_test/pid", 200) - requests_of(before, "/api/_test/pid", 200) == 40
        assert duration_count(after, "/api/_test/pid") - duration_count(before, "/api/_test/pid") == 40
    finally:
        pool.restart()


def test_a_killed_worker_is_counted_as_restarted_and_its_counts_stay(pool):
    s = session()
    before = scrape(s)
    for _ in range(12):
        assert s.get(url("/api/version")).status_code == 200
    restarts_before = value(before, "assay_worker_restarts", "assay_worker_restarts_total", kind="fastcgi")
    victim = pool.worker_pids()[0]
    os.kill(victim, signal.SIGKILL)
    pool.wait_workers(int(ENV["ASSAY_WORKERS"]), exclude=(victim,))
    after = wait_for(lambda: (lambda f: f if value(f, "assay_worker_restarts", "assay_worker_restarts_total",
                                                   kind="fastcgi") == restarts_before + 1 else None)(scrape(s)))
    assert after, "restart not counted"
    assert requests_of(after, "/api/version", 200) - requests_of(before, "/api/version", 200) == 12


def test_an_extraction_job_shows_its_duration_pages_and_the_queue(pool):
    account = register()
    before = scrape()
    r = call(client(), "POST", "/api/documents/upload", token=account.access,
             files={"file": ("m.pdf", make_pdf([["Invoice 7"], ["Page two"], ["Page three"], ["Four"]]),
                             "application/octet-stream")})
    assert r.status_code == 202, r.text

    def jobs_done(families):
        return value(families, "assay_job_duration_seconds", "assay_job_duration_seconds_count",
                     kind="document.extract", outcome="succeeded") - value(
            before, "assay_job_duration_seconds", "assay_job_duration_seconds_count",
            kind="document.extract", outcome="succeeded")

    after = wait_for(lambda: (lambda f: f if jobs_done(f) >= 1 else None)(scrape()), timeout=30)
    assert after, "the extraction job's duration was not observed"
    assert jobs_done(after) == 1
    # Every page is counted once, by how it was read (a short text layer may be OCR'd).
    def pages(families):
        return sum(s.value for s in families["assay_extraction_pages"].samples)
    assert pages(after) - pages(before) == 4
    extractions = value(after, "assay_extraction_duration_seconds", "assay_extraction_duration_seconds_count") - value(
        before, "assay_extraction_duration_seconds", "assay_extraction_duration_seconds_count")
    assert extractions == 1
    assert value(after, "assay_job_duration_seconds", "assay_job_duration_seconds_sum",
                 kind="document.extract", outcome="succeeded") > 0
    # The queue's depth is read from the database at scrape time, for every kind.
    queue = {(s.labels["kind"], s.labels["status"]) for s in after["assay_jobs"].samples}
    assert {("document.extract", "queued"), ("document.extract", "running"), ("export.run", "queued")} <= queue


def test_exported_rows_are_counted_by_format(pool):
    account = register()
    rows = "".join(f"Item {i},{i},{i * 1.5:.2f}\n" for i in range(1, 8))
    r = call(client(), "POST", "/api/documents/upload", token=account.access,
             files={"file": ("m.csv", ("Name,Units,Amount\n" + rows).encode(), "application/octet-stream")})
    assert r.status_code == 202, r.text
    document = r.json()["id"]
    assert wait_for(lambda: account.get(f"/api/documents/{document}/status").json()["status"] == "done")
    [table] = account.get(f"/api/documents/{document}/tables").json()["items"]
    before = scrape()
    for body in ({"format": "csv"}, {"format": "json"}, {"format": "csv"}):
        r = account.post(f"/api/export/table/{table['id']}", body)
        assert r.status_code == 200, r.text
    after = scrape()

    def exported(families, fmt):
        return value(families, "assay_export_rows", "assay_export_rows_total", format=fmt)

    assert exported(after, "csv") - exported(before, "csv") == 14
    assert exported(after, "json") - exported(before, "json") == 7


def test_rows_copied_by_etl_are_counted(pool):
    from test_etl import connect, make_table, run
    account = register()
    connection = connect(account, "postgresql")
    table = make_table("postgresql", [(1, "a", "1.50"), (2, "b", "2.00"), (3, "c", "3.25"), (4, "d", "4.00")])
    before = scrape()
    done = run(account, connection, {"tables": [{"name": table, "sync_mode": "full_refresh"}]})
    assert done["status"] == "succeeded", done
    after = wait_for(lambda: (lambda f: f if value(f, "assay_job_duration_seconds", "assay_job_duration_seconds_count",
                                                   kind="etl.sync", outcome="succeeded") > value(
        before, "assay_job_duration_seconds", "assay_job_duration_seconds_count", kind="etl.sync",
        outcome="succeeded") else None)(scrape()))
    assert after, "the ETL job's duration was not observed"
    assert value(after, "assay_etl_rows", "assay_etl_rows_total") - value(before, "assay_etl_rows", "assay_etl_rows_total") == 4


def test_a_database_error_in_a_request_is_counted(pool):
    account = register()
    name = "metrics-" + uuid.uuid4().hex[:12]
    # A constraint only this key's name breaks: the INSERT fails in PostgreSQL (23514).
    psql(f"ALTER TABLE api_keys ADD CONSTRAINT metrics_test_{name[8:]} CHECK (name <> '{name}') NOT VALID;")
    try:
        before = scrape()
        r = account.post("/api/api-keys", {"name": name, "scopes": ["admin"]})
        assert_envelope(r, 500, "internal_error")
        after = scrape()
    finally:
        psql(f"ALTER TABLE api_keys DROP CONSTRAINT metrics_test_{name[8:]};")
    errors = value(after, "assay_database_errors", "assay_database_errors_total", kind="server") - value(
        before, "assay_database_errors", "assay_database_errors_total", kind="server")
    assert errors == 1
    assert requests_of(after, "/api/api-keys", 500, method="POST") - requests_of(before, "/api/api-keys", 500,
                                                                              method="POST") == 1


def test_from_elsewhere_metrics_need_an_admin_api_key(pool):
    owner = register()
    admin_key = create_key(owner, scopes=("admin",))["key"]
    reader_key = create_key(owner, scopes=("documents:read",))["key"]
    http = session()

    # No credential at all: nginx refuses, with the JSON envelope.
    r = http.get(url("/metrics"), headers=ELSEWHERE)
    assert_envelope(r, 403, "forbidden")
    # A key without the admin scope, a user token, an unknown key: refused by the app.
    r = http.get(url("/metrics"), headers={**ELSEWHERE, "X-API-Key": reader_key})
    assert_envelope(r, 403, "missing_scope")
    r = http.get(url("/metrics"), headers={**ELSEWHERE, "Authorization": f"Bearer {owner.access}"})
    assert_envelope(r, 403, "forbidden")
    r = http.get(url("/metrics"), headers={**ELSEWHERE, "X-API-Key": admin_key[:-4] + "AAAA"})
    assert_envelope(r, 401, "invalid_api_key")
    # The admin key, as X-API-Key or as the bearer token.
    families = scrape(http, headers={**ELSEWHERE, "X-API-Key": admin_key})
    assert "assay_http_requests" in families
    scrape(http, headers={**ELSEWHERE, "Authorization": f"Bearer {admin_key}"})
    # From this machine nothing is needed (the header above is what made the difference),
    # from any loopback address.
    scrape(http)
    scrape(client())


def test_each_request_logs_one_line_with_route_status_duration_and_who(pool):
    account = register()
    request_id = "metricslog" + uuid.uuid4().hex[:16]
    r = call(client(), "GET", "/api/auth/me", token=account.access, headers={"X-Request-ID": request_id})
    assert r.status_code == 200
    missing_id = "metricslog" + uuid.uuid4().hex[:16]
    assert client().get(url("/api/no/such/thing"), headers={"X-Request-ID": missing_id}).status_code == 404

    def lines(rid):
        return [line for line in pool.log_lines() if line.get("request.id") == rid and line.get("msg") == "request"]

    assert wait_for(lambda: lines(request_id) and lines(missing_id), timeout=5)
    [line] = lines(request_id)
    assert line["http.method"] == "GET" and line["http.route"] == "/api/auth/me" and line["http.status"] == 200
    assert line["http.path"] == "/api/auth/me"
    assert isinstance(line["duration_ms"], (int, float)) and line["duration_ms"] >= 0
    assert line["user.id"] == account.id and line["team.id"] == account.team["id"]
    assert line["level"] == "info" and line["pid"] > 0
    raw = json.dumps(line)
    assert account.access not in raw and account.refresh not in raw and "Bearer" not in raw
    [unmatched] = lines(missing_id)
    assert unmatched["http.route"] == "unmatched" and unmatched["http.status"] == 404
    assert "user.id" not in unmatched and "team.id" not in unmatched


def test_a_path_holding_a_secret_is_logged_as_its_route_template(pool):
    account = register()
    secret = "invite" + uuid.uuid4().hex
    request_id = "metricslog" + uuid.uuid4().hex[:16]
    r = call(client(), "POST", f"/api/team/invites/{secret}/accept", token=account.access,
             headers={"X-Request-ID": request_id})
    assert r.status_code < 500, r.text

    def lines():
        return [line for line in pool.log_lines() if line.get("request.id") == request_id and line.get("msg") == "request"]

    assert wait_for(lines, timeout=5)
    [line] = lines()
    assert line["http.path"] == "/api/team/invites/{token}/accept" == line["http.route"]
    assert secret not in json.dumps(line)
