"""Share links: made with the seed's bodies, listed with their status, changed and revoked;
share pages as HTML (password and team gates, filters, downloads, escaping) and JSON;
max_access under concurrency, expiry while a cookie is held, brute force, other teams;
views logged and summed up in analytics."""
import re
import threading
import time

import pytest

from access_helpers import assert_invalid, client, psql, register
from conftest import assert_envelope, url
from test_dashboards import generate
from test_query import sales  # noqa: F401 (the fixture)

ID = re.compile(r"^[A-Za-z0-9_-]{43}$")


def share(account, dashboard, status=201, **body):
    r = account.post("/api/share/dashboard", {"dashboard_id": dashboard, **body})
    assert r.status_code == status, r.text
    return r.json()


def page(link, http=None, path="", **kwargs):
    """GET of a share page (no account), without following redirects."""
    http = http or client()
    kwargs.setdefault("allow_redirects", False)
    return http.get(url(f"/share/{link['share_id']}{path}"), timeout=30, **kwargs)


def logged(share_id=None, widget_id=None, at_least=1, timeout=5):
    """The access log's rows of a link or widget, once at least `at_least` are written (views
    are written in batches, within about a second)."""
    column, value = ("share_id", share_id) if share_id else ("widget_id", widget_id)
    deadline = time.time() + timeout
    while True:
        count = int(psql(f"SELECT count(*) FROM share_access_log WHERE {column} = '{value}'"))
        if count >= at_least or time.time() > deadline:
            return count
        time.sleep(0.1)


def unlock(http, link, **form):
    return http.post(url(f"/share/{link['share_id']}"), data=form, timeout=30, allow_redirects=False)


@pytest.fixture(scope="module")
def board(sales):  # noqa: F811
    account, table = sales
    return account, table, generate(account, table_ids=[table], options={"title": "Sales board"})


def test_public_link_opens_the_dashboard_as_html_and_json(board):
    account, _, dashboard = board
    link = share(account, dashboard["id"], share_type="public_link", permissions=["view"])
    assert ID.match(link["share_id"]), link
    assert link["url"].endswith(f"/share/{link['share_id']}") and link["status"] == "active"
    assert link["permissions"] == ["view"] and link["password_protected"] is False and link["expires_at"] is None
    r = page(link)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert "Sales board" in r.text and "<svg" in r.text
    # Same URL, JSON: the data, not where it came from.
    j = page(link, headers={"Accept": "application/json"})
    assert j.status_code == 200 and j.headers["Content-Type"].startswith("application/json")
    body = j.json()
    assert body["title"] == "Sales board" and body["permissions"] == ["view"]
    assert [w["id"] for w in body["widgets"]] == [w["id"] for w in dashboard["widgets"]]
    assert body["widgets"][0]["data"]["rows"] == [[5]]
    assert "sources" not in body and all("table" not in w and "query" not in w for w in body["widgets"])


def test_the_seeds_bodies_work_as_written(board):
    account, _, dashboard = board
    # Python: a secure link with a password, 24 hours, view + interact (owner_id is ignored).
    python = share(account, dashboard["id"], owner_id="user_456", share_type="secure_link",
                   permissions=["view", "interact"], expires_in_hours=24, password="secure123")
    assert python["share_type"] == "secure_link" and python["password_protected"] is True
    assert python["permissions"] == ["view", "interact"] and python["expires_at"]
    # JavaScript: a secure link with neither: SHARE_DEFAULT_EXPIRY (24h) applies.
    js = share(account, dashboard["id"], share_type="secure_link", permissions=["view"])
    assert js["password_protected"] is False and js["expires_at"]
    hours = float(psql(f"SELECT extract(epoch FROM expires_at - now()) / 3600 FROM share_links WHERE share_id = '{js['share_id']}'"))
    assert 23.9 < hours <= 24
    # Explicitly no expiry and no password: refused.
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "share_type": "secure_link",
                                                          "expires_in_hours": None}), "password")


def test_bad_bodies_and_unknown_dashboards(board):
    account, _, dashboard = board
    assert_invalid(account.post("/api/share/dashboard", {}), "dashboard_id")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": "nope"}), "dashboard_id")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "share_type": "everyone"}), "share_type")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "permissions": ["view", "own"]}),
                   "permissions[1]")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "permissions": "view"}), "permissions")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "expires_in_hours": 0}), "expires_in_hours")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "max_access": -1}), "max_access")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "password": "secret123"}), "password")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "share_type": "secure_link",
                                                          "password": "abc"}), "password")
    assert_invalid(account.post("/api/share/dashboard", {"dashboard_id": dashboard["id"], "permissions": ["edit"]}), "permissions")
    r = account.post("/api/share/dashboard", {"dashboard_id": "00000000-0000-0000-0000-000000000000"})
    assert_envelope(r, 404, "not_found")
    r = account.request("POST", "/api/share/dashboard", data="{", headers={"Content-Type": "application/json"})
    assert_envelope(r, 400, "invalid_json")


def test_list_show_patch_and_revoke(board):
    account, _, dashboard = board
    other = generate(account, table_ids=[board[1]], options={"max_widgets": 1})
    links = [share(account, dashboard["id"]) for _ in range(3)] + [share(account, other["id"])]
    r = account.get("/api/share/links", params={"limit": 2})
    assert r.status_code == 200 and len(r.json()["items"]) == 2 and r.json()["next_cursor"]
    rest = account.get("/api/share/links", params={"limit": 100, "cursor": r.json()["next_cursor"]}).json()["items"]
    seen = [item["share_id"] for item in r.json()["items"] + rest]
    assert all(link["share_id"] in seen for link in links) and len(seen) == len(set(seen))
    only = account.get("/api/share/links", params={"dashboard_id": other["id"]}).json()["items"]
    assert [item["share_id"] for item in only] == [links[3]["share_id"]]
    assert_invalid(account.get("/api/share/links", params={"limit": 0}), "limit")

    link = links[0]
    shown = account.get(f"/api/share/links/{link['share_id']}").json()
    assert shown["share_id"] == link["share_id"] and shown["status"] == "active"
    # Change permissions, expiry, limit.
    r = account.patch(f"/api/share/links/{link['share_id']}", {"permissions": ["view", "export"], "expires_in_hours": 2, "max_access": 5})
    assert r.status_code == 200, r.text
    assert r.json()["permissions"] == ["view", "export"] and r.json()["max_access"] == 5 and r.json()["expires_at"]
    r = account.patch(f"/api/share/links/{link['share_id']}", {"expires_in_hours": None, "max_access": None})
    assert r.json()["expires_at"] is None and r.json()["max_access"] is None
    assert_invalid(account.patch(f"/api/share/links/{link['share_id']}", {"password": "secret123"}), "password")
    assert_invalid(account.patch(f"/api/share/links/{link['share_id']}", {"permissions": [1]}), "permissions[0]")
    # Revoke: listed as revoked, the page is gone.
    r = account.delete(f"/api/share/links/{link['share_id']}")
    assert r.status_code == 200 and r.json()["status"] == "revoked" and r.json()["revoked_at"]
    assert account.get(f"/api/share/links/{link['share_id']}").json()["status"] == "revoked"
    gone = page(link)
    assert gone.status_code == 410 and gone.headers["Content-Type"].startswith("text/html")
    # Unknown and malformed ids.
    assert_envelope(account.get("/api/share/links/" + "A" * 43), 404, "not_found")
    assert_envelope(account.get("/api/share/links/short"), 404, "not_found")


def test_expired_exhausted_revoked_and_unknown_pages_look_alike(board):
    account, _, dashboard = board
    expired = share(account, dashboard["id"], expires_in_hours=1)
    psql(f"UPDATE share_links SET expires_at = now() - interval '1 second' WHERE share_id = '{expired['share_id']}'")
    exhausted = share(account, dashboard["id"], max_access=1)
    assert page(exhausted).status_code == 200
    revoked = share(account, dashboard["id"])
    account.delete(f"/api/share/links/{revoked['share_id']}")
    bodies = {}
    for name, link, status in [("expired", expired, 410), ("exhausted", exhausted, 410), ("revoked", revoked, 410),
                               ("unknown", {"share_id": "B" * 43}, 404), ("malformed", {"share_id": "x"}, 404)]:
        r = page(link)
        assert r.status_code == status, (name, r.status_code)
        assert r.headers["Content-Type"].startswith("text/html") and "Content-Security-Policy" in r.headers
        text = re.sub(r"\s+", " ", r.text)
        assert not re.search(r"expire|revok|exhaust|limit", text, re.I), (name, text)
        bodies[name] = re.sub(r"\d{3}", "", text)
    assert len(set(bodies.values())) == 1, bodies
    assert account.get(f"/api/share/links/{exhausted['share_id']}").json()["status"] == "exhausted"
    assert account.get(f"/api/share/links/{expired['share_id']}").json()["status"] == "expired"
    # JSON clients get the envelope.
    assert_envelope(page(expired, headers={"Accept": "application/json"}), 410, "gone")


def test_max_access_under_concurrency_lets_exactly_one_view_through(board):
    account, _, dashboard = board
    for _ in range(3):
        link = share(account, dashboard["id"], max_access=1)
        start = threading.Barrier(8)
        statuses = []

        def view():
            http = client()
            start.wait()
            statuses.append(page(link, http).status_code)

        threads = [threading.Thread(target=view) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(statuses) == [200] + [410] * 7, statuses
        assert account.get(f"/api/share/links/{link['share_id']}").json()["access_count"] == 1


def test_password_gate_cookie_and_brute_force(board):
    account, _, dashboard = board
    link = share(account, dashboard["id"], share_type="secure_link", password="secure123", expires_in_hours=1)
    http = client()
    gate = page(link, http)
    assert gate.status_code == 200 and 'type="password"' in gate.text and f'action="/share/{link["share_id"]}"' in gate.text
    assert "Sales board" not in gate.text and "<svg" not in gate.text
    assert_envelope(page(link, http, headers={"Accept": "application/json"}), 401, "password_required")
    wrong = unlock(http, link, password="nope")
    assert wrong.status_code == 401 and 'type="password"' in wrong.text
    right = unlock(http, link, password="secure123")
    assert right.status_code == 303 and right.headers["Location"] == f"/share/{link['share_id']}"
    cookie = right.headers["Set-Cookie"]
    for attribute in ("HttpOnly", "Secure", "SameSite=Lax", f"Path=/share/{link['share_id']}"):
        assert attribute in cookie, cookie
    max_age = int(re.search(r"Max-Age=(\d+)", cookie).group(1))
    assert 3500 < max_age <= 3600, cookie
    opened = page(link, http)
    assert opened.status_code == 200 and "Sales board" in opened.text
    # The cookie is for this link only; a tampered one is worthless.
    other = share(account, dashboard["id"], share_type="secure_link", password="secure123", expires_in_hours=1)
    value = http.cookies.get("assay_pass")
    assert "Sales board" not in client().get(url(f"/share/{other['share_id']}"), cookies={"assay_pass": value}).text
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    assert 'type="password"' in client().get(url(f"/share/{link['share_id']}"), cookies={"assay_pass": forged}).text
    # Expiry passes while the cookie is held: the page is gone.
    psql(f"UPDATE share_links SET expires_at = now() - interval '1 second' WHERE share_id = '{link['share_id']}'")
    assert page(link, http).status_code == 410
    # A changed password ends old cookies.
    fresh = share(account, dashboard["id"], share_type="secure_link", password="secure123")
    http2 = client()
    assert unlock(http2, fresh, password="secure123").status_code == 303
    assert page(fresh, http2).status_code == 200 and "Sales board" in page(fresh, http2).text
    account.patch(f"/api/share/links/{fresh['share_id']}", {"password": "another456"})
    assert 'type="password"' in page(fresh, http2).text


def test_brute_force_of_a_link_password_is_refused_with_retry_after(board):
    account, _, dashboard = board
    link = share(account, dashboard["id"], share_type="secure_link", password="secure123")
    http = client()
    statuses = [unlock(http, link, password=f"guess{i}").status_code for i in range(5)]
    assert statuses == [401, 401, 401, 401, 429], statuses
    locked = unlock(http, link, password="secure123")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0 and "Set-Cookie" not in locked.headers
    # Another address is not locked out.
    assert unlock(client(), link, password="secure123").status_code == 303
    # Not a form: refused clearly.
    r = client().post(url(f"/share/{link['share_id']}"), json={"password": "secure123"}, allow_redirects=False)
    assert r.status_code == 415


def test_permissions_decide_filters_and_downloads(board):
    account, table, _ = board
    dashboard = generate(account, table_ids=[table], options={"title": "Filtered"})
    r = account.put(f"/api/dashboards/{dashboard['id']}", {"filters": [{"column": "customer", "op": "=", "value": "Acme"}]})
    assert r.status_code == 200, r.text
    count = dashboard["widgets"][0]["id"]
    combinations = [["view"] + [p for p, on in zip(("interact", "export", "edit"), bits) if on]
                    for bits in __import__("itertools").product((False, True), repeat=3)]
    assert len(combinations) == 8
    for permissions in combinations:
        # edit is for secure (and team) links: every combination on a secure link with an expiry.
        link = share(account, dashboard["id"], share_type="secure_link", expires_in_hours=1, permissions=permissions)
        assert link["permissions"] == permissions
        http = client()
        html = page(link, http).text
        assert ('class="edit-form"' in html) == ("edit" in permissions), permissions
        data = page(link, http, params={"f0": "Beta"}, headers={"Accept": "application/json"}).json()
        rows = data["widgets"][0]["data"]["rows"]
        if "interact" in permissions:
            assert 'name="f0"' in html and 'method="get"' in html
            assert rows == [[2]], "the viewer's value applies"
            assert data["filters"][0]["changeable"] is True and data["filters"][0]["value"] == "Beta"
        else:
            assert 'name="f0"' not in html
            assert rows == [[2]] and data["filters"][0]["value"] == "Acme", "without interact the dashboard's value stays"
        downloads = page(link, http, path=f"/widgets/{count}.csv", params={"f0": "Beta"})
        if "export" in permissions:
            assert f"/widgets/{count}.csv" in html and f"/widgets/{count}.xlsx" in html and f"/widgets/{count}.pdf" in html
            assert downloads.status_code == 200 and downloads.headers["Content-Type"].startswith("text/csv")
            assert downloads.text.splitlines()[1] == "2"
            for ext, magic in (("xlsx", b"PK"), ("pdf", b"%PDF")):
                r = page(link, http, path=f"/widgets/{count}.{ext}")
                assert r.status_code == 200 and r.content.startswith(magic), (ext, r.status_code)
            assert page(link, http, path="/widgets/nope.csv").status_code == 404
            assert page(link, http, path=f"/widgets/{count}.exe").status_code == 404
        else:
            assert "/widgets/" not in html
            assert downloads.status_code == 403
    # A value that does not fit the column is refused on the page, the dashboard's stays.
    link = share(account, dashboard["id"], permissions=["view", "interact"])
    body = page(link, params={"f0": "x" * 600}, headers={"Accept": "application/json"}).json()
    assert body["filters"][0]["value"] == "Acme" and body["filters"][0]["problem"]


def test_markup_in_titles_columns_and_values_is_text(board):
    account, _, _ = board
    from test_spreadsheets import table_from
    evil = "<script>alert(1)</script>"
    _, table_info, _ = table_from(account, f"\"{evil}\",amount\n\"<img src=x onerror=alert(2)>\",5\n\"b&c\",7\n".encode())
    table = table_info["id"]
    dashboard = generate(account, table_ids=[table], options={"title": f"Board {evil}"})
    widgets = [dict(w, title=f"{w['title']} {evil}") for w in dashboard["widgets"]]
    assert account.put(f"/api/dashboards/{dashboard['id']}", {"widgets": widgets}).status_code == 200
    link = share(account, dashboard["id"])
    html = page(link).text
    assert "<script>alert" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "no inline script"
    assert " style=" not in html and "onerror=" not in html.replace("onerror=alert(2)&gt;", "")


def test_another_team_cannot_list_read_change_or_revoke_links(board):
    account, _, dashboard = board
    link = share(account, dashboard["id"])
    stranger = register()
    assert link["share_id"] not in [i["share_id"] for i in stranger.get("/api/share/links").json()["items"]]
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("GET", "/analytics")]:
        r = stranger.request(method, f"/api/share/links/{link['share_id']}{path}", json={} if method == "PATCH" else None)
        assert_envelope(r, 404, "not_found")
    assert_envelope(stranger.post("/api/share/dashboard", {"dashboard_id": dashboard["id"]}), 404, "not_found")
    assert account.get(f"/api/share/links/{link['share_id']}").json()["status"] == "active"
    # Editing ids and parameters on a page reaches nothing else.
    other = generate(account, table_ids=[board[1]], options={"max_widgets": 2})
    assert page(link, path=f"/widgets/{other['widgets'][0]['id']}x.csv").status_code in (403, 404)
    assert page(link, params={"dashboard_id": other["id"]}, headers={"Accept": "application/json"}).json()["title"] == "Sales board"


def test_team_links_open_for_members_only_and_list_who_opened(board):
    account, _, dashboard = board
    link = share(account, dashboard["id"], share_type="team")
    gate = page(link)
    assert gate.status_code == 200 and 'name="email"' in gate.text and 'type="password"' in gate.text
    assert_envelope(page(link, headers={"Accept": "application/json"}), 401, "sign_in_required")
    # A member with a token or an API key.
    assert page(link, headers={"Authorization": f"Bearer {account.access}"}).status_code == 200
    stranger = register()
    r = page(link, headers={"Authorization": f"Bearer {stranger.access}"})
    assert r.status_code == 403
    # The sign-in form: a stranger is refused, the member gets a cookie.
    http = client()
    assert unlock(http, link, email=stranger.email, password=stranger.password).status_code == 401
    ok = unlock(http, link, email=account.email, password=account.password)
    assert ok.status_code == 303, ok.text
    assert "Sales board" in page(link, http).text
    assert logged(link["share_id"], at_least=2) == 2
    members = account.get(f"/api/share/links/{link['share_id']}/analytics").json()["members"]
    assert [m["email"] for m in members] == [account.email] and members[0]["views"] == 2


def test_views_are_logged_and_summed_up(board):
    account, _, dashboard = board
    link = share(account, dashboard["id"])
    a = client(user_agent="Viewer A")
    b = client(user_agent="Viewer B")
    page(link, a, headers={"Referer": "https://blog.example.com/post/1?secret=x"})
    page(link, a, headers={"Referer": "https://blog.example.com/post/2"})
    page(link, b, headers={"Referer": "https://news.example.org/"})
    page(link, b)
    assert logged(link["share_id"], at_least=4) == 4
    stats = account.get(f"/api/share/links/{link['share_id']}/analytics").json()
    assert stats["views"] == 4 and stats["unique_viewers"] == 2 and stats["access_count"] == 4
    assert stats["views_per_day"][-1]["views"] == 4 and stats["last_viewed_at"]
    assert stats["top_referrers"] == [{"referrer": "https://blog.example.com", "views": 2},
                                      {"referrer": "https://news.example.org", "views": 1}]
    rows = psql(f"SELECT client_address, user_agent, viewer_hash FROM share_access_log WHERE share_id = '{link['share_id']}'")
    assert a.address in rows and "Viewer A" in rows
    assert_invalid(account.get(f"/api/share/links/{link['share_id']}/analytics", params={"days": 0}), "days")


def test_edit_permission_renames_and_saves_filters_only_when_given(board):
    account, table, _ = board
    dashboard = generate(account, table_ids=[table], options={"title": "Editable"})
    account.put(f"/api/dashboards/{dashboard['id']}", {"filters": [{"column": "customer", "op": "=", "value": "Acme"}]})
    first = dashboard["widgets"][0]["id"]
    viewer = share(account, dashboard["id"], share_type="secure_link", expires_in_hours=1, permissions=["view", "interact"])
    r = client().post(url(f"/share/{viewer['share_id']}/edit"), data={"title": "Hijacked"}, allow_redirects=False)
    assert r.status_code == 403
    editor = share(account, dashboard["id"], share_type="secure_link", password="secure123", permissions=["view", "interact", "edit"])
    http = client()
    # Locked until the password is given.
    assert http.post(url(f"/share/{editor['share_id']}/edit"), data={"title": "X"}, allow_redirects=False).status_code == 200
    assert unlock(http, editor, password="secure123").status_code == 303
    # Another site's form is refused.
    r = http.post(url(f"/share/{editor['share_id']}/edit"), data={"title": "X"}, headers={"Origin": "https://evil.example"},
                  allow_redirects=False)
    assert r.status_code == 403
    # The page offers the form only with edit.
    html = page(editor, http).text
    assert f'action="/share/{editor["share_id"]}/edit"' in html and 'name="title"' in html and f'name="widget.{first}"' in html
    assert "/edit" not in page(viewer).text
    r = http.post(url(f"/share/{editor['share_id']}/edit"), data={"title": "Renamed by a viewer", f"widget.{first}": "Rows",
                                                                   "f0": "Beta", "save_filters": "1"}, allow_redirects=False)
    assert r.status_code == 303, r.text
    saved = account.get(f"/api/dashboards/{dashboard['id']}").json()
    assert saved["title"] == "Renamed by a viewer" and saved["widgets"][0]["title"] == "Rows"
    assert saved["filters"][0]["value"] == "Beta" and saved["widgets"][0]["data"]["rows"] == [[2]]
    # JSON works too; bad values are named.
    r = http.post(url(f"/share/{editor['share_id']}/edit"), json={"title": ""}, allow_redirects=False)
    assert_invalid(r, "title")
    r = http.post(url(f"/share/{editor['share_id']}/edit"), json={"title": "Via JSON"}, headers={"Accept": "application/json"},
                  allow_redirects=False)
    assert r.status_code == 200 and r.json()["title"] == "Via JSON"
    audit = psql(f"SELECT count(*) FROM audit_logs WHERE resource_id = '{dashboard['id']}' AND action = 'dashboard.updated'")
    assert int(audit) >= 2


def test_views_are_not_lost_when_workers_recycle(board, pool):
    account, _, dashboard = board
    link = share(account, dashboard["id"])
    # Two requests per worker (with one, the health checks of the restart would keep the
    # pool from ever being complete on a busy machine).
    pool.restart(ASSAY_MAX_REQUESTS="2")
    try:
        http = client()
        for _ in range(6):
            assert page(link, http).status_code == 200
        # Each worker stops after its second request: it writes the views it kept before it goes.
        assert logged(link["share_id"], at_least=6) == 6
    finally:
        pool.restart()


def test_the_access_log_can_be_switched_off(board, pool):
    account, _, dashboard = board
    link = share(account, dashboard["id"], max_access=3)
    pool.restart(SHARE_ACCESS_LOG="off")
    try:
        assert page(link).status_code == 200 and page(link).status_code == 200
        time.sleep(1.5)  # longer than a batch waits
        assert int(psql(f"SELECT count(*) FROM share_access_log WHERE share_id = '{link['share_id']}'")) == 0
        # max_access still counts.
        assert page(link).status_code == 200 and page(link).status_code == 410
    finally:
        pool.restart()
