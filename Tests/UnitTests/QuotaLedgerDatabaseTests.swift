import Data
import Foundation
import Quotas
import XCTest

/// The pool's quota ledger against a real PostgreSQL (`ASSAY_TEST_DATABASE_URL`, as
/// `DatabaseTests`; skipped without it). Two ledgers stand for two hosts (or a pool before and
/// after a restart) sharing one database.
final class QuotaLedgerDatabaseTests: XCTestCase {
    private var db: Database!
    private var directory: String!
    private var principal: String!

    override func setUpWithError() throws {
        let url = try testDatabaseURL()
        db = Database(url: url)
        directory = NSTemporaryDirectory() + "quota-ledger-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        principal = "key:test-" + UUID().uuidString.lowercased()
    }

    override func tearDownWithError() throws {
        if let db, let principal { _ = try? db.query("DELETE FROM quota_counters WHERE principal LIKE \(principal + "%")") }
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
    }

    private func stored(_ principal: String, _ quotaClass: String = "general", window: Int? = nil) throws -> Int? {
        let start = window ?? QuotaRepository.window(of: Date())
        return try db.query("""
            SELECT count FROM quota_counters
            WHERE principal = \(principal) AND class = \(quotaClass) AND window_start = to_timestamp(\(start))
            """).first?.decode("count")
    }

    func testRequestsAreCountedInMemoryAndReachTheDatabaseOnFlush() throws {
        let ledger = try QuotaLedger.create(directory: directory)
        let counts = try (1...10).map { _ in try ledger.charge(principal: principal, quotaClass: "general", db: db).count }
        XCTAssertEqual(counts, Array(1...10))
        // The first request went to the database (it gave the count's start); the others wait for a flush.
        XCTAssertEqual(try stored(principal), 1)
        try ledger.flush(db: db)
        XCTAssertEqual(try stored(principal), 10)
        // Flushed counts are not added twice.
        try ledger.flush(db: db)
        XCTAssertEqual(try stored(principal), 10)
        XCTAssertEqual(try ledger.charge(principal: principal, quotaClass: "general", db: db).count, 11)
        // Classes are counted apart.
        XCTAssertEqual(try ledger.charge(principal: principal, quotaClass: "upload", db: db).count, 1)
    }

    func testARestartedPoolGoesOnFromTheDatabasesCount() throws {
        let before = try QuotaLedger.create(directory: directory)
        for _ in 1...7 { _ = try before.charge(principal: principal, quotaClass: "general", db: db) }
        try before.flush(db: db)
        let after = try QuotaLedger.create(directory: directory)
        XCTAssertEqual(try after.charge(principal: principal, quotaClass: "general", db: db).count, 8)
    }

    func testTwoHostsSeeEachOthersCountsAfterAFlush() throws {
        let first = try QuotaLedger.create(directory: directory), second = try QuotaLedger.create(directory: directory)
        for _ in 1...5 { _ = try first.charge(principal: principal, quotaClass: "general", db: db) }
        try first.flush(db: db)
        // The second host's first request starts from the database: 5 before it.
        XCTAssertEqual(try second.charge(principal: principal, quotaClass: "general", db: db).count, 6)
        for _ in 1...3 { _ = try second.charge(principal: principal, quotaClass: "general", db: db) }
        try second.flush(db: db)
        XCTAssertEqual(try stored(principal), 9)
        // The first host learns of the second's requests when it flushes next (its own sixth).
        XCTAssertEqual(try first.charge(principal: principal, quotaClass: "general", db: db).count, 6)
        try first.flush(db: db)
        XCTAssertEqual(try stored(principal), 10)
        XCTAssertEqual(try first.charge(principal: principal, quotaClass: "general", db: db).count, 11)
    }

    func testARefundGivesTheCountBack() throws {
        let ledger = try QuotaLedger.create(directory: directory)
        for _ in 1...3 { _ = try ledger.charge(principal: principal, quotaClass: "upload", db: db) }
        // Not yet in the database: taken from the counts waiting for a flush.
        try ledger.refund(principal: principal, quotaClass: "upload", db: db)
        XCTAssertEqual(try ledger.charge(principal: principal, quotaClass: "upload", db: db).count, 3)
        try ledger.flush(db: db)
        XCTAssertEqual(try stored(principal, "upload"), 3)
        // All in the database: taken back there.
        try ledger.refund(principal: principal, quotaClass: "upload", db: db)
        XCTAssertEqual(try stored(principal, "upload"), 2)
        XCTAssertEqual(try ledger.charge(principal: principal, quotaClass: "upload", db: db).count, 3)
    }

    func testANewHourStartsAtOneAndThePastHoursSlotIsReused() throws {
        let ledger = try QuotaLedger.create(directory: directory, capacity: 1)
        let now = Date()
        let nextHour = Date(timeIntervalSince1970: Double(QuotaRepository.window(of: now) + 3600))
        for _ in 1...4 { _ = try ledger.charge(principal: principal, quotaClass: "general", db: db, now: now) }
        try ledger.flush(db: db)
        // The only slot holds the past hour until a flush finds it fully added; meanwhile the
        // new hour is counted in the database request by request, exactly all the same.
        XCTAssertEqual(try ledger.charge(principal: principal, quotaClass: "general", db: db, now: nextHour).count, 1)
        XCTAssertEqual(try ledger.charge(principal: principal, quotaClass: "general", db: db, now: nextHour).count, 2)
        XCTAssertEqual(try stored(principal, window: QuotaRepository.window(of: nextHour)), 2)
        XCTAssertEqual(try stored(principal), 4)
    }

    func testAFullLedgerCountsInTheDatabase() throws {
        let ledger = try QuotaLedger.create(directory: directory, capacity: 1)
        _ = try ledger.charge(principal: principal, quotaClass: "general", db: db)
        let other = principal + "-other"
        let counts = try (1...3).map { _ in try ledger.charge(principal: other, quotaClass: "general", db: db).count }
        XCTAssertEqual(counts, [1, 2, 3])
        XCTAssertEqual(try stored(other), 3)
    }

    func testCountsStayInTheLedgerWhenTheDatabaseCannotTakeThem() throws {
        let ledger = try QuotaLedger.create(directory: directory)
        for _ in 1...4 { _ = try ledger.charge(principal: principal, quotaClass: "general", db: db) }
        let unreachable = Database(url: "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
        XCTAssertThrowsError(try ledger.flush(db: unreachable))
        XCTAssertEqual(try stored(principal), 1)
        // Tried again a second later, not after every response meanwhile.
        XCTAssertNil(ledger.flushIfDue(db: db))
        XCTAssertEqual(try stored(principal), 1)
        try ledger.flush(db: db)
        XCTAssertEqual(try stored(principal), 4)
    }

    func testAWorkerMapsTheMastersLedger() throws {
        let master = try QuotaLedger.create(directory: directory)
        let worker = try QuotaLedger.attach(fd: master.fd)
        XCTAssertEqual(try master.charge(principal: principal, quotaClass: "general", db: db).count, 1)
        XCTAssertEqual(try worker.charge(principal: principal, quotaClass: "general", db: db).count, 2)
        XCTAssertEqual(try master.charge(principal: principal, quotaClass: "general", db: db).count, 3)
        let notALedger = open(directory + "/plain", O_CREAT | O_RDWR, 0o600)
        defer { close(notALedger) }
        _ = ftruncate(notALedger, 4096)
        XCTAssertThrowsError(try QuotaLedger.attach(fd: notALedger))
    }
}
