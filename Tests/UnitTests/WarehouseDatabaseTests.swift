import Data
import Foundation
import XCTest

/// Warehouse writes against a real PostgreSQL (`ASSAY_TEST_DATABASE_URL`, as `DatabaseTests`;
/// skipped without it): COPY text reads values as typed parameters do, and every statement
/// of an ETL load runs.
final class WarehouseDatabaseTests: XCTestCase {
    private var db: Database!
    private var tableName: String!

    override func setUpWithError() throws {
        let url = try testDatabaseURL()
        db = Database(url: url)
        tableName = "dbtest_" + UUID().uuidString.prefix(8).lowercased()
    }

    override func tearDownWithError() throws {
        guard let db, let name = tableName else { return }
        for table in [name, name + "__load", name + "__keys"] {
            _ = try? db.query("DROP TABLE IF EXISTS \(identifier: table)")
            _ = try? db.query("DROP TABLE IF EXISTS \(identifier: WarehouseRepository.schema).\(identifier: table)")
        }
    }

    /// Document tables used to be written with `$n::type` parameters; COPY must store the same.
    func testCopyTextStoresWhatTypedParametersStore() throws {
        let name = tableName!
        try db.query("""
            CREATE TABLE \(identifier: name) (via text, i integer, n bigint, d numeric, day date, flag boolean, note text)
            """)
        let rows: [[String?]] = [
            ["9223372036854775807", "-1234.50", "2024-02-29", "true", "tab\there, back\\slash \\N,\nnew line\r"],
            [nil, "0.001", "1999-12-31", "false", nil],
            ["-3", "1000000000000000000000.25", "2024-01-15", nil, "ünïcödé 'quoted' \"double\""],
        ]
        for (index, row) in rows.enumerated() {
            try db.query("""
                INSERT INTO \(identifier: name) (via, i, n, d, day, flag, note)
                VALUES ('bind', \(index), \(row[0])::bigint, \(row[1])::numeric, \(row[2])::date, \(row[3])::boolean,
                        \(row[4])::text)
                """)
        }
        try db.copyIn("COPY \(identifier: name) (via, i, n, d, day, flag, note) FROM STDIN") { write in
            var bytes: [UInt8] = []
            for (index, row) in rows.enumerated() { CopyText.encodeRow((["copy", String(index)] as [String?]) + row, into: &bytes) }
            try bytes.withUnsafeBytes(write)
        }
        func stored(_ via: String) throws -> [[String?]] {
            try db.query("""
                SELECT n::text AS n, d::text AS d, day::text AS day, flag::text AS flag, note
                FROM \(identifier: name) WHERE via = \(via) ORDER BY i
                """).map { row in try ["n", "d", "day", "flag", "note"].map { try row.decode($0, as: String?.self) } }
        }
        let bound = try stored("bind")
        XCTAssertEqual(bound.count, 3)
        XCTAssertEqual(try stored("copy"), bound)
        XCTAssertEqual(bound[0][4], rows[0][4])
    }

    func testAnETLLoadRunsEveryStatement() throws {
        let name = tableName!
        try requireWarehouseSchema()
        let load = WarehouseLoadRepository(db, table: name)
        let columns = [WarehouseColumnDefinition(name: "id", sqlType: "integer"),
                       WarehouseColumnDefinition(name: "name", sqlType: "text"),
                       WarehouseColumnDefinition(name: "at", sqlType: "timestamp with time zone")]
        XCTAssertFalse(try load.tableExists())

        // A first load: the staging table becomes the table.
        try load.dropStaging()
        try load.createStaging(columns: columns, unlogged: false)
        try load.copyIntoStaging(columns: ["id", "name", "at"],
                                 feed: copy("1\tone\t2026-01-02 03:04:05.000006+00\n2\ttwo\t2026-01-01 00:00:00+00\n"))
        XCTAssertEqual(try load.stagingMaximum(of: "at", sqlType: "timestamp with time zone"), "2026-01-02 03:04:05.000006")
        XCTAssertEqual(try load.stagingMaximum(of: "id", sqlType: "integer"), "2")
        try load.addStagingPrimaryKey(["id"])
        try db.transaction { db in
            let load = WarehouseLoadRepository(db, table: name)
            try load.replaceWithStaging()
            try load.comment("Assay ETL: it's loaded")
        }
        XCTAssertTrue(try load.tableExists())
        XCTAssertEqual(try load.rowCount(), 2)
        let comment = try db.query("""
            SELECT obj_description(to_regclass(\(WarehouseRepository.schema + ".\"" + name + "\"")), 'pg_class') AS c
            """)[0].decode("c", as: String.self)
        XCTAssertEqual(comment, "Assay ETL: it's loaded")

        // An incremental, deduplicated load: id 2 changes (its newest row wins), 3 is new, 1 is gone.
        try load.dropStaging()
        try load.createStaging(columns: columns + [WarehouseColumnDefinition(name: "extra", sqlType: "numeric")], unlogged: true)
        try load.copyIntoStaging(columns: ["id", "name", "at", "extra"], feed: copy("""
            2\told two\t2026-02-01 00:00:00+00\t\\N
            2\tnew two\t2026-02-02 00:00:00+00\t1.5
            3\tthree\t2026-02-01 00:00:00+00\t\\N

            """))
        XCTAssertEqual(try load.stagingMaximum(of: "extra", sqlType: "numeric"), "1.5")
        try load.dropKeyTable()
        try load.createKeyTable(columns: [columns[0]])
        try load.copyIntoKeyTable(feed: copy("2\n3\n"))
        let deleted = try db.transaction { db -> Int64 in
            let load = WarehouseLoadRepository(db, table: name)
            try load.addColumn(WarehouseColumnDefinition(name: "extra", sqlType: "numeric"))
            try load.mergeStaging(columns: ["id", "name", "at", "extra"], key: ["id"], newestFirstBy: "at")
            let deleted = try load.deleteRowsMissingFromKeyTable(key: ["id"])
            try load.dropKeyTable()
            try load.dropStaging()
            try load.comment("again")
            return deleted
        }
        XCTAssertEqual(deleted, 1)
        let merged = try db.query("""
            SELECT id, name, extra::text AS extra FROM \(identifier: WarehouseRepository.schema).\(identifier: name) ORDER BY id
            """).map { try "\($0.decode("id", as: Int.self)) \($0.decode("name", as: String.self)) \($0.decode("extra", as: String?.self) ?? "-")" }
        XCTAssertEqual(merged, ["2 new two 1.5", "3 three -"])

        // An incremental append adds the staging rows as they are.
        try load.dropStaging()
        try load.createStaging(columns: [columns[0], columns[1]], unlogged: true)
        try load.copyIntoStaging(columns: ["id", "name"], feed: copy("4\tfour\n"))
        try load.appendStaging(columns: ["id", "name"])
        try load.dropStaging()
        XCTAssertEqual(try load.rowCount(), 3)
        XCTAssertEqual(try db.query("SELECT to_regclass(\(WarehouseRepository.schema + ".\"" + name + "__load\""))::text AS t")[0]
            .decode("t", as: String?.self), nil)
    }

    /// A keyless source's table is numbered by `_assay_row` as COPY fills it, and a source key
    /// the rows repeat falls back to the same surrogate; either way the table has a primary key.
    func testKeylessAndRepeatedKeyLoadsGetTheSurrogateKey() throws {
        let name = tableName!
        try requireWarehouseSchema()
        let load = WarehouseLoadRepository(db, table: name)
        let columns = [WarehouseColumnDefinition(name: "id", sqlType: "integer"), WarehouseColumnDefinition(name: "name", sqlType: "text")]
        func primaryKey() throws -> [String] {
            try db.query("""
                SELECT a.attname::text AS name FROM pg_index i
                CROSS JOIN LATERAL generate_series(0, i.indnkeyatts - 1) s(pos)
                JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[s.pos]
                WHERE i.indrelid = to_regclass(\(WarehouseRepository.schema + ".\"" + name + "\"")) AND i.indisprimary ORDER BY s.pos
                """).map { try $0.decode("name") }
        }
        func numbered() throws -> [String] {
            try db.query("""
                SELECT _assay_row::text || ':' || name AS v FROM \(identifier: WarehouseRepository.schema).\(identifier: name) ORDER BY _assay_row
                """).map { try $0.decode("v") }
        }

        // No key: numbered while copied.
        try load.dropStaging()
        try load.createStaging(columns: columns, unlogged: false, surrogateKey: true)
        try load.copyIntoStaging(columns: ["id", "name"], feed: copy("7\tseven\n7\tseven again\n\\N\tnone\n"))
        try load.addStagingPrimaryKey([WarehouseLoadRepository.surrogateKey])
        try db.transaction { db in try WarehouseLoadRepository(db, table: name).replaceWithStaging() }
        XCTAssertEqual(try primaryKey(), ["_assay_row"])
        XCTAssertEqual(try numbered(), ["1:seven", "2:seven again", "3:none"])

        // A key the rows repeat: the primary key fails, the surrogate is added after the copy.
        try load.dropStaging()
        try load.createStaging(columns: columns, unlogged: false)
        try load.copyIntoStaging(columns: ["id", "name"], feed: copy("1\ta\n1\tb\n"))
        XCTAssertThrowsError(try load.addStagingPrimaryKey(["id"]))
        try load.addStagingSurrogateKey()
        try db.transaction { db in try WarehouseLoadRepository(db, table: name).replaceWithStaging() }
        XCTAssertEqual(try primaryKey(), ["_assay_row"])
        XCTAssertEqual(try numbered().count, 2)
        // Appends are numbered on.
        try load.createStaging(columns: columns, unlogged: true)
        try load.copyIntoStaging(columns: ["id", "name"], feed: copy("2\tc\n"))
        try load.appendStaging(columns: ["id", "name"])
        try load.dropStaging()
        XCTAssertEqual(try numbered().last, "3:c")
    }

    private func requireWarehouseSchema() throws {
        let present = try db.query("SELECT to_regnamespace(\(WarehouseRepository.schema))::text AS s").first
            .flatMap { try $0.decode("s", as: String?.self) } != nil
        guard present else { throw XCTSkip("the database has no warehouse schema (not migrated)") }
    }

    /// COPY text fed to a load at once.
    private func copy(_ text: String) -> ((UnsafeRawBufferPointer) throws -> Void) throws -> Void {
        { write in try Array(text.utf8).withUnsafeBytes(write) }
    }
}
