"""Accounts: registration, login, the profile and the settings (docs/access.md)."""
import statistics
import time

from access_helpers import (PASSWORD, WRONG_PASSWORD, assert_fields, assert_invalid, assert_iso_utc,
                            assert_no_credential_fields, assert_no_secrets, assert_token_pair, assert_unauthorized,
                            assert_user, call, client, jwt_decode, login_response, me, psql, register,
                            register_response, rows_containing, unique, unique_email)
from conftest import assert_envelope

SETTINGS_CHOICES = {
    "theme": {"light", "dark", "system"},
    "default_export_format": {"csv", "excel", "json", "pdf"},
}


# --- register -------------------------------------------------------------------------------


def test_register_returns_user_personal_team_and_working_tokens():
    http = client()
    r, sent = register_response(http, full_name="Ada Lovelace")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"user", "team", "access_token", "refresh_token", "token_type", "expires_in"}, body
    user = body["user"]
    assert_user(user)
    assert (user["email"], user["username"], user["full_name"]) == (sent["email"], sent["username"], "Ada Lovelace")
    assert user["last_login_at"] is None or isinstance(user["last_login_at"], str)
    assert set(body["team"]) == {"id", "name", "role"} and body["team"]["role"] == "owner", body["team"]
    assert body["team"]["name"]
    assert_no_credential_fields(body)
    assert_no_secrets(r.text, PASSWORD, "$argon2")
    access, refresh = assert_token_pair(body)
    assert access["sub"] == user["id"] and access["team"] == body["team"]["id"]
    assert refresh["team"] == body["team"]["id"]

    r = me(body["access_token"], http)
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["user"] == user
    assert got["team"] == body["team"]
    assert got["teams"] == [body["team"]]


def test_register_stores_an_argon2id_hash_never_the_password():
    account = register()
    stored = psql("SELECT password_hash FROM users WHERE id = :'id';", id=account.id)
    assert stored.startswith("$argon2id$"), stored
    assert rows_containing("users", PASSWORD) == 0


def test_register_duplicate_email_is_409_case_insensitively():
    first = register()
    r, _ = register_response(client(), email=first.email.upper())
    fields = assert_fields(r, 409, "conflict", "email")
    assert fields == {"email": "is already registered"}


def test_register_duplicate_username_is_409():
    first = register()
    r, _ = register_response(client(), username=first.username)
    fields = assert_fields(r, 409, "conflict", "username")
    assert fields == {"username": "is already taken"}


def test_register_rejects_bad_email_and_username():
    http = client()
    for email in ["not-an-email", "a@", "@example.com", "a b@example.com"]:
        assert_invalid(register_response(http, email=email)[0], "email")
    for username in ["ab", "-starts-with-dash", "has space", "x" * 33, "bad/slash"]:
        fields = assert_invalid(register_response(http, username=username)[0], "username")
        assert "email" not in fields and "password" not in fields, fields


def test_register_password_policy():
    http = client()
    username = unique("pol")
    local = unique("loc")
    weak = [
        "Short-9",                         # under 10 characters
        "no-digits-at-all-here",           # no digit
        "1234567890123",                   # no letter
        "x1" * 64 + "y",                   # 129 characters
        f"{username}-Secure-42",           # contains the username
        f"{local}-Secure-42",              # contains the email's local part
        "password123",                     # well known
    ]
    for password in weak:
        r, _ = register_response(http, email=f"{local}@example.com", username=username, password=password)
        fields = assert_invalid(r, "password")
        assert set(fields) == {"password"}, (password, fields)
        assert_no_secrets(r.text, password)
    # The same identity with a good password is accepted: the refusals above were the password's.
    r, _ = register_response(http, email=f"{local}@example.com", username=username)
    assert r.status_code == 201, r.text


def test_register_missing_fields_wrong_types_and_malformed_json():
    http = client()
    r = call(http, "POST", "/api/auth/register", json={})
    assert assert_invalid(r) == {"email": "is required", "username": "is required", "password": "is required"}
    r = call(http, "POST", "/api/auth/register", json={"email": 5, "username": ["x"], "password": True})
    assert assert_invalid(r) == {
        "email": "must be a string, not integer",
        "username": "must be a string, not array",
        "password": "must be a string, not boolean",
    }
    r = call(http, "POST", "/api/auth/register", data=b'{"email": "a@example.com", ',
             headers={"Content-Type": "application/json"})
    assert_envelope(r, 400, "invalid_json")


# --- login ----------------------------------------------------------------------------------


def test_login_succeeds_and_records_last_login():
    account = register()
    r = login_response(client(), account.email, PASSWORD)
    assert r.status_code == 200, r.text
    body = r.json()
    assert_user(body["user"], account)
    assert body["user"]["id"] == account.id
    assert body["team"] == account.team
    assert_iso_utc(body["user"]["last_login_at"])
    access, _ = assert_token_pair(body)
    assert access["sid"] != jwt_decode(account.access)[1]["sid"], "a login starts a new session"
    assert_no_credential_fields(body)
    assert_no_secrets(r.text, PASSWORD, "$argon2")
    assert me(body["access_token"]).status_code == 200


def test_login_unknown_email_and_wrong_password_look_the_same():
    account = register()
    http = client()
    unknown = login_response(http, unique_email(), WRONG_PASSWORD)
    wrong = login_response(http, account.email, WRONG_PASSWORD)
    assert_unauthorized(unknown, "invalid_credentials")
    assert_unauthorized(wrong, "invalid_credentials")
    # The same body but for the request's own id.
    bodies = [unknown.json(), wrong.json()]
    for body in bodies:
        assert body["error"].pop("request_id")
    assert bodies[0] == bodies[1]


def _median_login_seconds(http, emails):
    times = []
    for email in emails:
        started = time.perf_counter()
        r = login_response(http, email, WRONG_PASSWORD)
        times.append(time.perf_counter() - started)
        assert_envelope(r, 401, "invalid_credentials")
    return statistics.median(times)


def test_login_unknown_email_costs_about_as_much_as_a_wrong_password():
    account = register()
    http = client()
    call(http, "GET", "/api/version")  # open the TLS connection before timing
    unknown = _median_login_seconds(http, [unique_email() for _ in range(5)])
    wrong = _median_login_seconds(http, [account.email] * 5)
    assert max(unknown, wrong) < 3 * min(unknown, wrong), (unknown, wrong)


def test_login_validates_its_body():
    r = call(client(), "POST", "/api/auth/login", json={"email": 3})
    assert assert_invalid(r, "email", "password")["password"] == "is required"


# --- me -------------------------------------------------------------------------------------


def test_me_requires_credentials():
    assert_unauthorized(call(client(), "GET", "/api/auth/me"), "unauthorized")


def test_update_profile_full_name():
    account = register()
    r = account.put("/api/auth/me", {"full_name": "Grace Hopper"})
    assert r.status_code == 200, r.text
    user = r.json()["user"]
    assert_user(user, account)
    assert user["full_name"] == "Grace Hopper"
    assert account.get("/api/auth/me").json()["user"]["full_name"] == "Grace Hopper"


def test_update_profile_username_and_email_conflicts_and_validation():
    account, other = register(), register()
    fields = assert_fields(account.put("/api/auth/me", {"username": other.username}), 409, "conflict", "username")
    assert fields == {"username": "is already taken"}
    fields = assert_fields(account.put("/api/auth/me", {"email": other.email.upper()}), 409, "conflict", "email")
    assert fields == {"email": "is already registered"}
    assert_invalid(account.put("/api/auth/me", {"email": "nope"}), "email")
    assert_invalid(account.put("/api/auth/me", {"username": "-x"}), "username")
    assert account.get("/api/auth/me").json()["user"]["email"] == account.email

    new_name, new_email = unique("ren"), unique_email("ren")
    r = account.put("/api/auth/me", {"username": new_name, "email": new_email})
    assert r.status_code == 200, r.text
    assert (r.json()["user"]["username"], r.json()["user"]["email"]) == (new_name, new_email)
    assert login_response(client(), new_email, PASSWORD).status_code == 200


# --- settings -------------------------------------------------------------------------------


def _settings(account):
    r = account.get("/api/auth/settings")
    assert r.status_code == 200, r.text
    return r.json()["settings"]


def test_settings_defaults():
    settings = _settings(register())
    assert {"theme", "language", "timezone", "notifications", "default_export_format", "page_size"} <= set(settings)
    for name, choices in SETTINGS_CHOICES.items():
        assert settings[name] in choices, settings
    assert isinstance(settings["language"], str) and settings["language"]
    assert isinstance(settings["timezone"], str) and settings["timezone"]
    assert isinstance(settings["notifications"]["email"], bool)
    assert isinstance(settings["page_size"], int) and 10 <= settings["page_size"] <= 500


def test_settings_partial_updates_merge():
    account = register()
    defaults = _settings(account)
    r = account.put("/api/auth/settings", {"theme": "dark"})
    assert r.status_code == 200, r.text
    assert r.json()["settings"] == {**defaults, "theme": "dark"}
    r = account.put("/api/auth/settings", {"page_size": 100, "timezone": "Europe/Paris",
                                           "notifications": {"email": False}})
    assert r.status_code == 200, r.text
    expected = {**defaults, "theme": "dark", "page_size": 100, "timezone": "Europe/Paris",
                "notifications": {**defaults["notifications"], "email": False}}
    assert r.json()["settings"] == expected
    assert _settings(account) == expected


def test_settings_reject_unknown_keys_and_bad_values():
    account = register()
    before = _settings(account)
    r = account.put("/api/auth/settings", {"colour": "red", "theme": "neon", "timezone": "Mars/Olympus_Mons",
                                           "page_size": 5, "default_export_format": "xml"})
    assert_invalid(r, "colour", "theme", "timezone", "page_size", "default_export_format")
    fields = assert_invalid(account.put("/api/auth/settings", {"notifications": {"email": "yes"}}))
    assert [name for name in fields if name.startswith("notifications")], fields
    assert_invalid(account.put("/api/auth/settings", {"page_size": 501}), "page_size")
    assert _settings(account) == before
    assert_unauthorized(call(client(), "GET", "/api/auth/settings"), "unauthorized")
