import XCTest
import Data

final class MigrationTests: XCTestCase {
    func testFilesAreOrderedByNumberNotName() throws {
        let migrations = try Migration.list(files: [
            ("0010_late.sql", "SELECT 10"), ("0002_b.sql", "SELECT 2"), ("0001_a.sql", "SELECT 1"), ("README.md", "x"),
        ])
        XCTAssertEqual(migrations.map(\.version), [1, 2, 10])
        XCTAssertEqual(migrations.map(\.name), ["a", "b", "late"])
    }

    func testDuplicateNumbersAreRejected() {
        XCTAssertThrowsError(try Migration.list(files: [("0001_a.sql", ""), ("0001_b.sql", "")]))
    }

    func testBadNamesAreRejected() {
        XCTAssertThrowsError(try Migration.list(files: [("first.sql", "")]))
        XCTAssertThrowsError(try Migration.list(files: [("0000_zero.sql", "")]))
    }

    func testPlanListsPendingInOrder() throws {
        let known = try Migration.list(files: [("0001_a.sql", ""), ("0002_b.sql", ""), ("0003_c.sql", "")])
        let plan = MigrationPlan(known: known, applied: [1])
        XCTAssertEqual(plan.pending.map(\.version), [2, 3])
        XCTAssertTrue(plan.unknown.isEmpty)
        XCTAssertNoThrow(try plan.checkNoUnknown())
    }

    func testDatabaseAheadOfBuildIsRefused() throws {
        let known = try Migration.list(files: [("0001_a.sql", ""), ("0002_b.sql", "")])
        let plan = MigrationPlan(known: known, applied: [1, 2, 3, 4])
        XCTAssertEqual(plan.unknown, [3, 4])
        XCTAssertThrowsError(try plan.checkNoUnknown()) { error in
            XCTAssertTrue("\(error)".contains("3, 4"))
        }
    }

    func testBundledMigrationsLoadAndStartAtOne() throws {
        let bundled = try Migration.bundled()
        XCTAssertEqual(bundled.first?.version, 1)
        XCTAssertEqual(bundled.map(\.version), Array(1...bundled.count), "migrations must be numbered without gaps")
    }

    func testChecksumChangesWithText() {
        XCTAssertNotEqual(Migration(version: 1, name: "a", sql: "A").checksum, Migration(version: 1, name: "a", sql: "B").checksum)
    }
}
