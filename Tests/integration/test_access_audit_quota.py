"""The audit log (who did what, from where, without secrets) and the hourly quotas."""
import uuid

from access_helpers import (PASSWORD, WRONG_PASSWORD, accept_response, assert_invalid, assert_iso_utc,
                            assert_no_secrets, assert_rate_headers, assert_retry_after, call, client, create_key,
                            join_team, login_response, psql, register, register_response, session_of, team_with_member)
from conftest import ENV, assert_envelope

DEFAULT_GENERAL_QUOTA = int(ENV.get("ASSAY_QUOTA_GENERAL", 1000))
AUDIT_FIELDS = {"id", "created_at", "user_id", "api_key_id", "team_id", "action", "resource_type", "resource_id",
                "ip_address", "user_agent", "request_id", "detail"}


def _rid():
    return "itest-" + uuid.uuid4().hex


def _audit(account, **params):
    r = account.get("/api/audit-logs", params=params)
    assert r.status_code == 200, r.text
    return r


def _all_audit_ids(account):
    return [item["id"] for item in _audit(account, limit=200).json()["items"]]


def test_audit_log_records_who_what_and_where_without_secrets():
    agent = "assay-itest/" + uuid.uuid4().hex[:8]
    http = client("127.0.0.1", user_agent=agent)
    ids = {}

    def traced(action, send):
        rid = _rid()
        ids[rid] = action
        r = send({"X-Request-ID": rid})
        assert r.headers["X-Request-ID"] == rid
        return r

    r = traced("auth.register", lambda h: register_response(http, headers=h)[0])
    assert r.status_code == 201, r.text
    owner = session_of(http, r.json())
    r = traced("auth.login", lambda h: login_response(http, owner.email, PASSWORD, headers=h))
    assert r.status_code == 200, r.text
    secrets = [PASSWORD, WRONG_PASSWORD, owner.access, owner.refresh, r.json()["access_token"],
               r.json()["refresh_token"]]
    assert traced("auth.login_failed", lambda h: login_response(http, owner.email, WRONG_PASSWORD,
                                                                headers=h)).status_code == 401
    key = traced("api_key.created", lambda h: owner.post("/api/api-keys", {"name": "k", "scopes": ["chat"]},
                                                         headers=h)).json()
    secrets.append(key["key"])
    assert traced("api_key.revoked", lambda h: owner.delete(f"/api/api-keys/{key['id']}", headers=h)).ok
    member = register()
    sent = traced("team.invite_created", lambda h: owner.post("/api/team/invite", {"email": member.email,
                                                                                  "role": "viewer"}, headers=h))
    assert sent.status_code == 201, sent.text
    secrets.append(sent.json()["token"])
    assert accept_response(member, sent.json()["token"]).status_code == 200
    assert traced("team.member_role_changed", lambda h: owner.patch(f"/api/team/members/{member.id}",
                                                                   {"role": "editor"}, headers=h)).ok

    listing = _audit(owner, limit=200)
    assert_no_secrets(listing.text, *secrets)
    items = listing.json()["items"]
    by_request = {item["request_id"]: item for item in items}
    for item in items:
        assert set(item) == AUDIT_FIELDS, item
        assert item["team_id"] == owner.team["id"], item
        assert_iso_utc(item["created_at"])
    for rid, action in ids.items():
        assert rid in by_request, (action, [(i["action"], i["request_id"]) for i in items])
        row = by_request[rid]
        assert row["action"] == action, row
        assert (row["ip_address"], row["user_agent"]) == ("127.0.0.1", agent), row
    assert by_request[_rid_of(ids, "api_key.created")]["resource_id"] == key["id"]
    assert by_request[_rid_of(ids, "api_key.revoked")]["resource_id"] == key["id"]
    assert by_request[_rid_of(ids, "api_key.created")]["user_id"] == owner.id
    assert by_request[_rid_of(ids, "team.invite_created")]["resource_id"] == sent.json()["invite"]["id"]
    created_times = [item["created_at"] for item in items]
    assert created_times == sorted(created_times, reverse=True), "newest first"
    # Nowhere in the table, whichever team a row belongs to.
    for secret in secrets:
        assert psql("SELECT count(*) FROM audit_logs a WHERE strpos(row_to_json(a)::text, :'s') > 0;", s=secret) == "0"


def _rid_of(ids, action):
    return next(rid for rid, name in ids.items() if name == action)


def test_audit_filter_by_action():
    owner = register()
    for _ in range(2):
        create_key(owner)
    items = _audit(owner, action="api_key.created").json()["items"]
    assert len(items) == 2 and {i["action"] for i in items} == {"api_key.created"}, items
    assert _audit(owner, action="team.member_removed").json()["items"] == []
    kind, one = items[0]["resource_type"], items[0]["resource_id"]
    about_keys = _audit(owner, user_id=owner.id, resource_type=kind).json()["items"]
    assert {i["id"] for i in items} <= {i["id"] for i in about_keys}
    assert {i["resource_type"] for i in about_keys} == {kind}
    assert [i["id"] for i in _audit(owner, resource_id=one).json()["items"]] == [items[0]["id"]]
    assert _audit(owner, since="2100-01-01T00:00:00Z").json()["items"] == []


def test_audit_pagination_is_disjoint_and_complete():
    owner = register()
    for _ in range(3):
        create_key(owner)
    assert owner.put("/api/auth/settings", {"theme": "dark"}).status_code == 200
    everything = _all_audit_ids(owner)
    assert len(everything) >= 5, everything
    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = _audit(owner, **params).json()
        assert 1 <= len(body["items"]) <= 2, body
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(pages) < 20, "pagination does not end"
    flat = [i for page in pages for i in page]
    assert len(flat) == len(set(flat)), pages
    assert flat == everything


def test_audit_log_is_for_owners_and_admins():
    owner, editor = team_with_member("editor")
    assert_envelope(editor.get("/api/audit-logs"), 403, "forbidden")
    viewer = register()
    join_team(owner, viewer, "viewer")
    assert_envelope(viewer.get("/api/audit-logs"), 403, "forbidden")
    assert owner.patch(f"/api/team/members/{editor.id}", {"role": "admin"}).ok
    assert editor.get("/api/audit-logs").status_code == 200
    key = create_key(owner, ["documents:read"])["key"]
    assert_envelope(call(client(), "GET", "/api/audit-logs", api_key=key), 403, "missing_scope")


def test_audit_bad_filters_are_422():
    owner = register()
    assert_invalid(owner.get("/api/audit-logs", params={"since": "yesterday"}), "since")
    assert_invalid(owner.get("/api/audit-logs", params={"until": "2026-13-45T00:00:00Z"}), "until")
    assert_invalid(owner.get("/api/audit-logs", params={"limit": 0}), "limit")
    assert_invalid(owner.get("/api/audit-logs", params={"limit": 201}), "limit")
    assert_invalid(owner.get("/api/audit-logs", params={"user_id": "not-a-uuid"}), "user_id")
    assert_invalid(owner.get("/api/audit-logs", params={"cursor": "@@garbage@@"}), "cursor")
    assert owner.get("/api/audit-logs", params={"since": "2000-01-01T00:00:00Z"}).status_code == 200


# --- quotas ---------------------------------------------------------------------------------


def test_every_api_response_carries_rate_limit_headers():
    http = client()
    r, _ = register_response(http)
    assert r.status_code == 201
    assert assert_rate_headers(r, limit=DEFAULT_GENERAL_QUOTA) == DEFAULT_GENERAL_QUOTA - 1, "a new address's first request"
    body = r.json()
    responses = [
        login_response(http, body["user"]["email"], PASSWORD),
        login_response(http, body["user"]["email"], WRONG_PASSWORD),
        call(http, "GET", "/api/auth/me", token=body["access_token"]),
        call(http, "GET", "/api/auth/me"),
        call(http, "DELETE", f"/api/api-keys/{uuid.uuid4()}", token=body["access_token"]),
        call(http, "PUT", "/api/auth/settings", token=body["access_token"], json={"theme": "neon"}),
        call(http, "GET", "/api/no-such-route", token=body["access_token"]),
    ]
    assert [x.status_code for x in responses] == [200, 401, 200, 401, 404, 422, 404]
    for response in responses:
        assert_rate_headers(response)


def test_authenticated_requests_count_down_the_remaining_quota():
    account = register()
    first = assert_rate_headers(account.get("/api/auth/me"))
    second = assert_rate_headers(account.get("/api/auth/settings"))
    assert second == first - 1


def test_api_key_hourly_limit():
    account = register()
    key = create_key(account, ["documents:read"], hourly_limit=3)
    assert key["hourly_limit"] == 3
    http = client()
    remaining = []
    for _ in range(3):
        r = call(http, "GET", "/api/auth/me", api_key=key["key"])
        assert r.status_code == 200, r.text
        remaining.append(assert_rate_headers(r, limit=3))
    assert remaining == [2, 1, 0]
    r = call(http, "GET", "/api/auth/me", api_key=key["key"])
    assert_envelope(r, 429, "quota_exceeded")
    assert_retry_after(r, at_most=3600)
    assert assert_rate_headers(r, limit=3) == 0
    # The owner's own quota is separate.
    assert account.get("/api/auth/me").status_code == 200


def test_general_quota_for_a_user(pool):
    account = register()
    pool.restart(ASSAY_QUOTA_GENERAL=5)
    try:
        remaining = []
        for _ in range(5):
            r = account.get("/api/auth/me")
            assert r.status_code == 200, r.text
            remaining.append(assert_rate_headers(r, limit=5))
        assert remaining == [4, 3, 2, 1, 0]
        r = account.get("/api/auth/settings")
        assert_envelope(r, 429, "quota_exceeded")
        assert_retry_after(r, at_most=3600)
        assert assert_rate_headers(r, limit=5) == 0
        # Another user (registered from another address) has a quota of their own.
        other = register()
        assert assert_rate_headers(other.get("/api/auth/me"), limit=5) == 4
    finally:
        pool.restart()
