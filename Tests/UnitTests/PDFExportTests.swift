import Exporters
import Foundation
import XCTest

/// The PDF renderer, read back with poppler's pdftotext and pdfinfo: every row once, the
/// header and a page number on every page, non-Latin text intact, the page orientation,
/// write errors as `ExportError`, and the speed and memory of a large table.
final class PDFExportTests: TemporaryFolderTestCase {
    // MARK: - Content across pages

    private static let words = ["Привет мир", "Καλημέρα κόσμε", "数据分析报告", "مرحبا بالعالم", "plain ascii"]
    private static let longText = String(repeating: "A very long comment that keeps going ", count: 120) + "TAILMARKER"

    /// Row `index` of the mixed table: ids 500001…, NULL names every seventh row, one very
    /// long comment, booleans as PostgreSQL writes them.
    private static func mixedRow(_ index: Int) -> [String?] {
        ["\(500_001 + index)",
         index % 7 == 3 ? nil : words[index % words.count],
         index == 10 ? longText : "note \(index % 13)",
         String(format: "%.2f", Double(index) * 3.17),
         index % 2 == 0 ? "t" : "f",
         "2024-01-\(String(format: "%02d", index % 28 + 1))"]
    }

    /// Six columns of every alignment and conversion: the shape of a typical export.
    private static let columns = [
        ExportColumn(name: "id", header: "Identifier", kind: .integer),
        ExportColumn(name: "name", header: "Customer", kind: .text),
        ExportColumn(name: "comment", header: "Comment", kind: .text),
        ExportColumn(name: "amount", header: "Amount", kind: .decimal),
        ExportColumn(name: "active", header: "Active", kind: .boolean),
        ExportColumn(name: "day", header: "Booked", kind: .date),
    ]

    func testRowsHeadersPageNumbersAndUnicodeSurviveAcrossPages() throws {
        let table = ExportTable(title: "Quarterly ledger", columns: Self.columns,
                                metadata: [("Source", "ledger-2024.pdf"), ("Confidence", "0.93")],
                                notes: [4: [3: CellNote(original: "l2.68", confidence: 0.4)]], rowCount: 300)
        let path = "\(folder!)/mixed.pdf"
        let report = try PDFReport(path: path, options: PDFOptions())
        report.title("Quarterly ledger")
        report.keyValues(table.metadata)
        let written = try report.table(table, rows: { each in
            for index in 0..<300 { try each(Self.mixedRow(index)) }
        }, progress: nil)
        try report.close()
        XCTAssertEqual(written, 300)

        let pages = try pdfText(path).components(separatedBy: "\u{0C}").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        XCTAssertGreaterThan(pages.count, 2, "300 rows should take several pages")
        XCTAssertEqual(pages.count, try pageCount(path))
        for (number, page) in pages.enumerated() {
            let header = page.split(separator: "\n").first { $0.contains("Identifier") }
            XCTAssertNotNil(header, "no header on page \(number + 1)")
            for name in ["Customer", "Comment", "Amount", "Active", "Booked"] {
                XCTAssertTrue(header?.contains(name) ?? false, "\(name) missing from the header of page \(number + 1)")
            }
            XCTAssertTrue(page.contains("Page \(number + 1)"), "no page number on page \(number + 1)")
        }

        let tokens = pages.joined(separator: "\n").split(whereSeparator: \.isWhitespace).map(String.init)
        var counts: [String: Int] = [:]
        for token in tokens where token.hasPrefix("500") { counts[token, default: 0] += 1 }
        for index in 0..<300 {
            XCTAssertEqual(counts["\(500_001 + index)"], 1, "row id \(500_001 + index)")
        }

        let text = pages.joined(separator: "\n")
        for expected in ["Quarterly ledger", "ledger-2024.pdf", "Привет мир", "Καλημέρα", "数据分析报告", "true", "false"] {
            XCTAssertTrue(text.contains(expected), "\(expected) missing")
        }
        XCTAssertTrue(text.contains("بالعالم") || text.contains("ملاعلاب"), "Arabic missing")
        // The long value (row 500011) is cut to a few lines ending in "…": uncut it would fill
        // most of the first page. The text layer holds only what shows.
        XCTAssertTrue(pages[0].contains("500040"), "the long value took too much of the first page")
        XCTAssertTrue(text.contains("very long…") || text.contains("going…"), "a cut value should end in an ellipsis")
        XCTAssertFalse(text.contains("TAILMARKER"), "a long value's hidden part should not be in the text layer")
        XCTAssertTrue(text.contains("Shaded cells"), "the low-confidence cell needs its legend")
        XCTAssertFalse(tokens.contains("t") || tokens.contains("f"), "booleans should read true/false")
    }

    // MARK: - Words that never break

    /// Identifiers in a column sized from short ones: later, longer ids are drawn smaller to
    /// fit, and ones far too long are cut with "…" — never broken across lines, where
    /// `INV-2024-0000` / `1` would read as two other numbers. A JSON column wraps between its
    /// members only. The footer reads "Page N of M" and names the cut on pages that have one.
    func testIdentifiersNeverBreakInsideThemselves() throws {
        let columns = [ExportColumn(name: "id", header: "Invoice", kind: .text),
                       ExportColumn(name: "payload", header: "Payload", kind: .text)]
            + (1...6).map { ExportColumn(name: "c\($0)", header: "C\($0)", kind: .text) }
        func id(_ index: Int) -> String {
            switch index {
            case ..<200: "INV-\(index)"                               // the sample: a narrow column
            case ..<230: "INV-\(10_000 + index)"                       // a little too wide: shrunk
            default: "INV-2024-000000000000000000000000\(10_000 + index)" // far too wide: cut
            }
        }
        func row(_ index: Int) -> [String?] {
            [id(index), #"{"sku": "SKU-\#(index)-XL", "lines": [{"qty": 2, "note": "rush order"}], "ref": "REF-2024-\#(index)"}"#]
                + (1...6).map { _ in "x" }
        }
        let table = ExportTable(title: "Identifiers", columns: columns)
        var options = PDFOptions()
        options.orientation = .portrait
        func render(_ path: String, totalPages: Int?) throws -> Int {
            let report = try PDFReport(path: path, options: options, totalPages: totalPages)
            report.title(table.title)
            try report.table(table, rows: { each in for index in 0..<260 { try each(row(index)) } }, progress: nil)
            try report.close()
            return report.pageCount
        }
        let path = "\(folder!)/ids.pdf"
        let counted = try render("/dev/null", totalPages: nil)
        XCTAssertEqual(try render(path, totalPages: counted), counted)

        let text = try pdfText(path)
        let pages = text.components(separatedBy: "\u{0C}").filter { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
        XCTAssertEqual(pages.count, counted)
        for (number, page) in pages.enumerated() {
            XCTAssertTrue(page.contains("Page \(number + 1) of \(counted)"), "no \"Page N of M\" on page \(number + 1)")
        }
        let tokens = text.split(whereSeparator: \.isWhitespace).map(String.init)
        let ids = Set((0..<260).map(id))
        for token in tokens where token.contains("INV") {
            XCTAssertTrue(ids.contains(token) || (token.hasSuffix("…") && ids.contains { $0.hasPrefix(String(token.dropLast())) }),
                          "\(token) is a piece of an identifier")
        }
        for token in tokens {
            XCTAssertFalse(token.allSatisfy(\.isNumber) && token.count >= 3, "\(token) is the tail of a broken identifier")
        }
        for index in 0..<230 { XCTAssertTrue(tokens.contains(id(index)), "\(id(index)) should show whole") }
        XCTAssertTrue(tokens.contains { $0.hasPrefix("INV-") && $0.hasSuffix("…") }, "far too long ids end in …")
        for index in 0..<260 {
            XCTAssertTrue(tokens.contains("\"REF-2024-\(index)\"}"), "REF-2024-\(index) split or lost")
        }
        XCTAssertTrue(pages.last?.contains("shortened to fit") ?? false, "the page with cut ids should say so")
    }

    // MARK: - Orientation

    func testWideTablesGoLandscapeAndNarrowOnesPortrait() throws {
        let wide = try renderPlainTable(columns: 14, name: "wide")
        let narrow = try renderPlainTable(columns: 3, name: "narrow")
        let (wideWidth, wideHeight) = try pageSize(wide)
        let (narrowWidth, narrowHeight) = try pageSize(narrow)
        XCTAssertGreaterThan(wideWidth, wideHeight, "14 columns should be landscape")
        XCTAssertLessThan(narrowWidth, narrowHeight, "3 columns should be portrait")

        var portrait = PDFOptions()
        portrait.orientation = .portrait
        portrait.pageSize = .letter
        let forced = try renderPlainTable(columns: 14, name: "forced", options: portrait)
        let (forcedWidth, forcedHeight) = try pageSize(forced)
        XCTAssertEqual(forcedWidth, 612, accuracy: 0.5)
        XCTAssertEqual(forcedHeight, 792, accuracy: 0.5)
    }

    private func renderPlainTable(columns count: Int, name: String, options: PDFOptions = PDFOptions()) throws -> String {
        let columns = (1...count).map { ExportColumn(name: "c\($0)", header: "Column \($0)", kind: .text) }
        let path = "\(folder!)/\(name).pdf"
        let report = try PDFReport(path: path, options: options)
        report.title(name)
        try report.table(ExportTable(title: name, columns: columns), rows: { each in
            for row in 0..<20 { try each((1...count).map { "value \(row)-\($0)" }) }
        }, progress: nil)
        try report.close()
        return path
    }

    // MARK: - Errors

    func testUnwritablePathsAreExportErrors() throws {
        XCTAssertThrowsError(try {
            let report = try PDFReport(path: "/nonexistent-folder/x.pdf", options: PDFOptions())
            try report.close()
        }()) { XCTAssertTrue($0 is ExportError, "\($0)") }

        let report = try PDFReport(path: "/dev/full", options: PDFOptions())
        report.title("Nowhere to go")
        XCTAssertThrowsError(try report.close()) { XCTAssertTrue($0 is ExportError, "\($0)") }
    }

    // MARK: - Speed and memory

    /// Prints the figures; timing is not asserted (the machine is shared).
    func testLargeTableThroughputAndMemory() throws {
        let rowCount = Int(ProcessInfo.processInfo.environment["ASSAY_PDF_ROWS"] ?? "") ?? 50_000
        let cities = ["Berlin", "Zürich", "Москва", "東京", "São Paulo", "Athens"]
        let path = "\(folder!)/large.pdf"
        var reports: [Int] = []
        let residentBefore = peakResidentKB()
        let start = Date()
        let report = try PDFReport(path: path, options: PDFOptions())
        report.title("Large table")
        let written = try report.table(ExportTable(title: "Large", columns: Self.columns, rowCount: rowCount), rows: { each in
            for index in 0..<rowCount {
                try each(["\(index + 1)", "Customer number \(index % 977)", cities[index % cities.count],
                          "\(index % 10_000).\(index % 100)", index % 3 == 0 ? "t" : "f",
                          "2024-03-\(index % 20 + 10)"])
            }
        }, progress: { reports.append($0) })
        try report.close()
        let seconds = Date().timeIntervalSince(start)

        XCTAssertEqual(written, rowCount)
        XCTAssertEqual(reports.last, rowCount)
        XCTAssertGreaterThanOrEqual(reports.count, rowCount / 1000)
        let pages = try pageCount(path)
        let bytes = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        print(String(format: "PDF export: %d rows in %.2f s = %.0f rows/s, %d pages, %.1f MB, peak RSS %d MB (before %d MB)",
                     rowCount, seconds, Double(rowCount) / seconds, pages, Double(bytes) / 1_048_576,
                     peakResidentKB() / 1024, residentBefore / 1024))
    }

    // MARK: - Reading PDFs back

    private func pdfText(_ path: String) throws -> String {
        try run("/usr/bin/pdftotext", ["-layout", path, "-"])
    }

    private func pageCount(_ path: String) throws -> Int {
        try XCTUnwrap(Int(pdfInfo(path, "Pages") ?? ""))
    }

    /// "Page size:      841.89 x 595.276 pts (A4)" → (841.89, 595.276).
    private func pageSize(_ path: String) throws -> (Double, Double) {
        let parts = try XCTUnwrap(pdfInfo(path, "Page size")).split(separator: " ")
        return (try XCTUnwrap(Double(parts[0])), try XCTUnwrap(Double(parts[2])))
    }

    private func pdfInfo(_ path: String, _ field: String) throws -> String? {
        try run("/usr/bin/pdfinfo", [path]).split(separator: "\n")
            .first { $0.hasPrefix(field + ":") }
            .map { $0.dropFirst(field.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(tool) \(arguments)")
        return String(decoding: data, as: UTF8.self)
    }

    /// VmHWM: the most resident memory this process has had, in kB.
    private func peakResidentKB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
