import XCTest
import Data

final class SQLTests: XCTestCase {
    func testInterpolatedValuesBecomeBindsNeverText() {
        let email = "x'; DROP TABLE users; --"
        let limit = 5
        let sql: SQL = "SELECT * FROM users WHERE email = \(email) AND age > \(limit)"
        XCTAssertEqual(sql.text, "SELECT * FROM users WHERE email = $1 AND age > $2")
        XCTAssertEqual(sql.binds, [email, "5"])
        XCTAssertFalse(sql.text.contains("DROP"))
    }

    func testNilBindsNull() {
        let missing: String? = nil
        let sql: SQL = "UPDATE t SET a = \(missing)"
        XCTAssertEqual(sql.text, "UPDATE t SET a = $1")
        XCTAssertEqual(sql.binds, [nil])
    }

    func testFragmentsAreRenumbered() {
        let filter: SQL = "status = \("done") AND owner = \(7)"
        var sql: SQL = "SELECT * FROM jobs WHERE team = \(3) AND \(filter)"
        sql.append(" LIMIT \(10)")
        XCTAssertEqual(sql.text, "SELECT * FROM jobs WHERE team = $1 AND status = $2 AND owner = $3 LIMIT $4")
        XCTAssertEqual(sql.binds, ["3", "done", "7", "10"])
    }

    func testIdentifiersAreQuoted() {
        let sql: SQL = "SELECT * FROM \(identifier: "warehouse").\(identifier: "we\"ird")"
        XCTAssertEqual(sql.text, #"SELECT * FROM "warehouse"."we""ird""#)
        XCTAssertTrue(sql.binds.isEmpty)
    }

    func testDescriptionMasksValues() {
        let sql: SQL = "SELECT \("secret-token")"
        XCTAssertEqual(sql.description, "SELECT $1 [****]")
        XCTAssertFalse(sql.description.contains("secret"))
    }

    func testBoolAndNumberEncoding() {
        let sql: SQL = "SELECT \(true), \(false), \(Int64(-3)), \(2.5)"
        XCTAssertEqual(sql.binds, ["t", "f", "-3", "2.5"])
    }

    func testPostgresTimeFormatsISO8601WithMicrosecondsInUTC() {
        XCTAssertEqual(PostgresTime.format(Date(timeIntervalSince1970: 0)), "1970-01-01T00:00:00.000000Z")
        XCTAssertEqual(PostgresTime.format(Date(timeIntervalSince1970: 1_717_171_717.25)), "2024-05-31T16:08:37.250000Z")
        XCTAssertEqual(PostgresTime.format(Date(timeIntervalSince1970: 1_798_761_599.5)), "2026-12-31T23:59:59.500000Z")
    }

    func testAsynchronousCommitIsAOneRowRelationWithoutBinds() {
        let sql: SQL = "UPDATE t SET n = n + 1 FROM \(SQL.asynchronousCommit) WHERE id = \(3)"
        XCTAssertTrue(sql.text.contains("set_config('synchronous_commit', 'off', true)"))
        XCTAssertEqual(sql.binds, ["3"])
    }
}
