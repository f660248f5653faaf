"""Connections to customer databases: a real PostgreSQL source cluster and a real MariaDB
server on loopback. Create, test, schema, update, soft delete; every failure reason; the
host policy; secrets encrypted at rest and never returned; team privacy."""
import socket
import threading
import time

import pytest

from access_helpers import assert_invalid, call, client, create_key, psql, register, team_with_member
from conftest import ENV, assert_envelope
from sources_helpers import mysql_admin, mysql_body, pg_admin, pg_body, unique_table

ENGINES = {"postgresql": pg_body, "mysql": mysql_body}


def create(account, body):
    r = account.post("/api/connections/", body)
    assert r.status_code == 201, r.text
    return r.json()


def run_test(account, connection_id):
    r = account.post(f"/api/connections/{connection_id}/test")
    assert r.status_code == 200, r.text
    return r.json()


def make_source_table(engine):
    name = unique_table("orders")
    if engine == "postgresql":
        pg_admin(f"""CREATE TABLE {name} (id bigint PRIMARY KEY, customer text NOT NULL, amount numeric(12,2),
                     placed_at timestamptz, paid boolean);
                     INSERT INTO {name} SELECT g, 'c' || g, g * 1.5, now(), g % 2 = 0 FROM generate_series(1, 40) g;
                     ANALYZE {name};
                     GRANT SELECT ON {name} TO {ENV['ASSAY_SOURCE_PG_USER']};""")
    else:
        mysql_admin(f"""CREATE TABLE {name} (id bigint PRIMARY KEY, customer varchar(50) NOT NULL, amount decimal(12,2),
                        placed_at datetime, paid tinyint(1));
                        INSERT INTO {name} VALUES (1, 'c1', 1.50, NOW(), 0), (2, 'c2', 3.00, NOW(), 1);
                        ANALYZE TABLE {name};""")
    return name


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_create_test_schema_update_delete(engine):
    account = register()
    body = ENGINES[engine]()
    created = create(account, body)
    assert created["database_type"] == engine and created["name"] == body["name"]
    assert created["credentials"]["host"] == "127.0.0.1" and created["credentials"]["password"] == "********"
    assert created["credentials"]["port"] == body["credentials"]["port"]
    result = run_test(account, created["id"])
    assert result["ok"] is True, result
    assert ("PostgreSQL" if engine == "postgresql" else "MariaDB") in result["server_version"]
    assert 0 <= result["latency_ms"] < 5000
    table = make_source_table(engine)
    schema = account.get(f"/api/connections/{created['id']}/schema")
    assert schema.status_code == 200, schema.text
    tables = {(s["name"], t["name"]): t for s in schema.json()["schemas"] for t in s["tables"]}
    key = ("public" if engine == "postgresql" else ENV["ASSAY_MYSQL_DATABASE"], table)
    assert key in tables, sorted(tables)
    columns = {c["name"]: c for c in tables[key]["columns"]}
    assert list(columns) == ["id", "customer", "amount", "placed_at", "paid"]
    assert columns["id"]["primary_key"] and not columns["customer"]["primary_key"]
    assert columns["customer"]["nullable"] is False and columns["amount"]["nullable"] is True
    assert columns["amount"]["type"] in ("numeric(12,2)", "decimal(12,2)")
    assert columns["paid"]["type"] in ("boolean", "tinyint(1)")
    assert tables[key]["row_estimate"] in ((40,) if engine == "postgresql" else (2,))
    # Update: name and database change; the password stays unless given.
    r = account.put(f"/api/connections/{created['id']}", {"name": "Renamed", "sync_frequency": "hourly"})
    assert r.status_code == 200 and r.json()["name"] == "Renamed" and r.json()["sync_frequency"] == "hourly", r.text
    assert run_test(account, created["id"])["ok"] is True
    got = account.get(f"/api/connections/{created['id']}").json()
    assert got["last_test"]["ok"] is True and got["credentials"]["password"] == "********"
    assert [c["id"] for c in account.get("/api/connections").json()["items"]] == [created["id"]]
    assert account.delete(f"/api/connections/{created['id']}").json() == {"id": created["id"], "status": "deleted"}
    assert_envelope(account.get(f"/api/connections/{created['id']}"), 404, "not_found")
    assert account.get("/api/connections/").json()["items"] == []
    # Soft: the row is still there, marked deleted.
    assert psql("SELECT deleted_at IS NOT NULL FROM connections WHERE id = :'id';", id=created["id"]) == "t"


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
@pytest.mark.parametrize("credentials,code", [
    ({"password": "wrong-password"}, "authentication_failed"),
    ({"port": 1}, "host_unreachable"),
    ({"database": "no_such_database_here"}, "database_missing"),
    ({"host": "no-such-host.invalid"}, "host_unreachable"),
])
def test_failures_are_reported_with_their_reason(engine, credentials, code):
    account = register()
    created = create(account, ENGINES[engine](credentials=credentials))
    started = time.time()
    result = run_test(account, created["id"])
    assert result["ok"] is False and result["error"]["code"] == code, result
    assert time.time() - started < 15
    assert "wrong-password" not in result["error"]["message"]
    got = account.get(f"/api/connections/{created['id']}").json()
    assert got["last_test"]["ok"] is False
    if code != "host_unreachable" or credentials.get("port"):
        r = account.get(f"/api/connections/{created['id']}/schema")
        assert_envelope(r, 422, code)


def test_password_is_encrypted_and_never_returned(pool):
    account = register()
    secret = ENV["ASSAY_SOURCE_PG_PASSWORD"]
    created = create(account, pg_body())
    stored = psql("SELECT encode(secret_ciphertext, 'hex') || ' ' || key_id FROM connections WHERE id = :'id';",
                  id=created["id"])
    ciphertext, key_id = stored.split()
    assert secret.encode().hex() not in ciphertext and len(key_id) == 12
    assert psql("SELECT count(*) FROM connections WHERE strpos(row_to_json(connections)::text, :'s') > 0;", s=secret) == "0"
    for response in (account.get(f"/api/connections/{created['id']}"), account.get("/api/connections"),
                     account.put(f"/api/connections/{created['id']}", {"description": "x"}),
                     account.post(f"/api/connections/{created['id']}/test")):
        assert secret not in response.text
    assert secret not in pool.log.read_text(errors="replace")
    assert psql("SELECT count(*) FROM audit_logs WHERE strpos(detail::text, :'s') > 0;", s=secret) == "0"
    # A changed password is re-encrypted (a new nonce) and works.
    account.put(f"/api/connections/{created['id']}", {"credentials": {"password": "wrong"}})
    assert run_test(account, created["id"])["error"]["code"] == "authentication_failed"
    account.put(f"/api/connections/{created['id']}", {"credentials": {"password": secret}})
    assert run_test(account, created["id"])["ok"] is True
    after = psql("SELECT encode(secret_ciphertext, 'hex') FROM connections WHERE id = :'id';", id=created["id"])
    assert after != ciphertext


@pytest.mark.parametrize("host", ["/var/run/postgresql", "@abstract", "127.0.0.1,10.0.0.1", ""])
def test_socket_and_odd_hosts_are_refused_at_create(host):
    account = register()
    assert_invalid(account.post("/api/connections", pg_body(credentials={"host": host})), "credentials.host")


@pytest.mark.parametrize("body,names", [
    ({}, ["name", "database_type", "credentials"]),
    ({"name": "x", "database_type": "oracle", "credentials": {}}, ["database_type", "credentials.host",
                                                                  "credentials.database", "credentials.username",
                                                                  "credentials.password"]),
    ({"name": "x", "database_type": "mysql", "credentials": {"host": "h", "port": 70000, "database": "d",
                                                              "username": "u", "password": "p"}}, ["credentials.port"]),
    ({"name": "x", "database_type": "mysql", "credentials": "h:1"}, ["credentials"]),
    ({"name": "x", "database_type": "mysql", "sync_frequency": "yearly", "ssl": {"mode": "maybe"},
      "credentials": {"host": "h", "database": "d", "username": "u", "password": "p"}}, ["sync_frequency", "ssl.mode"]),
])
def test_invalid_bodies_name_every_bad_field(body, names):
    assert_invalid(register().post("/api/connections", body), *names)


def test_deny_list_and_timeouts(pool):
    # A listener that accepts TCP but never speaks: the connect timeout must bound the test.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    port = silent.getsockname()[1]
    pool.restart(ASSAY_CONNECTION_DENY="127.0.0.2/32,169.254.0.0/16", ASSAY_SOURCE_CONNECT_TIMEOUT=2)
    try:
        account = register()
        for factory in ENGINES.values():
            denied = create(account, factory(credentials={"host": "127.0.0.2"}))
            result = run_test(account, denied["id"])
            assert result["ok"] is False and result["error"]["code"] == "host_not_allowed", result
            assert_envelope(account.get(f"/api/connections/{denied['id']}/schema"), 422, "host_not_allowed")
            metadata = create(account, factory(credentials={"host": "169.254.169.254"}))
            assert run_test(account, metadata["id"])["error"]["code"] == "host_not_allowed"
            stuck = create(account, factory(credentials={"port": port}))
            started = time.time()
            result = run_test(account, stuck["id"])
            assert result["ok"] is False and result["error"]["code"] in ("timeout", "connection_failed"), result
            assert time.time() - started < 8
    finally:
        silent.close()
        pool.restart()


SPELLINGS_OF_LOOPBACK = ["::ffff:127.0.0.1", "::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:1", "0.0.0.0", "::", "::127.0.0.1",
                         "localhost"]
SPELLINGS_OF_METADATA = ["::ffff:169.254.169.254", "::ffff:a9fe:a9fe"]


def test_no_spelling_of_a_denied_address_reaches_it(pool):
    """A deny rule for an IPv4 range holds for the same address written as IPv4-mapped or
    -compatible IPv6 and for the unspecified addresses, which connect to this machine."""
    pool.restart(ASSAY_CONNECTION_DENY="127.0.0.1/32,169.254.0.0/16", ASSAY_SOURCE_CONNECT_TIMEOUT=2)
    try:
        account = register()
        refused = 0
        for host in SPELLINGS_OF_LOOPBACK + SPELLINGS_OF_METADATA:
            connection = create(account, pg_body(credentials={"host": host}))
            result = run_test(account, connection["id"])
            assert result["ok"] is False and result["error"]["code"] == "host_not_allowed", (host, result)
            assert_envelope(account.get(f"/api/connections/{connection['id']}/schema"), 422, "host_not_allowed")
            refused += 1
        assert refused == len(SPELLINGS_OF_LOOPBACK + SPELLINGS_OF_METADATA)
    finally:
        pool.restart()
    # Without the rule the same spelling reaches the source: the refusal above was the rule's.
    account = register()
    connection = create(account, pg_body(credentials={"host": "::ffff:127.0.0.1"}))
    assert run_test(account, connection["id"])["ok"] is True


def test_connections_are_private_and_role_checked():
    owner, viewer = team_with_member("viewer")
    created = create(owner, pg_body())
    stranger = register()
    for method, path in [("GET", f"/api/connections/{created['id']}"), ("PUT", f"/api/connections/{created['id']}"),
                         ("DELETE", f"/api/connections/{created['id']}"),
                         ("POST", f"/api/connections/{created['id']}/test"),
                         ("GET", f"/api/connections/{created['id']}/schema")]:
        kwargs = {"json": {"name": "x"}} if method == "PUT" else {}
        assert_envelope(stranger.request(method, path, **kwargs), 404, "not_found")
    assert stranger.get("/api/connections").json()["items"] == []
    assert viewer.get(f"/api/connections/{created['id']}").status_code == 200
    assert_envelope(viewer.post("/api/connections", pg_body()), 403, "forbidden")
    assert_envelope(viewer.delete(f"/api/connections/{created['id']}"), 403, "forbidden")
    key = create_key(owner, ["documents:read"])["key"]
    assert_envelope(call(client(), "GET", "/api/connections", api_key=key), 403, "missing_scope")
    assert_envelope(owner.get("/api/connections/not-a-uuid"), 404)
    assert call(client(), "GET", "/api/connections").status_code == 401


def test_tls_with_the_servers_certificate():
    """Both source servers present the instance's self-signed certificate (for 127.0.0.1)."""
    with open(ENV["ASSAY_TLS_CERT"]) as f:
        ca = f.read()
    account = register()
    for factory in ENGINES.values():
        strict = create(account, factory(ssl={"mode": "verify-full", "ca_certificate": ca}))
        result = run_test(account, strict["id"])
        assert result["ok"] is True, result
        assert strict["ssl"] == {"mode": "verify-full", "ca_certificate": "(set)"}
    # A CA that did not sign the server's certificate fails as a TLS problem.
    other = create(account, pg_body(ssl={"mode": "verify-full", "ca_certificate": other_ca()}))
    result = run_test(account, other["id"])
    assert result["ok"] is False and result["error"]["code"] == "tls_failed", result
    assert_invalid(account.post("/api/connections", pg_body(ssl={"mode": "require", "ca_certificate": "nope"})),
                   "ssl.ca_certificate")


def other_ca():
    """A real CA certificate that signed nothing the servers present."""
    import subprocess
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                          "-nodes", "-subj", "/CN=other-ca", "-days", "1", "-keyout", "/dev/null", "-out", "-"],
                         capture_output=True, text=True, check=True)
    return out.stdout
