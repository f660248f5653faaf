"""Embeddable widgets: made (chart, KPI, dashboard; light, dark, custom themes; allowed
origins), listed, deleted; the embed code; `/embed/{id}` framed only by the allowed origins;
signed embed tokens that lock filter values; views counted."""
import base64
import hashlib
import hmac
import json
import re
import time

import pytest

from access_helpers import assert_invalid, client, psql, register
from conftest import assert_envelope, url
from test_dashboards import generate
from test_query import sales  # noqa: F401 (the fixture)
from test_sharing import ID, logged


def embed(account, status=201, **body):
    r = account.post("/api/embed/widget", body)
    assert r.status_code == status, r.text
    return r.json()


def view(widget, http=None, **kwargs):
    kwargs.setdefault("allow_redirects", False)
    return (http or client()).get(url(f"/embed/{widget['widget_id']}"), timeout=30, **kwargs)


def token(secret, claims):
    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    key = base64.urlsafe_b64decode(secret + "=" * (-len(secret) % 4))
    signature = b64(hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{signature}"


@pytest.fixture(scope="module")
def board(sales):  # noqa: F811
    account, table = sales
    dashboard = generate(account, table_ids=[table], options={"title": "Embedded board"})
    r = account.put(f"/api/dashboards/{dashboard['id']}", {"filters": [{"column": "customer", "op": "=", "value": "Acme"}]})
    assert r.status_code == 200, r.text
    return account, r.json()


def widget_of(dashboard, kind):
    return next(w for w in dashboard["widgets"] if (w["type"] == "kpi") == (kind == "kpi"))


def test_the_seeds_chart_embed_and_its_code(board):
    account, dashboard = board
    chart = widget_of(dashboard, "chart")
    # The seed's create_chart_embed(dashboard_id, chart_id, theme, width, height).
    widget = embed(account, dashboard_id=dashboard["id"], chart_id=chart["id"], theme="dark", width=800, height=400,
                   allowed_origins=["https://example.com", "http://127.0.0.1:9999/"])
    assert ID.match(widget["widget_id"]) and widget["widget_kind"] == "chart" and widget["theme"] == "dark"
    assert widget["allowed_origins"] == ["https://example.com", "http://127.0.0.1:9999"]
    code = widget["embed_code"]
    assert code == account.get(f"/api/embed/widgets/{widget['widget_id']}/code").json()
    iframe = code["iframe"]
    assert iframe.startswith("<iframe ") and f'src="{widget["url"]}"' in iframe
    for attribute in ('title="', 'loading="lazy"', 'width="800"', 'height="400"', 'sandbox="allow-scripts allow-same-origin'):
        assert attribute in iframe, iframe
    assert "<script" in code["script"] and f'data-assay-widget="{widget["widget_id"]}"' in code["script"]
    assert "embed_secret" not in widget
    r = view(widget)
    assert r.status_code == 200, r.text
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors https://example.com http://127.0.0.1:9999" in csp, csp
    assert "X-Frame-Options" not in r.headers
    assert r.text.count("<svg") == 1 and chart["title"] in r.text
    # Every other page keeps frame-ancestors 'none'.
    assert "frame-ancestors 'none'" in client().get(url("/health")).headers["Content-Security-Policy"]


def test_kpi_dashboard_and_custom_theme_widgets(board):
    account, dashboard = board
    kpi = embed(account, dashboard_id=dashboard["id"], widget_kind="kpi", chart_id=widget_of(dashboard, "kpi")["id"])
    assert kpi["theme"] == "light" and kpi["width"] == 800 and kpi["height"] == 400
    assert view(kpi).status_code == 200
    whole = embed(account, dashboard_id=dashboard["id"], widget_kind="dashboard", width=1200, height=900)
    assert whole["chart_id"] is None and view(whole).text.count("<svg") == len(dashboard["widgets"])
    custom = embed(account, dashboard_id=dashboard["id"], widget_kind="dashboard", theme="custom",
                   custom_theme={"background": "#FFF8E7", "foreground": "#222", "accent": "#c0392b"})
    assert custom["custom_theme"] == {"background": "#fff8e7", "foreground": "#222222", "accent": "#c0392b"}
    page = view(custom)
    style = re.search(r"<style>(.*?)</style>", page.text, re.S).group(1)
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page.headers["Content-Security-Policy"] and "#fff8e7" in style
    # Without an origin list, no site may frame it.
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]


def test_bad_embed_bodies(board):
    account, dashboard = board
    chart, kpi = widget_of(dashboard, "chart"), widget_of(dashboard, "kpi")
    base = {"dashboard_id": dashboard["id"]}
    assert_invalid(account.post("/api/embed/widget", {}), "dashboard_id")
    assert_invalid(account.post("/api/embed/widget", {**base, "widget_kind": "chart"}), "chart_id")
    assert_invalid(account.post("/api/embed/widget", {**base, "widget_kind": "video"}), "widget_kind")
    assert_invalid(account.post("/api/embed/widget", {**base, "theme": "neon"}), "theme")
    assert_invalid(account.post("/api/embed/widget", {**base, "width": 10}), "width")
    assert_invalid(account.post("/api/embed/widget", {**base, "allowed_origins": ["javascript:alert(1)"]}), "allowed_origins[0]")
    assert_invalid(account.post("/api/embed/widget", {**base, "allowed_origins": ["https://a.com/path"]}), "allowed_origins[0]")
    assert_invalid(account.post("/api/embed/widget", {**base, "allowed_origins": ["https://a.com; script-src *"]}), "allowed_origins[0]")
    assert_invalid(account.post("/api/embed/widget", {**base, "theme": "custom"}), "custom_theme")
    assert_invalid(account.post("/api/embed/widget", {**base, "theme": "custom",
                                                       "custom_theme": {"background": "red;x", "foreground": "#000"}}), "custom_theme")
    assert_invalid(account.post("/api/embed/widget", {**base, "permissions": ["edit"]}), "permissions")
    assert_invalid(account.post("/api/embed/widget", {**base, "require_token": True}), "require_token")
    assert_invalid(account.post("/api/embed/widget", {**base, "widget_kind": "kpi", "chart_id": chart["id"]}), "chart_id")
    assert_invalid(account.post("/api/embed/widget", {**base, "widget_kind": "chart", "chart_id": kpi["id"]}), "chart_id")
    assert_envelope(account.post("/api/embed/widget", {**base, "chart_id": "nope"}), 404, "not_found")
    assert_envelope(account.post("/api/embed/widget", {"dashboard_id": "00000000-0000-0000-0000-000000000000"}), 404, "not_found")


def test_list_delete_other_teams_and_gone_widgets(board):
    account, dashboard = board
    widgets = [embed(account, dashboard_id=dashboard["id"]) for _ in range(3)]
    r = account.get("/api/embed/widgets", params={"limit": 2})
    assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    listed = [w["widget_id"] for w in account.get("/api/embed/widgets", params={"dashboard_id": dashboard["id"], "limit": 100}).json()["items"]]
    assert all(w["widget_id"] in listed for w in widgets)
    stranger = register()
    for method, path in [("GET", ""), ("DELETE", ""), ("GET", "/code"), ("GET", "/analytics")]:
        assert_envelope(stranger.request(method, f"/api/embed/widgets/{widgets[0]['widget_id']}{path}"), 404, "not_found")
    assert stranger.get("/api/embed/widgets").json()["items"] == []
    r = account.delete(f"/api/embed/widgets/{widgets[0]['widget_id']}")
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert view(widgets[0]).status_code == 404
    assert_envelope(account.get(f"/api/embed/widgets/{widgets[0]['widget_id']}"), 404, "not_found")
    expiring = embed(account, dashboard_id=dashboard["id"], expires_in_hours=1)
    psql(f"UPDATE embed_widgets SET expires_at = now() - interval '1 second' WHERE widget_id = '{expiring['widget_id']}'")
    assert view(expiring).status_code == 410
    assert account.get(f"/api/embed/widgets/{expiring['widget_id']}").json()["status"] == "expired"


def test_signed_tokens_lock_filter_values(board):
    account, dashboard = board
    kpi = widget_of(dashboard, "kpi")
    widget = embed(account, dashboard_id=dashboard["id"], widget_kind="kpi", chart_id=kpi["id"], signed=True, require_token=True,
                   permissions=["view", "interact"])
    secret = widget["embed_secret"]
    assert widget["signed"] is True and "embed_secret" not in account.get(f"/api/embed/widgets/{widget['widget_id']}").json()
    assert view(widget).status_code == 401
    good = token(secret, {"widget": widget["widget_id"], "exp": int(time.time()) + 600, "params": {"customer": "Beta"}})
    r = view(widget, params={"token": good}, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    assert r.json()["widgets"][0]["data"]["rows"] == [[2]], "the token's customer = Beta replaces the dashboard's Acme"
    # The viewer cannot change a locked value.
    r = view(widget, params={"token": good, "f0": "Acme"}, headers={"Accept": "application/json"})
    assert r.json()["widgets"][0]["data"]["rows"] == [[2]]
    html = view(widget, params={"token": good}).text
    assert 'name="f0"' not in html and "Beta" not in html, "a locked value is neither shown nor changeable"
    # With a filter left to change, the form carries the token along; downloads keep it too.
    both = embed(account, dashboard_id=dashboard["id"], widget_kind="kpi", chart_id=kpi["id"], signed=True, require_token=True,
                 permissions=["view", "interact", "export"])
    free = token(both["embed_secret"], {"widget": both["widget_id"], "exp": int(time.time()) + 600, "params": {"paid": True}})
    html = view(both, params={"token": free}).text
    assert 'name="f0"' in html and f'name="token" value="{free}"' in html
    link = re.search(r'href="(/embed/[^"]+\.csv[^"]*)"', html).group(1).replace("&amp;", "&")
    assert "token=" in link
    csv = client().get(url(link), timeout=30)
    assert csv.status_code == 200 and csv.text.splitlines()[1] == "1", csv.text
    for bad, why in [(token(secret, {"widget": widget["widget_id"], "exp": int(time.time()) - 1}), "expired"),
                     (token(secret, {"widget": "x" * 43, "exp": int(time.time()) + 600}), "another widget"),
                     (token("A" * 43, {"widget": widget["widget_id"], "exp": int(time.time()) + 600}), "signature"),
                     (token(secret, {"widget": widget["widget_id"], "exp": int(time.time()) + 600, "params": {"nope": 1}}), "nope"),
                     ("not.a.token", "JWT")]:
        r = view(widget, params={"token": bad})
        assert r.status_code in (400, 401), (why, r.status_code)
        assert r.headers["Content-Type"].startswith("text/html")


def test_embed_views_are_logged(board):
    account, dashboard = board
    widget = embed(account, dashboard_id=dashboard["id"], allowed_origins=["https://example.com"])
    view(widget, client(user_agent="A"), headers={"Referer": "https://example.com/page?x=1"})
    view(widget, client(user_agent="B"), headers={"Referer": "https://example.com/other"})
    assert logged(widget_id=widget["widget_id"], at_least=2) == 2
    stats = account.get(f"/api/embed/widgets/{widget['widget_id']}/analytics").json()
    assert stats["views"] == 2 and stats["unique_viewers"] == 2 and stats["access_count"] == 2
    assert stats["top_referrers"] == [{"referrer": "https://example.com", "views": 2}]
