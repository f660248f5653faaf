"""Helpers shared by the access tests (test_access_*.py): clients, accounts, JWTs, psql.

Every test builds its own world: fresh users (uuid4-based emails and usernames) and, by
default, a fresh loopback client address (127.x.y.z), so that the per-address counters of
one test (login failures, the anonymous quota, nginx's limit_req) never touch another's.
"""
import base64
import hashlib
import hmac
import json
import os
import random
import re
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from requests.adapters import HTTPAdapter

from conftest import ENV, assert_envelope, session, url

PASSWORD = "Quartz-Plover-7391"
NEW_PASSWORD = "Lantern-Fjord-2468"
WRONG_PASSWORD = "Wrong-Guess-9876"
ACCESS_TTL = int(ENV.get("ASSAY_ACCESS_TOKEN_TTL", 900))
REFRESH_TTL = int(ENV.get("ASSAY_REFRESH_TOKEN_TTL", 30 * 86400))
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
USER_FIELDS = {"id", "email", "username", "full_name", "is_active", "created_at", "updated_at", "last_login_at"}
TOKEN_FIELDS = {"access_token", "refresh_token", "token_type", "expires_in"}
API_KEY_FIELDS = {"id", "name", "prefix", "scopes", "expires_at", "hourly_limit", "created_at", "last_used_at"}
INVITE_FIELDS = {"id", "email", "role", "expires_at", "created_at"}
MEMBER_FIELDS = {"user_id", "email", "username", "full_name", "role", "joined_at"}
RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def unique(prefix="u"):
    return prefix + uuid.uuid4().hex[:20]


def unique_email(prefix="e"):
    return f"{unique(prefix)}@example.com"


# --- clients --------------------------------------------------------------------------------


class _SourceAddressAdapter(HTTPAdapter):
    """Connects from a chosen local address: every 127/8 address reaches nginx on 127.0.0.1."""

    def __init__(self, address, **kwargs):
        self.address = address
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def fresh_address():
    return "127.%d.%d.%d" % (random.randint(1, 254), random.randint(0, 255), random.randint(1, 254))


def client(address=None, user_agent=None):
    """A requests session whose connections come from `address` (a fresh loopback address
    unless given; pass "127.0.0.1" for the plain client address)."""
    http = session()
    http.address = address or fresh_address()
    http.mount("https://", _SourceAddressAdapter(http.address))
    if user_agent:
        http.headers["User-Agent"] = user_agent
    return http


# Headers every `call` sends unless it names them itself: a test module that floods the
# instance with anonymous or refused requests (counted per client address) sets a client
# address of its own here, so the hourly quota of 127.0.0.1 stays for the modules after it.
DEFAULT_HEADERS = {}


def call(http, method, path, token=None, api_key=None, headers=None, **kwargs):
    """One request; `token` goes into `Authorization: Bearer`, `api_key` into `X-API-Key`."""
    headers = {**DEFAULT_HEADERS, **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if api_key:
        headers["X-API-Key"] = api_key
    kwargs.setdefault("timeout", 30)
    return http.request(method, url(path), headers=headers, **kwargs)


# --- accounts -------------------------------------------------------------------------------


@dataclass
class Account:
    """One login session of a user: its client, credentials and current token pair."""

    http: object
    email: str
    username: str
    password: str
    user: dict
    team: dict
    access: str
    refresh: str

    @property
    def id(self):
        return self.user["id"]

    def request(self, method, path, **kwargs):
        kwargs.setdefault("token", self.access)
        return call(self.http, method, path, **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, json=body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, json=body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, json=body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)

    def adopt(self, body):
        """Takes the token pair (and team, if any) of a successful response body."""
        self.access, self.refresh = body["access_token"], body["refresh_token"]
        if "team" in body:
            self.team = body["team"]
        return self


def session_of(http, body, password=PASSWORD):
    """The Account of a successful register/login response body."""
    user = body["user"]
    return Account(http, user["email"], user["username"], password, user, body["team"], body["access_token"],
                   body["refresh_token"])


def register_response(http, email=None, username=None, password=PASSWORD, headers=None, **extra):
    body = {"email": email or unique_email(), "username": username or unique(), "password": password, **extra}
    return call(http, "POST", "/api/auth/register", json=body, headers=headers), body


def register(http=None, **kwargs):
    """Registers a fresh user (201 expected) and returns its first session."""
    http = http or client()
    r, sent = register_response(http, **kwargs)
    assert r.status_code == 201, r.text
    return session_of(http, r.json(), sent["password"])


def login_response(http, email, password, **kwargs):
    return call(http, "POST", "/api/auth/login", json={"email": email, "password": password}, **kwargs)


def login(account, http=None, password=None):
    """A new session of `account`'s user (200 expected)."""
    http = http or account.http
    password = password or account.password
    r = login_response(http, account.email, password)
    assert r.status_code == 200, r.text
    return session_of(http, r.json(), password)


def refresh_response(http, refresh_token, **extra):
    return call(http, "POST", "/api/auth/refresh", json={"refresh_token": refresh_token, **extra})


def me(token, http=None, **kwargs):
    return call(http or client(), "GET", "/api/auth/me", token=token, **kwargs)


# --- assertions -----------------------------------------------------------------------------


def assert_unauthorized(response, code):
    error = assert_envelope(response, 401, code)
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer"), dict(response.headers)
    return error


def assert_fields(response, status, code, *names):
    """The envelope with `code` whose `fields` names (at least) every one of `names`."""
    error = assert_envelope(response, status, code)
    fields = error.get("fields") or {}
    missing = [name for name in names if name not in fields]
    assert not missing, f"fields {missing} not named in {error}"
    return fields


def assert_invalid(response, *names):
    return assert_fields(response, 422, "validation_failed", *names)


def assert_retry_after(response, at_most=None):
    value = response.headers.get("Retry-After", "")
    assert value.isdigit() and int(value) > 0, dict(response.headers)
    if at_most is not None:
        assert int(value) <= at_most, value
    return int(value)


def assert_iso_utc(value):
    assert isinstance(value, str) and ISO_UTC.match(value), value


def parse_time(value):
    return datetime.strptime(value[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


def iso_in(seconds):
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_user(user, account=None):
    assert set(user) == USER_FIELDS, user
    assert user["is_active"] is True
    for name in ("created_at", "updated_at"):
        assert_iso_utc(user[name])
    if account:
        assert user["email"] == account.email
        assert user["username"] == account.username


def assert_token_pair(body):
    """A TokenPair whose access and refresh tokens carry the documented claims."""
    assert TOKEN_FIELDS <= set(body), body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == ACCESS_TTL
    access_header, access = jwt_decode(body["access_token"])
    refresh_header, refresh = jwt_decode(body["refresh_token"])
    assert access_header["alg"] == refresh_header["alg"] == "HS256"
    assert access["typ"] == "access" and refresh["typ"] == "refresh"
    for claims in (access, refresh):
        assert {"sub", "team", "sid", "jti", "iat", "exp"} <= set(claims), claims
    assert access["exp"] - access["iat"] == ACCESS_TTL
    assert refresh["exp"] - refresh["iat"] == REFRESH_TTL
    assert access["sid"] == refresh["sid"] and access["sub"] == refresh["sub"]
    assert access["jti"] != refresh["jti"]
    return access, refresh


def json_keys(value):
    """Every object key anywhere in a decoded JSON value."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in json_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in json_keys(v)}
    return set()


def assert_no_credential_fields(body):
    """No key named like a password or a hash, at any depth."""
    suspicious = [k for k in json_keys(body) if "password" in k.lower() or "hash" in k.lower()]
    assert not suspicious, (suspicious, body)


def assert_no_secrets(text, *secrets):
    for secret in secrets:
        assert secret not in text, f"secret {secret[:12]}… found in {text[:500]}"


def assert_rate_headers(response, limit=None):
    """The quota headers: integers, remaining within the limit, reset within the hour."""
    for name in RATE_HEADERS:
        assert response.headers.get(name, "").isdigit(), (response.request.method, response.url, name,
                                                          dict(response.headers))
    value = {name: int(response.headers[name]) for name in RATE_HEADERS}
    if limit is not None:
        assert value["X-RateLimit-Limit"] == limit, value
    assert 0 <= value["X-RateLimit-Remaining"] <= value["X-RateLimit-Limit"], value
    now = time.time()
    assert now - 2 <= value["X-RateLimit-Reset"] <= now + 3600 + 2, value
    return value["X-RateLimit-Remaining"]


# --- JWTs -----------------------------------------------------------------------------------


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_decode(token):
    """(header, claims) of a JWT, without verifying it."""
    header, claims, _ = token.split(".")
    return json.loads(b64url_decode(header)), json.loads(b64url_decode(claims))


def jwt_encode(claims, alg="HS256", secret=None):
    """A JWT signed with HMAC (HS256/HS384/HS512) or unsigned (alg "none")."""
    header = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    payload = b64url(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode()
    if alg == "none":
        return f"{header}.{payload}."
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    key = (secret if secret is not None else os.environ["JWT_SECRET_KEY"]).encode()
    return f"{header}.{payload}.{b64url(hmac.new(key, signing_input, digest).digest())}"


def resign(token, alg="HS256", **changes):
    """The claims of `token` with `changes`, signed anew (with the server's secret)."""
    _, claims = jwt_decode(token)
    claims.update(changes)
    return jwt_encode(claims, alg=alg)


# --- API keys and teams ---------------------------------------------------------------------


def create_key_response(account, scopes=("admin",), name=None, **extra):
    body = {"name": name or unique("key-"), "scopes": list(scopes), **extra}
    return account.post("/api/api-keys", body)


def create_key(account, scopes=("admin",), **extra):
    r = create_key_response(account, scopes, **extra)
    assert r.status_code == 201, r.text
    return r.json()


def invite_response(account, email, role="editor"):
    return account.post("/api/team/invite", {"email": email, "role": role})


def invite(account, email, role="editor"):
    r = invite_response(account, email, role)
    assert r.status_code == 201, r.text
    return r.json()


def accept_response(account, token):
    return account.post(f"/api/team/invites/{token}/accept")


def switch_team(account, team_id):
    r = account.post("/api/auth/switch-team", {"team_id": team_id})
    assert r.status_code == 200, r.text
    return account.adopt(r.json())


def join_team(owner, member, role="editor"):
    """`owner` invites `member` with `role`; `member` accepts and switches to the team."""
    token = invite(owner, member.email, role)["token"]
    r = accept_response(member, token)
    assert r.status_code == 200, r.text
    return switch_team(member, owner.team["id"])


def team_with_member(role="editor"):
    """A fresh owner and a fresh member of the owner's team (the member's session is switched to it)."""
    owner = register()
    member = register()
    join_team(owner, member, role)
    return owner, member


def members_by_id(account):
    r = account.get("/api/team/members")
    assert r.status_code == 200, r.text
    return {m["user_id"]: m for m in r.json()["items"]}


def team_ids(account):
    r = account.get("/api/auth/me")
    assert r.status_code == 200, r.text
    return {t["id"]: t["role"] for t in r.json()["teams"]}


# --- PostgreSQL -----------------------------------------------------------------------------


def psql(sql, **params):
    """Runs `sql` in the app database as the superuser; `:'name'` is a quoted parameter."""
    args = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", "assay"]
    for name, value in params.items():
        args += ["-v", f"{name}={value}"]
    return subprocess.run(args, input=sql, capture_output=True, text=True, check=True).stdout.strip()


def rows_containing(table, text):
    """How many rows of `table` contain `text` in any column."""
    return int(psql(f"SELECT count(*) FROM {table} t WHERE strpos(row_to_json(t)::text, :'text') > 0;", text=text))
