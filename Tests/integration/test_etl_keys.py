"""ETL'd tables carry a key and its index (the source's primary key, else a unique key on
NOT NULL columns, else a surrogate `_assay_row`), checked in pg_catalog; the rows endpoint
walks them by keyset cursor, page by page, exactly as the source holds them, also after a
re-sync; its per-worker page cache forgets a table a sync changed; bad cursors are 422s."""
import os
import re
import urllib.parse

import pytest

from access_helpers import assert_invalid, psql, register
from conftest import assert_envelope
from sources_helpers import mysql_admin, mysql_body, pg_admin, pg_body, unique_table

ENGINES = {"postgresql": (pg_body, pg_admin), "mysql": (mysql_body, mysql_admin)}
MIGRATION = os.path.join(os.path.dirname(__file__), "..", "..", "Sources", "Data", "Migrations", "0022_etl_table_keys.sql")


def connect(account, engine):
    r = account.post("/api/connections", ENGINES[engine][0]())
    assert r.status_code == 201, r.text
    return r.json()["id"]


def sync(account, connection, tables):
    from test_etl import run
    result = run(account, connection, {"tables": [{"name": t, "sync_mode": "full_refresh"} for t in tables]}, timeout=120)
    assert result["status"] == "succeeded", result
    return {outcome["table"].split(".")[-1]: outcome["warehouse_table"] for outcome in result["tables"]}


def table_id(account, warehouse_table):
    listed = account.get("/api/warehouse/tables?source=connection&limit=100").json()["items"]
    [table] = [t for t in listed if t["name"] == warehouse_table]
    return table["id"]


def primary_key(warehouse_table):
    """The warehouse table's primary key columns in key order, from pg_index."""
    return psql("""
        SELECT string_agg(a.attname, ',' ORDER BY s.pos) FROM pg_index i
        CROSS JOIN LATERAL generate_series(0, i.indnkeyatts - 1) s(pos)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[s.pos]
        WHERE i.indrelid = to_regclass(:'t') AND i.indisprimary AND i.indisunique AND i.indisvalid;""",
                t=f'warehouse."{warehouse_table}"')


def walk(account, tid, limit):
    """Every row by following next_cursor; and how many pages it took."""
    rows, cursor, pages = [], None, 0
    while True:
        url = f"/api/tables/{tid}/rows?limit={limit}" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        r = account.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["rows"]) <= limit
        rows += body["rows"]
        pages += 1
        if cursor:
            assert body["offset"] is None and body["next_offset"] is None, body
        cursor = body["next_cursor"]
        if cursor is None:
            return rows, pages
        assert len(body["rows"]) == limit


def make_keyed_tables(engine):
    """A table with a primary key, one with only unique keys (one NULL-able), one with none."""
    admin = ENGINES[engine][1]
    pk, uk, none = unique_table("pk"), unique_table("uk"), unique_table("nokey")
    if engine == "postgresql":
        admin(f"""
            CREATE TABLE {pk} (name text, id integer, region text, PRIMARY KEY (region, id));
            CREATE TABLE {uk} (email text UNIQUE, code varchar(20) NOT NULL, note text, CONSTRAINT {uk}_code UNIQUE (code));
            CREATE TABLE {none} (n integer, note text);
            INSERT INTO {pk} SELECT 'name ' || g, g / 5, 'r' || (g % 5) FROM generate_series(1, 2500) g;
            INSERT INTO {uk} SELECT NULL, 'c' || lpad(g::text, 5, '0'), 'note ' || g FROM generate_series(1, 300) g;
            INSERT INTO {none} SELECT g % 7, 'same' FROM generate_series(1, 50) g;
            """)
    else:
        admin(f"""
            CREATE TABLE {pk} (name varchar(40), id int, region varchar(8), PRIMARY KEY (region, id));
            CREATE TABLE {uk} (email varchar(40) UNIQUE, code varchar(20) NOT NULL UNIQUE, note text);
            CREATE TABLE {none} (n int, note text);
            INSERT INTO {pk} SELECT CONCAT('name ', seq), seq DIV 5, CONCAT('r', seq MOD 5) FROM seq_1_to_2500;
            INSERT INTO {uk} SELECT NULL, CONCAT('c', LPAD(seq, 5, '0')), CONCAT('note ', seq) FROM seq_1_to_300;
            INSERT INTO {none} SELECT seq MOD 7, 'same' FROM seq_1_to_50;
            """)
    return pk, uk, none


def source_rows(engine, table):
    """The PK table's rows in key order, as `region|id|name`."""
    if engine == "postgresql":
        return pg_admin(f"SELECT region || '|' || id || '|' || name FROM {table} ORDER BY region, id").splitlines()
    return mysql_admin(f"SELECT CONCAT(region, '|', id, '|', name) FROM {table} ORDER BY region, id").splitlines()


def as_text(rows):
    return [f"{r['region']}|{r['id']}|{r['name']}" for r in rows]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_etl_tables_get_the_source_key_a_unique_key_or_a_surrogate_with_its_index(engine):
    account = register()
    connection = connect(account, engine)
    pk, uk, none = make_keyed_tables(engine)
    warehouse = sync(account, connection, [pk, uk, none])
    # The source's primary key in its order; the unique key on NOT NULL columns (not the NULL-able
    # one); for a keyless table the surrogate, numbering the rows.
    assert primary_key(warehouse[pk]) == "region,id"
    assert primary_key(warehouse[uk]) == "code"
    assert primary_key(warehouse[none]) == "_assay_row"
    assert psql("SELECT min(_assay_row) || '-' || max(_assay_row) || '-' || count(DISTINCT _assay_row) FROM warehouse."
                f'"{warehouse[none]}";') == "1-50-50"
    sources = psql("SELECT string_agg(key_source || ':' || array_to_string(primary_key, ','), ' ' ORDER BY source_table) "
                   "FROM etl_tables WHERE connection_id = :'c';", c=connection)
    assert sorted(sources.split()) == sorted(["primary_key:region,id", "unique:code", "surrogate:_assay_row"])
    for name, key, source in [(pk, ["region", "id"], "primary_key"), (uk, ["code"], "unique"), (none, [], "surrogate")]:
        body = account.get(f"/api/tables/{table_id(account, warehouse[name])}/rows?limit=3").json()
        assert body["table"]["key"] == {"columns": key, "source": source}, body["table"]
        # The surrogate is Assay's: never a column users see, in rows or in the table's columns.
        assert all("_assay_row" not in row for row in body["rows"]), body["rows"]
        assert "_assay_row" not in [c["name"] for c in body["table"]["columns"]]
    exported = account.post(f"/api/export/table/{table_id(account, warehouse[none])}", {"format": "csv"})
    assert exported.status_code == 200 and "_assay_row" not in exported.text.splitlines()[0], exported.text[:200]


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_keyset_pages_walk_the_table_exactly_as_the_source_holds_it_also_after_a_resync(engine):
    account = register()
    connection = connect(account, engine)
    pk, uk, none = make_keyed_tables(engine)
    warehouse = sync(account, connection, [pk, none])
    tid = table_id(account, warehouse[pk])
    rows, pages = walk(account, tid, 97)
    assert pages == 26  # 2,500 rows, 97 a page
    assert as_text(rows) == source_rows(engine, pk)
    # The keyless table walks by its surrogate: every row once.
    kept, _ = walk(account, table_id(account, warehouse[none]), 7)
    assert sorted((r["n"], r["note"]) for r in kept) == sorted(((g % 7), "same") for g in range(1, 51))

    # The deep page is an index range scan, not a scan and a sort.
    plan = psql(f'EXPLAIN SELECT * FROM warehouse."{warehouse[pk]}" WHERE (region, id) > (\'r0\', 3) '
                'ORDER BY region, id LIMIT 101;')
    assert "Index Scan" in plan and "Sort" not in plan, plan

    # Pages served (and cached by the workers) before the source changes.
    first = account.get(f"/api/tables/{tid}/rows?limit=50").json()
    old_cursor = first["next_cursor"]
    for _ in range(8):
        assert account.get(f"/api/tables/{tid}/rows?limit=50").json()["rows"] == first["rows"]
    admin = ENGINES[engine][1]
    admin(f"UPDATE {pk} SET name = 'renamed' WHERE region = 'r0' AND id = 1")
    admin(f"DELETE FROM {pk} WHERE region = 'r3'")
    if engine == "postgresql":
        admin(f"INSERT INTO {pk} SELECT 'late ' || g, g, 'r9' FROM generate_series(1, 130) g")
    else:
        admin(f"INSERT INTO {pk} SELECT CONCAT('late ', seq), seq, 'r9' FROM seq_1_to_130")
    sync(account, connection, [pk])
    # Every worker forgot the table: each of several requests sees the new rows.
    for _ in range(8):
        again = account.get(f"/api/tables/{tid}/rows?limit=50").json()
        assert again["total"] == 2500 - 500 + 130
        assert {"region": "r0", "id": 1, "name": "renamed"} in again["rows"], again["rows"][:3]
    rows, _ = walk(account, tid, 97)
    assert as_text(rows) == source_rows(engine, pk)
    # A cursor from before the re-sync still means "after that key".
    after = account.get(f"/api/tables/{tid}/rows?limit=5&cursor={urllib.parse.quote(old_cursor)}").json()
    position = as_text(rows).index(as_text(first["rows"])[-1])
    assert as_text(after["rows"]) == as_text(rows)[position + 1:position + 6]


def test_offsets_still_page_and_agree_with_cursors():
    account = register()
    connection = connect(account, "postgresql")
    pk, _, _ = make_keyed_tables("postgresql")
    tid = table_id(account, sync(account, connection, [pk])[pk])
    by_cursor, _ = walk(account, tid, 400)
    by_offset, offset = [], 0
    while offset is not None:
        body = account.get(f"/api/tables/{tid}/rows?limit=400&offset={offset}").json()
        assert body["offset"] == offset
        by_offset += body["rows"]
        offset = body["next_offset"]
    assert by_offset == by_cursor and len(by_offset) == 2500


def test_cursor_errors_are_422s_not_500s():
    account = register()
    connection = connect(account, "postgresql")
    pk, uk, _ = make_keyed_tables("postgresql")
    warehouse = sync(account, connection, [pk, uk])
    tid, other = table_id(account, warehouse[pk]), table_id(account, warehouse[uk])
    path = f"/api/tables/{tid}/rows"
    for garbage in ["garbage", "v1.", "v1.zzzzzzzz.WyIxIl0", "v1." + tid[:8] + ".!!", "v1." + tid[:8] + ".e30", "x" * 3000]:
        assert_invalid(account.get(f"{path}?cursor={garbage}"), "cursor")
    bytes_garbage = account.get(f"{path}?cursor=%00%ff%fe")
    assert bytes_garbage.status_code in (400, 422)
    assert_envelope(bytes_garbage, bytes_garbage.status_code)
    good = account.get(f"{path}?limit=2").json()["next_cursor"]
    assert_invalid(account.get(f"{path}?cursor={good}&offset=2"), "offset")
    # Another table's cursor.
    other_cursor = account.get(f"/api/tables/{other}/rows?limit=2").json()["next_cursor"]
    assert_invalid(account.get(f"{path}?cursor={other_cursor}"), "cursor")
    # The right table, but values its key does not read, or too few of them (a hand-edited token).
    import base64
    import json

    def forged(values):
        text = base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")
        return f"v1.{tid[:8]}.{text}"
    assert_invalid(account.get(f"{path}?cursor={forged(['r0', 'not a number'])}"), "cursor")
    assert_invalid(account.get(f"{path}?cursor={forged(['r0'])}"), "cursor")
    assert account.get(f"{path}?cursor={forged(['r4', '499'])}").json()["rows"] == []
    # A stranger's cursor reveals nothing: the table is not theirs.
    assert_envelope(register().get(f"{path}?cursor={good}"), 404)


def test_the_migration_gives_tables_loaded_before_keys_a_key():
    account = register()
    connection = connect(account, "postgresql")
    pk, _, none = make_keyed_tables("postgresql")
    warehouse = sync(account, connection, [pk, none])
    # As loaded before keys were kept: no primary key, no surrogate, key_source 'none'.
    constraint = psql("SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:'t') AND contype = 'p';",
                      t=f'warehouse."{warehouse[pk]}"')
    psql(f"""
        ALTER TABLE warehouse."{warehouse[pk]}" DROP CONSTRAINT "{constraint}";
        ALTER TABLE warehouse."{warehouse[none]}" DROP COLUMN _assay_row;
        UPDATE etl_tables SET key_source = 'none', primary_key = '{{}}' WHERE warehouse_table = '{warehouse[none]}';
        UPDATE etl_tables SET key_source = 'none' WHERE warehouse_table = '{warehouse[pk]}';
        """)
    assert primary_key(warehouse[pk]) == "" and primary_key(warehouse[none]) == ""
    with open(MIGRATION) as f:
        block = f.read()
    psql(block[block.index("DO $$"):])
    assert primary_key(warehouse[pk]) == "region,id"
    assert primary_key(warehouse[none]) == "_assay_row"
    assert psql("SELECT string_agg(key_source, ',' ORDER BY key_source) FROM etl_tables WHERE connection_id = :'c';",
                c=connection) == "primary_key,surrogate"
    rows, _ = walk(account, table_id(account, warehouse[pk]), 500)
    assert as_text(rows) == source_rows("postgresql", pk)
