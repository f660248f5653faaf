"""Tokens: verification of access JWTs, refresh rotation and reuse, logout, password change."""
import time

from access_helpers import (NEW_PASSWORD, PASSWORD, assert_invalid, assert_token_pair, assert_unauthorized, client,
                            jwt_decode, jwt_encode, login, login_response, me, refresh_response, register, resign)


def test_access_token_works_and_a_resigned_copy_is_accepted():
    """Guards the forging helpers: the same claims signed here with JWT_SECRET_KEY are valid,
    so the refusals below are about what was changed, not about the secret."""
    account = register()
    assert me(account.access).status_code == 200
    r = me(resign(account.access))
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == account.id


def test_bad_access_tokens_are_401_invalid_token():
    account = register()
    header, claims, signature = account.access.split(".")
    middle = len(signature) // 2
    flipped = signature[:middle] + ("A" if signature[middle] != "A" else "B") + signature[middle + 1:]
    other_sub = dict(jwt_decode(account.access)[1], sub="00000000-0000-4000-8000-000000000000")
    cases = {
        "tampered signature": f"{header}.{claims}.{flipped}",
        "tampered claims": f"{header}.{jwt_encode(other_sub).split('.')[1]}.{signature}",
        "alg none": jwt_encode(jwt_decode(account.access)[1], alg="none"),
        "alg none with forged sub": jwt_encode(other_sub, alg="none"),
        "HS512 with the same secret": resign(account.access, alg="HS512"),
        "refresh token as access token": account.refresh,
        "garbage": "not-a-jwt",
        "two segments": f"{header}.{claims}",
        "wrong secret": jwt_encode(jwt_decode(account.access)[1], secret="not-the-secret"),
    }
    for name, token in cases.items():
        r = me(token, account.http)
        assert r.status_code == 401, (name, r.text)
        assert_unauthorized(r, "invalid_token")


def test_expired_access_token_is_401_token_expired():
    account = register()
    now = int(time.time())
    assert_unauthorized(me(resign(account.access, iat=now - 1000, exp=now - 100)), "token_expired")


def test_unknown_api_key_and_missing_credentials():
    assert_unauthorized(me("ocr_" + "0" * 40), "invalid_api_key")
    assert_unauthorized(me(None), "unauthorized")


def test_refresh_rotates_the_pair():
    account = register()
    r = refresh_response(account.http, account.refresh)
    assert r.status_code == 200, r.text
    body = r.json()
    access, refresh = assert_token_pair(body)
    assert body["team"] == account.team
    assert body["refresh_token"] != account.refresh and body["access_token"] != account.access
    assert access["sid"] == jwt_decode(account.access)[1]["sid"], "a refresh continues the session"
    assert me(body["access_token"]).status_code == 200
    r = refresh_response(account.http, body["refresh_token"])
    assert r.status_code == 200, r.text
    assert_token_pair(r.json())


def test_reused_refresh_token_revokes_the_whole_session():
    account = register()
    other_session = login(account, client())
    old_access, old_refresh = account.access, account.refresh
    r = refresh_response(account.http, old_refresh)
    assert r.status_code == 200, r.text
    new = r.json()
    assert_unauthorized(refresh_response(account.http, old_refresh), "token_reused")
    assert_unauthorized(refresh_response(account.http, new["refresh_token"]), "token_revoked")
    assert_unauthorized(me(new["access_token"]), "token_revoked")
    assert_unauthorized(me(old_access), "token_revoked")
    # Only that session: the user's other login is untouched.
    assert me(other_session.access).status_code == 200
    assert refresh_response(other_session.http, other_session.refresh).status_code == 200


def test_refresh_refuses_access_tokens_garbage_and_expired_tokens():
    account = register()
    assert_unauthorized(refresh_response(account.http, account.access), "invalid_token")
    assert_unauthorized(refresh_response(account.http, "garbage"), "invalid_token")
    assert_unauthorized(refresh_response(account.http, resign(account.refresh, alg="HS512")), "invalid_token")
    now = int(time.time())
    expired = resign(account.refresh, iat=now - 1000, exp=now - 10)
    assert_unauthorized(refresh_response(account.http, expired), "token_expired")
    assert_invalid(refresh_response(account.http, None), "refresh_token")


def test_logout_revokes_the_session():
    account = register()
    r = account.post("/api/auth/logout")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "logged_out"}
    assert_unauthorized(me(account.access), "token_revoked")
    assert_unauthorized(refresh_response(account.http, account.refresh), "token_revoked")
    assert_unauthorized(account.post("/api/auth/logout"), "token_revoked")


def test_change_password_wrong_current_and_weak_new():
    account = register()
    r = account.post("/api/auth/change-password", {"current_password": "Not-The-One-123", "new_password": NEW_PASSWORD})
    assert assert_invalid(r, "current_password")["current_password"] == "is incorrect"
    r = account.post("/api/auth/change-password", {"current_password": PASSWORD, "new_password": "short1"})
    assert_invalid(r, "new_password")
    r = account.post("/api/auth/change-password", {"current_password": PASSWORD,
                                                   "new_password": f"{account.username}-Extra-99"})
    assert_invalid(r, "new_password")
    assert login_response(client(), account.email, PASSWORD).status_code == 200


def test_change_password_revokes_other_sessions_only():
    account = register()
    second = login(account, client())
    r = account.post("/api/auth/change-password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "password_changed"
    assert_token_pair(body)
    assert PASSWORD not in r.text and NEW_PASSWORD not in r.text
    # The current session keeps working, with its old access token and the new pair.
    assert me(account.access).status_code == 200
    assert me(body["access_token"]).status_code == 200
    assert refresh_response(account.http, body["refresh_token"]).status_code == 200
    # Every other session is revoked.
    assert_unauthorized(me(second.access), "token_revoked")
    assert_unauthorized(refresh_response(second.http, second.refresh), "token_revoked")
    # Only the new password logs in.
    assert_unauthorized(login_response(client(), account.email, PASSWORD), "invalid_credentials")
    assert login_response(client(), account.email, NEW_PASSWORD).status_code == 200
