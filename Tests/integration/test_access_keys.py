"""API keys: creation, listing, use through both headers, storage, scopes, revocation, expiry."""
import time
import uuid

from access_helpers import (API_KEY_FIELDS, NEW_PASSWORD, PASSWORD, assert_invalid, assert_iso_utc,
                            assert_no_credential_fields, assert_unauthorized, call, client, create_key,
                            create_key_response, iso_in, me, psql, register, rows_containing)
from conftest import assert_envelope

ALL_SCOPES = ["documents:read", "documents:write", "export", "chat", "dashboards:read", "dashboards:write", "share",
              "connections", "etl", "admin"]


def _list_keys(account, **kwargs):
    r = account.get("/api/api-keys", **kwargs)
    assert r.status_code == 200, r.text
    return r


def _listed(account, key_id):
    return {item["id"]: item for item in _list_keys(account).json()["items"]}[key_id]


def test_create_returns_the_key_once_and_list_never_shows_it():
    account = register()
    r = create_key_response(account, ["documents:read", "export"], name="ci")
    assert r.status_code == 201, r.text
    created = r.json()
    assert set(created) == API_KEY_FIELDS | {"key"}, created
    assert created["key"].startswith("ocr_") and len(created["key"]) >= 36, created["key"]
    assert created["key"].startswith(created["prefix"]) and created["prefix"] != created["key"]
    assert (created["name"], sorted(created["scopes"])) == ("ci", ["documents:read", "export"])
    assert created["expires_at"] is None and created["last_used_at"] is None
    assert_iso_utc(created["created_at"])

    listing = _list_keys(account)
    assert created["key"] not in listing.text
    assert_no_credential_fields(listing.json())
    items = listing.json()["items"]
    assert [item["id"] for item in items] == [created["id"]]
    assert items[0] == {k: v for k, v in created.items() if k != "key"}


def test_list_shows_only_the_teams_keys():
    mine, theirs = register(), register()
    create_key(mine)
    other = create_key(theirs)
    assert other["id"] not in {item["id"] for item in _list_keys(mine).json()["items"]}


def test_key_works_as_bearer_and_as_x_api_key_and_records_last_use():
    account = register()
    created = create_key(account, ["documents:read"])
    for r in (me(created["key"]), call(client(), "GET", "/api/auth/me", api_key=created["key"])):
        assert r.status_code == 200, r.text
        assert r.json()["user"]["id"] == account.id
        assert r.json()["team"]["id"] == account.team["id"]
    assert_iso_utc(_listed(account, created["id"])["last_used_at"])


def test_key_is_stored_hashed():
    account = register()
    created = create_key(account)
    assert psql("SELECT count(*) FROM api_keys WHERE id = :'id';", id=created["id"]) == "1"
    secret = created["key"][len(created["prefix"]):]
    assert rows_containing("api_keys", created["key"]) == 0
    assert rows_containing("api_keys", secret) == 0


def test_key_without_admin_scope_cannot_manage_keys():
    account = register()
    reader = create_key(account, ["documents:read"])["key"]
    for r in (call(client(), "POST", "/api/api-keys", api_key=reader, json={"name": "x", "scopes": ["chat"]}),
              call(client(), "GET", "/api/api-keys", token=reader)):
        error = assert_envelope(r, 403, "missing_scope")
        assert "admin" in error["message"], error
    admin = create_key(account, ["admin"])["key"]
    r = call(client(), "POST", "/api/api-keys", api_key=admin, json={"name": "from-key", "scopes": ["chat"]})
    assert r.status_code == 201, r.text


def test_create_validates_scopes_expiry_and_limit():
    account = register()
    fields = assert_invalid(create_key_response(account, ["documents:read", "root"]), "scopes")
    for scope in ALL_SCOPES:
        assert scope in fields["scopes"], fields
    assert_invalid(create_key_response(account, []), "scopes")
    assert_invalid(create_key_response(account, expires_at=iso_in(-60)), "expires_at")
    assert_invalid(create_key_response(account, expires_at="tomorrow"), "expires_at")
    assert_invalid(create_key_response(account, hourly_limit=0), "hourly_limit")
    assert_invalid(create_key_response(account, hourly_limit=1_000_001), "hourly_limit")
    assert assert_invalid(account.post("/api/api-keys", {}))["name"] == "is required"
    assert _list_keys(account).json()["items"] == []
    every = create_key(account, ALL_SCOPES, hourly_limit=1_000_000)
    assert sorted(every["scopes"]) == sorted(ALL_SCOPES) and every["hourly_limit"] == 1_000_000


def test_revoked_key_is_401():
    account = register()
    created = create_key(account)
    assert me(created["key"]).status_code == 200
    r = account.delete(f"/api/api-keys/{created['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": created["id"], "status": "revoked"}
    assert_unauthorized(me(created["key"]), "invalid_api_key")
    assert_unauthorized(call(client(), "GET", "/api/auth/me", api_key=created["key"]), "invalid_api_key")


def test_revoking_an_unknown_or_foreign_key_is_404():
    account, other = register(), register()
    assert_envelope(account.delete(f"/api/api-keys/{uuid.uuid4()}"), 404, "not_found")
    foreign = create_key(other)
    assert_envelope(account.delete(f"/api/api-keys/{foreign['id']}"), 404, "not_found")
    assert me(foreign["key"]).status_code == 200


def test_expired_key_is_401():
    account = register()
    expires = int(time.time()) + 2
    created = create_key(account, expires_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)))
    assert me(created["key"]).status_code == 200
    time.sleep(max(0.0, expires + 1.1 - time.time()))
    assert_unauthorized(me(created["key"]), "invalid_api_key")


def test_keys_cannot_use_session_routes():
    account = register()
    key = create_key(account, ALL_SCOPES)["key"]
    attempts = {
        "/api/auth/logout": None,
        "/api/auth/refresh": {"refresh_token": account.refresh},
        "/api/auth/change-password": {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        "/api/auth/switch-team": {"team_id": account.team["id"]},
    }
    for path, body in attempts.items():
        for r in (call(client(), "POST", path, token=key, json=body),
                  call(client(), "POST", path, api_key=key, json=body)):
            assert_envelope(r, 403, "forbidden")
    # Nothing happened: the session and the password are intact.
    assert me(account.access).status_code == 200
    assert call(client(), "POST", "/api/auth/login", json={"email": account.email, "password": PASSWORD}).ok
