import Foundation
import XCTest

/// SQL lives in `Data`: no other target splices raw SQL text or quotes names and literals
/// itself. Found by reading the sources, so a new call anywhere fails here with its place.
final class SQLPlacementTests: XCTestCase {
    /// What only `Data` may use: the raw-SQL escape hatches and the quoting functions.
    static let dataOnly = ["unsafeSQL", "unsafeScript", "quoteIdentifier", "quoteLiteral"]

    func testRawSQLAndQuotingAreOnlyUsedInData() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try SQLPlacementTests.swiftFiles(under: sources)
        XCTAssertTrue(files.contains { $0.hasPrefix("Data/") && $0.hasSuffix("SQL.swift") }, "Sources/ not found at \(sources.path)")
        var misplaced: [String] = []
        for file in files where !file.hasPrefix("Data/") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for word in SQLPlacementTests.dataOnly where line.contains(word) {
                    misplaced.append("Sources/\(file):\(number + 1): \(word): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        XCTAssertTrue(misplaced.isEmpty, "SQL belongs in a repository in Sources/Data; found outside it:\n"
                      + misplaced.joined(separator: "\n"))
    }

    /// No statement text in Assay's own modules outside `Data`: a string literal that starts
    /// like a statement fails, wherever it is sent. `Connectors` is exempt: it speaks to the
    /// customers' PostgreSQL and MySQL servers, in their dialects, through its own sessions.
    func testNoStatementTextOutsideData() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let statement = try NSRegularExpression(
            pattern: #""(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|ALTER|COPY|WITH|TRUNCATE|LISTEN|NOTIFY|BEGIN|COMMIT) "#)
        var misplaced: [String] = []
        for file in try SQLPlacementTests.swiftFiles(under: sources) where !file.hasPrefix("Data/") && !file.hasPrefix("Connectors/") {
            let text = try String(contentsOf: sources.appendingPathComponent(file), encoding: .utf8)
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let range = NSRange(line.startIndex..., in: line)
                if statement.firstMatch(in: String(line), range: range) != nil {
                    misplaced.append("Sources/\(file):\(number + 1): \(line.trimmingCharacters(in: .whitespaces))")
                }
            }
        }
        XCTAssertTrue(misplaced.isEmpty, "SQL belongs in a repository in Sources/Data; found outside it:\n"
                      + misplaced.joined(separator: "\n"))
    }

    /// Paths of the `.swift` files under `root`, relative to it (`Data/SQL.swift`), sorted.
    static func swiftFiles(under root: URL) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.sorted()
    }
}
