"""NUL characters: PostgreSQL text cannot hold them and C strings end at them, so every text
value that carries one (JSON strings and member names, multipart text parts, query
parameters) is refused with a 422 naming the field, before anything is saved or counted."""
from access_helpers import assert_invalid, call, client, psql, register, register_response
from conftest import assert_envelope
from sources_helpers import pg_body

NUL = "\u0000"


def test_a_nul_in_a_saved_name_is_refused_not_cut_off():
    r, sent = register_response(client(), full_name=f"Alice{NUL}Evil")
    assert_invalid(r, "full_name")
    assert psql("SELECT count(*) FROM users WHERE email = :'email';", email=sent["email"]) == "0"
    account = register()
    assert_invalid(account.put("/api/auth/me", {"full_name": f"Alice{NUL}Evil"}), "full_name")
    assert account.get("/api/auth/me").json()["user"]["full_name"] != "Alice"


def test_a_nul_deep_inside_a_body_names_its_path():
    account = register()
    table = {"id": "nul", "name": "NUL", "fields": [
        {"field_id": "amount", "name": "Amount", "field_type": "currency", "synonyms": ["total", f"sum{NUL}"]}]}
    r = account.post("/api/documents/tables", table)
    assert_invalid(r, "fields[0].synonyms[1]")
    assert "NUL" in r.json()["error"]["fields"]["fields[0].synonyms[1]"]
    assert_invalid(account.post("/api/documents/extract", {"table": table, "document_id": "x"}), "table.fields[0].synonyms[1]")
    assert_invalid(account.post("/api/documents/tables", {f"na{NUL}me": "x"}), f"na{NUL}me")


def test_a_nul_in_an_etl_table_list_is_a_422_not_a_500():
    account = register()
    connection = account.post("/api/connections/", pg_body()).json()
    assert_invalid(account.post(f"/api/etl/jobs/run/{connection['id']}", {"tables": [f"orders{NUL}"]}), "tables[0]")


def test_a_nul_suffixed_email_does_not_log_in_and_is_not_counted():
    account = register()
    r = call(client(), "POST", "/api/auth/login", json={"email": account.email + NUL, "password": account.password})
    assert_invalid(r, "email")
    assert "access_token" not in r.text
    # The refusal is not a failed attempt: the right login still works at once.
    ok = call(client(), "POST", "/api/auth/login", json={"email": account.email, "password": account.password})
    assert ok.status_code == 200, ok.text


def test_a_nul_in_a_multipart_text_part_or_a_query_parameter_is_refused():
    account = register()
    r = call(client(), "POST", "/api/documents/extract", token=account.access,
             files={"table_id": (None, f"invoice{NUL}"), "document_id": (None, "00000000-0000-0000-0000-000000000000")})
    assert_invalid(r, "table_id")
    r = call(client(), "GET", "/api/documents?status=done%00", token=account.access)
    assert_envelope(r, 422, "validation_failed")
    assert "status" in r.json()["error"]["fields"]
