import CZip
import Exporters
import Foundation
import XCTest

/// The .xlsx renderer, checked on the file itself: the package is opened with libzip and the
/// worksheet, workbook, style and comment XML inspected; openpyxl reads the values back when
/// it is installed; a 200,000-row export prints its speed and peak memory.
final class XLSXExportTests: TemporaryFolderTestCase {
    // MARK: The sample workbook

    static let longText = String(repeating: "x", count: 40_000)

    static let columns = [
        ExportColumn(name: "id", header: "ID", kind: .integer),
        ExportColumn(name: "name", header: "Name", kind: .text),
        ExportColumn(name: "amount", header: "Amount", kind: .currency),
        ExportColumn(name: "share", header: "Share", kind: .percent),
        ExportColumn(name: "ratio", header: "Ratio", kind: .decimal),
        ExportColumn(name: "day", header: "Day", kind: .date),
        ExportColumn(name: "at", header: "At", kind: .timestamp),
        ExportColumn(name: "ok", header: "OK", kind: .boolean),
    ]

    /// Seven rows over sheets of three: every kind, NULLs, text that looks like a formula,
    /// unicode, values that do not parse as their kind, and text too long for a cell.
    static let rows: [[String?]] = [
        ["1", "Alice", "1234.5", "12.5", "0.25", "2024-01-31", "2024-01-31 12:00:00+00", "t"],
        [nil, nil, nil, nil, nil, nil, nil, nil],
        ["3", "=1+1", "n/a", "100", "1e3", "2024-02-29", "2024-01-31 12:00:00.5", "false"],
        ["4", "Zürich — 東京 🎉", "-7", "0", "-0.5", "1899-12-31", "2024-01-31T23:59:59-08", "f"],
        ["12345678901234567890", longText, "0", "50", "3.14159", "2023-02-29", "infinity", "yes"],
        ["6", "<b>&amp;\"'", "1,234.50", "NaN", "", "2024-13-01", "2024-01-31 25:00:00", "TRUE"],
        ["7", "last", "0.01", "1", "2", "9999-12-31", "2024-01-31 12:00:00.123456+05:30", nil],
    ]

    static let title = "Q1 [draft]: sales/costs"
    static let sheet = "Q1 draft sales costs"
    static let longTitle = "A very long title about quarterly revenue by region"

    /// Writes the sample: the main table, a long-titled one split in two, one with the main
    /// table's title again and one whose title has nothing usable; returns the progress calls.
    @discardableResult
    private func writeSample(to path: String) throws -> [Int] {
        var options = XLSXOptions()
        options.rowsPerSheet = 3
        let book = try XLSXWorkbook(path: path, tempDirectory: directory.path, options: options)
        let table = ExportTable(
            title: Self.title, columns: Self.columns,
            metadata: [(label: "Source", value: "invoice.pdf"), (label: "Pages", value: "1–2")],
            notes: [0: [2: CellNote(original: "1.234,5O", confidence: 0.42), 1: CellNote(original: "Alice", confidence: 0.9)],
                    1: [0: CellNote(original: "l", confidence: 0.3)]])
        var progress: [Int] = []
        let written = try book.addTable(table, rows: Self.stream(Self.rows), progress: { progress.append($0) })
        XCTAssertEqual(written, 7)
        let two = [ExportColumn(name: "a", header: "A", kind: .integer), ExportColumn(name: "b", header: "B", kind: .text)]
        try book.addTable(ExportTable(title: Self.longTitle, columns: two), rows: Self.stream(Array(repeating: ["1", "x"], count: 4)), progress: nil)
        try book.addTable(ExportTable(title: Self.title, columns: two), rows: Self.stream([["2", "again"]]), progress: nil)
        try book.addTable(ExportTable(title: " [/] ", columns: two), rows: Self.stream([]), progress: nil)
        try book.close()
        return progress
    }

    static func stream(_ rows: [[String?]]) -> RowStream {
        { each in for row in rows { try each(row) } }
    }

    private func samplePath() throws -> String {
        let path = directory.appendingPathComponent("sample.xlsx").path
        let progress = try writeSample(to: path)
        XCTAssertEqual(progress, [7])
        return path
    }

    // MARK: Tests on the XML

    func testSheetNamesSplitAndMetadata() throws {
        let file = try ZipFile(try samplePath())
        let names = try file.sheetNames()
        XCTAssertEqual(Array(names.prefix(3)), [Self.sheet, "\(Self.sheet) (2)", "\(Self.sheet) (3)"])
        XCTAssertEqual(names.count, 8)
        XCTAssertTrue(names[3].hasPrefix("A very long title"))
        XCTAssertEqual(names[3].count, 31)
        XCTAssertEqual(names[4], "A very long title about qua (2)", "the title is cut to leave room for the number")
        XCTAssertEqual(names[5], "\(Self.sheet) (4)")
        XCTAssertEqual(names[6], "Sheet")
        XCTAssertEqual(names[7], "Metadata")

        XCTAssertEqual(try file.cell("sheet1", "A4")?.value, "3", "the third data row ends the first sheet")
        XCTAssertNil(try file.cell("sheet1", "A5"))
        XCTAssertEqual(try file.cell("sheet3", "A2")?.value, "7")
        XCTAssertEqual(try file.cell("sheet5", "A2")?.value, "1")

        let metadata = try file.text("xl/worksheets/sheet8.xml")
        for expected in ["Source", "invoice.pdf", "1–2", "Rows", ">7<", "Sheets",
                         "\(Self.sheet), \(Self.sheet) (2), \(Self.sheet) (3)", "\(Self.sheet) (4)"] {
            XCTAssertTrue(metadata.contains(expected), "metadata sheet lacks \(expected)")
        }
    }

    func testCellsAreTyped() throws {
        let file = try ZipFile(try samplePath())
        let expected: [(String, String, String?)] = [   // cell, value, number format
            ("A2", "1", "0"), ("C2", "1234.5", "#,##0.00"), ("D2", "0.125", "0.00%"), ("E2", "0.25", nil),
            ("F2", "45322", "yyyy-mm-dd"), ("G2", "45322.5", "yyyy-mm-dd hh:mm:ss"),
            ("E4", "1000", nil), ("D4", "1", "0.00%"), ("F4", "45351", "yyyy-mm-dd"),
        ]
        for (reference, value, format) in expected {
            let cell = try XCTUnwrap(file.cell("sheet1", reference), reference)
            XCTAssertNil(cell.type, "\(reference) is a number")
            XCTAssertEqual(cell.value, value, reference)
            if let format { XCTAssertEqual(try file.numberFormat(style: cell.style), format, reference) }
        }
        let noon = try XCTUnwrap(Double(XCTUnwrap(file.cell("sheet1", "G4")?.value)))
        XCTAssertEqual(noon, 45322.5 + 0.5 / 86_400, accuracy: 1e-9)
        let evening = try XCTUnwrap(Double(XCTUnwrap(file.cell("sheet2", "G2")?.value)))
        XCTAssertEqual(evening, 45322 + 86_399.0 / 86_400, accuracy: 1e-9, "the offset is not applied")
        XCTAssertEqual(try file.cell("sheet1", "H2").map { [$0.type, $0.value] }, ["b", "1"])
        XCTAssertEqual(try file.cell("sheet1", "H4").map { [$0.type, $0.value] }, ["b", "0"])
        XCTAssertEqual(try file.cell("sheet2", "H4").map { [$0.type, $0.value] }, ["b", "1"], "TRUE")
    }

    func testTextAndValuesThatDoNotParseStayText() throws {
        let file = try ZipFile(try samplePath())
        let sheet1 = try file.text("xl/worksheets/sheet1.xml")
        XCTAssertFalse(sheet1.contains("<f>"), "no formulas")
        let formula = try XCTUnwrap(file.cell("sheet1", "B4"))
        XCTAssertEqual(formula.type, "inlineStr")
        XCTAssertEqual(formula.text, "=1+1")
        let strings: [(String, String, String)] = [
            ("sheet1", "C4", "n/a"), ("sheet2", "A3", "12345678901234567890"), ("sheet2", "F2", "1899-12-31"),
            ("sheet2", "F3", "2023-02-29"), ("sheet2", "G3", "infinity"), ("sheet2", "H3", "yes"),
            ("sheet2", "C4", "1,234.50"), ("sheet2", "D4", "NaN"), ("sheet2", "F4", "2024-13-01"),
            ("sheet2", "G4", "2024-01-31 25:00:00"), ("sheet2", "B2", "Zürich — 東京 🎉"),
            ("sheet2", "B4", "&lt;b&gt;&amp;amp;\"'"),
        ]
        for (sheet, reference, text) in strings {
            let cell = try XCTUnwrap(file.cell(sheet, reference), reference)
            XCTAssertEqual(cell.type, "inlineStr", reference)
            XCTAssertEqual(cell.text, text, reference)
        }
        XCTAssertEqual(try file.cell("sheet2", "B3")?.text?.count, 32_767, "long text is cut to Excel's limit")
        XCTAssertNil(try file.cell("sheet2", "E4"), "an empty string is an empty cell")
        XCTAssertNil(try file.cell("sheet1", "B3"), "NULL is an empty cell")
        XCTAssertNil(try file.cell("sheet3", "H2"))
    }

    func testHeaderFilterWidthsAndLowConfidence() throws {
        let file = try ZipFile(try samplePath())
        let sheet1 = try file.text("xl/worksheets/sheet1.xml")
        XCTAssertTrue(sheet1.contains("<pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/>"))
        XCTAssertTrue(sheet1.contains("<autoFilter ref=\"A1:H4\"/>"))
        XCTAssertTrue(try file.text("xl/worksheets/sheet3.xml").contains("<autoFilter ref=\"A1:H2\"/>"))
        XCTAssertTrue(try file.text("xl/worksheets/sheet7.xml").contains("<autoFilter ref=\"A1:B1\"/>"))
        XCTAssertTrue(sheet1.contains("<cols><col min=\"1\" max=\"1\""))
        let header = try XCTUnwrap(file.cell("sheet1", "A1"))
        XCTAssertEqual(header.text, "ID")
        XCTAssertTrue(try file.isBold(style: header.style))

        let shaded = try XCTUnwrap(file.cell("sheet1", "C2"))
        XCTAssertTrue(try file.isShaded(style: shaded.style))
        XCTAssertEqual(try file.numberFormat(style: shaded.style), "#,##0.00")
        XCTAssertFalse(try file.isShaded(style: XCTUnwrap(file.cell("sheet1", "B2")).style), "confidence 0.9 is fine")
        let blank = try XCTUnwrap(file.cell("sheet1", "A3"), "a low-confidence NULL is a shaded blank")
        XCTAssertTrue(try file.isShaded(style: blank.style))
        XCTAssertNil(blank.value)

        let comments = try file.text("xl/comments1.xml")
        XCTAssertTrue(comments.contains("<comment ref=\"C2\""))
        XCTAssertTrue(comments.contains("Extracted text: 1.234,5O, confidence 0.42"))
        XCTAssertTrue(comments.contains("Extracted text: l, confidence 0.30"))
        XCTAssertFalse(comments.contains("Alice"))
        XCTAssertFalse(try file.names().contains("xl/comments2.xml"), "only the sheet with notes has comments")
    }

    func testErrorsAreExportErrors() throws {
        XCTAssertThrowsError(try XLSXWorkbook(path: directory.appendingPathComponent("a.xlsx").path,
                                              tempDirectory: "/nonexistent-assay", options: XLSXOptions())) {
            XCTAssertTrue($0 is ExportError)
        }
        let book = try XLSXWorkbook(path: "/nonexistent-assay/b.xlsx", tempDirectory: directory.path, options: XLSXOptions())
        try book.addTable(ExportTable(title: "T", columns: Self.columns), rows: Self.stream(Self.rows), progress: nil)
        XCTAssertThrowsError(try book.close()) { XCTAssertTrue("\($0)".contains("/nonexistent-assay/b.xlsx"), "\($0)") }
        XCTAssertThrowsError(try book.addTable(ExportTable(title: "T", columns: Self.columns), rows: Self.stream([]), progress: nil))
        let other = try XLSXWorkbook(path: directory.appendingPathComponent("c.xlsx").path, tempDirectory: directory.path,
                                     options: XLSXOptions())
        XCTAssertThrowsError(try other.addTable(ExportTable(title: "None", columns: []), rows: Self.stream([]), progress: nil))
    }

    // MARK: Read back by openpyxl

    func testOpenpyxlReadsTheValuesBack() throws {
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", "import openpyxl"]
        guard (try? python.run()) != nil else { throw XCTSkip("python3 is missing") }
        python.waitUntilExit()
        guard python.terminationStatus == 0 else { throw XCTSkip("openpyxl is missing") }

        let path = try samplePath()
        let script = """
        import json, sys, datetime, openpyxl
        book = openpyxl.load_workbook(sys.argv[1])
        def value(v):
            return v.isoformat() if isinstance(v, (datetime.date, datetime.datetime)) else v
        out = {"sheets": book.sheetnames, "cells": {}}
        for ws in book.worksheets[:3]:
            out["cells"][ws.title] = [[value(c.value) for c in row] for row in ws.iter_rows()]
        c2 = book.worksheets[0]["C2"]
        out["comment"] = c2.comment.text if c2.comment else None
        out["fill"] = c2.fill.fgColor.rgb
        out["freeze"] = book.worksheets[0].freeze_panes
        out["filter"] = book.worksheets[0].auto_filter.ref
        print(json.dumps(out))
        """
        let output = try Self.run(["python3", "-c", script, path])
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let cells = try XCTUnwrap(json["cells"] as? [String: [[Any]]])
        let first = try XCTUnwrap(cells[Self.sheet])
        XCTAssertEqual(first.count, 4)
        XCTAssertEqual(first[0].map { "\($0)" }, ["ID", "Name", "Amount", "Share", "Ratio", "Day", "At", "OK"])
        XCTAssertEqual(first[1].map { "\($0)" }, ["1", "Alice", "1234.5", "0.125", "0.25", "2024-01-31T00:00:00", "2024-01-31T12:00:00", "1"])
        XCTAssertTrue(first[2].allSatisfy { $0 is NSNull })
        XCTAssertEqual(first[3].map { "\($0)" }, ["3", "=1+1", "n/a", "1", "1000", "2024-02-29T00:00:00", "2024-01-31T12:00:00.500000", "0"])
        let third = try XCTUnwrap(cells["\(Self.sheet) (3)"])
        XCTAssertEqual(third[1].map { "\($0)" }, ["7", "last", "0.01", "0.01", "2", "9999-12-31T00:00:00", "2024-01-31T12:00:00.123000", "<null>"])
        let second = try XCTUnwrap(cells["\(Self.sheet) (2)"])
        XCTAssertEqual(second[3][1] as? String, "<b>&amp;\"'")
        XCTAssertEqual(json["comment"] as? String, "Extracted text: 1.234,5O, confidence 0.42")
        XCTAssertEqual(json["fill"] as? String, "FFFFF2CC")
        XCTAssertEqual(json["freeze"] as? String, "A2")
        XCTAssertEqual(json["filter"] as? String, "A1:H4")
        XCTAssertEqual((json["sheets"] as? [String])?.last, "Metadata")
    }

    private static func run(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        return String(decoding: data, as: UTF8.self)
    }

    // MARK: Speed and memory

    /// 200,000 rows of six columns (ASSAY_XLSX_BENCH_ROWS to change it): prints rows/s for
    /// addTable and for the whole export with close, and the process's peak RSS.
    func testSpeedAndMemory() throws {
        let count = ProcessInfo.processInfo.environment["ASSAY_XLSX_BENCH_ROWS"].flatMap(Int.init) ?? 200_000
        // ID, Name, Ratio, Day, At, OK: integer, text, decimal, date, timestamp, boolean.
        let columns = Self.columns.filter { ![.currency, .percent].contains($0.kind) }
        let pool: [[String?]] = (0..<1_000).map { i in
            let day = "2024-0\(i % 9 + 1)-\(10 + i % 18)"
            return [String(100_000 + i), "Customer \(i) of region \(i % 17)", "\(i * 37 % 10_000).\(i % 100)", day,
                    "\(day) \(10 + i % 13):\(10 + i % 49):\(10 + i % 49)+00", i % 3 == 0 ? nil : (i % 2 == 0 ? "t" : "f")]
        }
        let path = directory.appendingPathComponent("speed.xlsx").path
        let book = try XLSXWorkbook(path: path, tempDirectory: directory.path, options: XLSXOptions())
        let startCPU = Self.cpuSeconds()
        let start = ContinuousClock.now
        let written = try book.addTable(ExportTable(title: "Speed", columns: columns), rows: { each in
            for i in 0..<count { try each(pool[i % pool.count]) }
        }, progress: nil)
        let rowsDone = ContinuousClock.now
        let rowsCPU = Self.cpuSeconds()
        try book.close()
        let closed = ContinuousClock.now
        let closedCPU = Self.cpuSeconds()
        XCTAssertEqual(written, count)

        func seconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
        print(String(format: "xlsx speed: %d rows, addTable %.2f s (%.0f rows/s), with close %.2f s (%.0f rows/s), file %.1f MB, peak RSS %@",
                     count, seconds(rowsDone - start), Double(count) / seconds(rowsDone - start),
                     seconds(closed - start), Double(count) / seconds(closed - start), Double(size) / 1e6, Self.peakRSS()))
        // CPU time tells the speed on a quiet machine when other builds share the cores.
        print(String(format: "xlsx speed (CPU time): addTable %.2f s (%.0f rows/s), with close %.2f s (%.0f rows/s)",
                     rowsCPU - startCPU, Double(count) / (rowsCPU - startCPU),
                     closedCPU - startCPU, Double(count) / (closedCPU - startCPU)))
    }

    private static func cpuSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private static func peakRSS() -> String {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return line.map { $0.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces) } ?? "unknown"
    }
}

/// A read-only .xlsx package, opened with libzip.
private final class ZipFile {
    struct Cell {
        let style: Int
        let type: String?
        let value: String?
        let text: String?
    }

    private let archive: OpaquePointer

    init(_ path: String) throws {
        var error: Int32 = 0
        guard let archive = zip_open(path, ZIP_RDONLY, &error) else { throw ExportError("zip_open \(path): \(error)") }
        self.archive = archive
    }

    deinit { zip_discard(archive) }

    func names() throws -> [String] {
        (0..<zip_get_num_entries(archive, 0)).compactMap { zip_get_name(archive, zip_uint64_t($0), 0).map { String(cString: $0) } }
    }

    func text(_ name: String) throws -> String {
        var status = zip_stat_t()
        guard zip_stat(archive, name, 0, &status) == 0, let file = zip_fopen(archive, name, 0) else {
            throw ExportError("no \(name) in the package")
        }
        defer { zip_fclose(file) }
        var bytes = [UInt8](repeating: 0, count: Int(status.size))
        let read = bytes.withUnsafeMutableBytes { zip_fread(file, $0.baseAddress!, status.size) }
        guard read == Int64(status.size) else { throw ExportError("short read of \(name)") }
        return String(decoding: bytes, as: UTF8.self)
    }

    func sheetNames() throws -> [String] {
        try Self.matches(of: #"<sheet name="([^"]*)""#, in: text("xl/workbook.xml"))
    }

    /// The cell at `reference` ("B2") of `sheet` ("sheet1"), nil if the sheet has none there.
    func cell(_ sheet: String, _ reference: String) throws -> Cell? {
        let xml = try text("xl/worksheets/\(sheet).xml")
        let pattern = #"<c r="\#(reference)"( s="(\d+)")?( t="(\w+)")?(/>|>(.*?)</c>)"#
        guard let match = try Regex(pattern).firstMatch(in: xml) else { return nil }
        let body = match.output[6].substring.map(String.init) ?? ""
        return Cell(style: match.output[2].substring.flatMap { Int($0) } ?? 0,
                    type: match.output[4].substring.map(String.init),
                    value: try Self.matches(of: "<v>(.*?)</v>", in: body).first,
                    text: try Self.matches(of: "<t[^>]*>(.*?)</t>", in: body).first)
    }

    /// The number format code of cell style `style`.
    func numberFormat(style: Int) throws -> String? {
        let id = try attribute("numFmtId", ofStyle: style)
        let styles = try text("xl/styles.xml")
        return try Self.matches(of: #"<numFmt numFmtId="\#(id)" formatCode="([^"]*)""#, in: styles).first
    }

    func isShaded(style: Int) throws -> Bool {
        let fill = try Int(attribute("fillId", ofStyle: style)) ?? 0
        let fills = try Self.matches(of: "<fill>(.*?)</fill>", in: text("xl/styles.xml"))
        return fills[fill].contains("rgb=\"FFFFF2CC\"")
    }

    func isBold(style: Int) throws -> Bool {
        let font = try Int(attribute("fontId", ofStyle: style)) ?? 0
        return try Self.matches(of: "<font>(.*?)</font>", in: text("xl/styles.xml"))[font].contains("<b/>")
    }

    private func attribute(_ name: String, ofStyle style: Int) throws -> String {
        let styles = try text("xl/styles.xml")
        let cellXfs = try Self.matches(of: "<cellXfs[^>]*>(.*?)</cellXfs>", in: styles)[0]
        let xf = try Self.matches(of: "(<xf [^>]*)", in: cellXfs)[style]
        return try Self.matches(of: #"\#(name)="(\d+)""#, in: xf).first ?? "0"
    }

    private static func matches(of pattern: String, in text: String) throws -> [String] {
        try text.matches(of: Regex(pattern).dotMatchesNewlines()).compactMap { $0.output[1].substring.map(String.init) }
    }
}
