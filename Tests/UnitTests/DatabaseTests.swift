import Data
import Foundation
import XCTest

/// The libpq wrapper against a real PostgreSQL. `scripts/test` runs these with
/// `ASSAY_TEST_DATABASE_URL` pointing at its private cluster; without it they are skipped.
final class DatabaseTests: XCTestCase {
    private var url: String!
    private var db: Database!
    private var table: String!

    override func setUpWithError() throws {
        let url = try testDatabaseURL()
        self.url = url
        db = Database(url: url)
        table = "dbtest_" + UUID().uuidString.prefix(8).lowercased()
        try db.query("CREATE TABLE \(identifier: table) (id integer PRIMARY KEY, name text UNIQUE, parent integer REFERENCES \(identifier: table) (id), at timestamptz)")
    }

    override func tearDownWithError() throws {
        if let db, let table { _ = try? db.query("DROP TABLE IF EXISTS \(identifier: table)") }
    }

    func testServerWarningsGoToTheNoticeHandlerNotStderr() throws {
        let previous = DatabaseNotices.handler
        defer { DatabaseNotices.handler = previous }
        nonisolated(unsafe) var received: [String] = []
        DatabaseNotices.handler = { received.append($0) }
        try db.query("DO $$ BEGIN RAISE WARNING 'assay notice test'; END $$")
        XCTAssertEqual(received, ["WARNING:  assay notice test"])
    }

    /// How the pool counts database errors: every error a connection reports reaches the
    /// observer, once, with its kind, before it is thrown.
    func testEachErrorReachesTheObserverWithItsKind() throws {
        let previous = DataError.observer
        defer { DataError.observer = previous }
        nonisolated(unsafe) var kinds: [String] = []
        DataError.observer = { kinds.append($0.kind) }
        try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(1), \("a"))")
        XCTAssertThrowsError(try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(2), \("a"))"))
        XCTAssertThrowsError(try db.query("INSERT INTO \(identifier: table) (id, parent) VALUES (\(3), \(99))"))
        XCTAssertThrowsError(try db.query("SELECT 1/0"))
        XCTAssertThrowsError(try Database(url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1").query("SELECT 1"))
        XCTAssertEqual(kinds, ["unique_violation", "foreign_key_violation", "server", "unavailable"])
    }

    func testValuesAreBoundNotInlined() throws {
        let hostile = "x'); DROP TABLE users; --"
        try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(1), \(hostile))")
        let row = try XCTUnwrap(db.query("SELECT name FROM \(identifier: table) WHERE id = \(1)").first)
        XCTAssertEqual(try row.decode("name", as: String.self), hostile)
    }

    func testPreparedStatementsAreReusedAndSurviveAReconnect() throws {
        let select: (Int) -> SQL = { id in "SELECT name FROM \(identifier: self.table) WHERE id = \(id)" }
        try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(1), \("one")), (\(2), \("two"))")
        XCTAssertEqual(try db.query(select(1), prepared: true).first?.decode("name", as: String.self), "one")
        XCTAssertEqual(try db.query(select(2), prepared: true).first?.decode("name", as: String.self), "two")
        let prepared = try db.query("SELECT count(*) AS n FROM pg_prepared_statements").first?.decode("n", as: Int.self)
        XCTAssertEqual(prepared, 1, "one statement text is prepared once")
        // A new connection has no prepared statements: they are prepared again, not assumed.
        db.close()
        XCTAssertEqual(try db.query(select(2), prepared: true).first?.decode("name", as: String.self), "two")
    }

    func testTextArraysRoundTripQuotesAndBackslashes() throws {
        let items = [#"say "hi""#, #"C:\dir\"#, "{a,b}", "NULL", "", "Größe ∑ 😀", "new\nline"]
        let texts = try db.query("SELECT unnest(\(items)::text[]) AS t").map { try $0.decode("t", as: String.self) }
        XCTAssertEqual(texts, items)
    }

    func testTypedDecodingAndNulls() throws {
        let when = Date(timeIntervalSince1970: 1_795_000_000.25)
        try db.query("INSERT INTO \(identifier: table) (id, name, at) VALUES (\(7), \(nil as String?), \(when))")
        let row = try XCTUnwrap(db.query("SELECT id, name, at, true AS flag, 2.5::float8 AS ratio FROM \(identifier: table)").first)
        XCTAssertEqual(try row.decode("id", as: Int.self), 7)
        XCTAssertNil(try row.decode("name", as: String?.self))
        XCTAssertEqual(try row.decode("at", as: Date.self).timeIntervalSince1970, when.timeIntervalSince1970, accuracy: 0.001)
        XCTAssertEqual(try row.decode("flag", as: Bool.self), true)
        XCTAssertEqual(try row.decode("ratio", as: Double.self), 2.5)
        // A mismatch is an error, not a crash.
        XCTAssertThrowsError(try row.decode("at", as: Int.self)) { error in
            guard case DataError.decoding = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try row.decode("name", as: String.self))
        XCTAssertThrowsError(try row.decode("missing_column", as: String.self))
    }

    func testATextValueThatIsNoCaseIsADecodingError() throws {
        let row = try XCTUnwrap(db.query("SELECT \(JobStatus.running) AS known, 'paused'::text AS status").first)
        XCTAssertEqual(try row.decode("known", as: JobStatus.self), .running)
        XCTAssertThrowsError(try row.decode("status", as: JobStatus.self)) { error in
            guard case DataError.decoding(let column, _, let found) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(column, "status")
            XCTAssertEqual(found, "paused")
        }
    }

    func testTransactionRollsBackOnThrow() throws {
        struct Abort: Error {}
        XCTAssertThrowsError(try db.transaction { db in
            try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(1), \("a"))")
            throw Abort()
        })
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n", as: Int.self), 0)
        try db.transaction { db in try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(2), \("b"))") }
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n", as: Int.self), 1)
    }

    func testConstraintViolationsAreTyped() throws {
        try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(1), \("dup"))")
        XCTAssertThrowsError(try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(2), \("dup"))")) { error in
            guard case DataError.uniqueViolation(let constraint, _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(constraint.contains("name"))
        }
        XCTAssertThrowsError(try db.query("INSERT INTO \(identifier: table) (id, parent) VALUES (\(3), \(999))")) { error in
            guard case DataError.foreignKeyViolation = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try db.query("SELECT * FROM no_such_table_here")) { error in
            guard case DataError.server(let state, _, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(state, "42P01")
        }
    }

    /// Ends this test's session from another connection after `delay` seconds.
    private func terminate(_ pid: Int, after delay: Double) {
        let url = self.url!
        Thread.detachNewThread {
            Thread.sleep(forTimeInterval: delay)
            _ = try? Database(url: url).query("SELECT pg_terminate_backend(\(pid), 5000)")
        }
    }

    func testASessionEndedWhileIdleIsReplacedBeforeTheNextStatement() throws {
        let pid: Int = try db.query("SELECT pg_backend_pid() AS pid")[0].decode("pid")
        // The timeout makes the call wait until the session is gone.
        try Database(url: url).query("SELECT pg_terminate_backend(\(pid), 5000)")
        try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(1), \("after"))")
        let newPid: Int = try db.query("SELECT pg_backend_pid() AS pid")[0].decode("pid")
        XCTAssertNotEqual(newPid, pid)
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n", as: Int.self), 1)
    }

    func testAReadWhoseSessionEndsWhileItRunsIsRunOnceMoreOnANewConnection() throws {
        let pid: Int = try db.query("SELECT pg_backend_pid() AS pid")[0].decode("pid")
        terminate(pid, after: 0.3)
        let row = try db.query("SELECT pg_backend_pid() AS pid, pg_sleep(1)::text AS slept")[0]
        XCTAssertNotEqual(try row.decode("pid", as: Int.self), pid)
    }

    func testAWriteWhoseSessionEndsWhileItRunsFailsAndIsNotRepeated() throws {
        let pid: Int = try db.query("SELECT pg_backend_pid() AS pid")[0].decode("pid")
        terminate(pid, after: 0.3)
        // The HTTP layer's 503: the write may or may not have been committed, so it is not sent twice.
        XCTAssertThrowsError(try db.query("INSERT INTO \(identifier: table) (id, name) SELECT 1, pg_sleep(1)::text")) { error in
            guard case DataError.unavailable = error else { return XCTFail("\(error)") }
        }
        // The next statement reconnects; the killed INSERT left nothing.
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n", as: Int.self), 0)
        XCTAssertNotEqual(try db.query("SELECT pg_backend_pid() AS pid")[0].decode("pid", as: Int.self), pid)
    }

    func testAReadInATransactionIsNotRepeatedOnANewConnection() throws {
        let pid: Int = try db.query("SELECT pg_backend_pid() AS pid")[0].decode("pid")
        XCTAssertThrowsError(try db.transaction { db in
            try db.query("INSERT INTO \(identifier: table) (id, name) VALUES (\(1), \("lost"))")
            try Database(url: url).query("SELECT pg_terminate_backend(\(pid), 5000)")
            // Repeating it elsewhere would read outside the transaction and lose its writes.
            return try db.query("SELECT count(*) AS n FROM \(identifier: table)")
        }) { error in
            guard case DataError.unavailable = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(try db.query("SELECT count(*) AS n FROM \(identifier: table)")[0].decode("n", as: Int.self), 0)
    }

    func testOnlyStatementsStartingWithSelectCountAsReads() {
        XCTAssertTrue(Database.isRead("SELECT 1"))
        XCTAssertTrue(Database.isRead("  \n select\tid FROM t"))
        XCTAssertTrue(Database.isRead("SELECT"))
        XCTAssertFalse(Database.isRead("SELECTED"))
        XCTAssertFalse(Database.isRead("INSERT INTO t SELECT 1"))
        XCTAssertFalse(Database.isRead("WITH gone AS (DELETE FROM t RETURNING *) SELECT * FROM gone"))
        XCTAssertFalse(Database.isRead("UPDATE t SET a = 1"))
        XCTAssertFalse(Database.isRead(""))
    }

    func testUnreachableDatabaseIsUnavailable() {
        let dead = Database(url: "postgresql://nobody@/nothing?host=/nonexistent-socket-dir&connect_timeout=2")
        XCTAssertThrowsError(try dead.query("SELECT 1")) { error in
            guard case DataError.unavailable = error else { return XCTFail("\(error)") }
        }
    }

    func testTextArraysAndBytesRoundTrip() throws {
        let items = ["a", "b c", "quo\"te", "back\\slash", ""]
        let row = try db.query("SELECT \(items)::text[] AS items, \(ByteA([0, 1, 254, 255]))::bytea AS bytes")[0]
        XCTAssertEqual(try row.decode("items", as: [String].self), items)
        XCTAssertEqual(try row.decode("bytes", as: ByteA.self).bytes, [0, 1, 254, 255])
    }
}
