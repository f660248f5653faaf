import Documents
import Exporters
import Foundation
import XCTest

final class WorkbookCellTests: XCTestCase {
    func testCellReferencesArePlacesOnTheGrid() {
        XCTAssertEqual(CellReference("A1"), CellReference(column: 0, row: 1))
        XCTAssertEqual(CellReference("B3"), CellReference(column: 1, row: 3))
        XCTAssertEqual(CellReference("Z9"), CellReference(column: 25, row: 9))
        XCTAssertEqual(CellReference("AA10"), CellReference(column: 26, row: 10))
        XCTAssertEqual(CellReference("$C$7"), CellReference(column: 2, row: 7))
        XCTAssertEqual(CellReference("XFD1048576"), CellReference(column: 16_383, row: 1_048_576))
        for bad in ["", "A", "7", "A0", "1A", "XFE1", "A1048577", "AAAA1", "A1B", "A-1", "É1"] {
            XCTAssertNil(CellReference(bad), bad)
        }
    }

    func testDateSerialsInThe1900SystemKeepTheLeapYearBug() {
        func date(_ serial: Double) -> String? { CellValueText.date(serial: serial, kind: .date, date1904: false) }
        XCTAssertEqual(date(1), "1900-01-01")
        XCTAssertEqual(date(59), "1900-02-28")
        XCTAssertNil(date(60), "1900-02-29 never was")
        XCTAssertEqual(date(61), "1900-03-01")
        XCTAssertEqual(date(25_569), "1970-01-01")
        XCTAssertEqual(date(45_306), "2024-01-15")
        XCTAssertEqual(date(45_306.75), "2024-01-15", "a date format shows the day only")
        XCTAssertEqual(date(2_958_465), "9999-12-31")
        XCTAssertNil(date(0))
        XCTAssertNil(date(-1))
        XCTAssertNil(date(2_958_466))
    }

    func testDateSerialsInThe1904System() {
        XCTAssertEqual(CellValueText.date(serial: 0, kind: .date, date1904: true), "1904-01-01")
        XCTAssertEqual(CellValueText.date(serial: 43_844, kind: .date, date1904: true), "2024-01-15")
    }

    func testTimesDateTimesAndDurations() {
        XCTAssertEqual(CellValueText.date(serial: 45_306.5729166667, kind: .dateTime, date1904: false), "2024-01-15 13:45:00")
        XCTAssertEqual(CellValueText.date(serial: 0.5729166667, kind: .time, date1904: false), "13:45:00")
        XCTAssertEqual(CellValueText.date(serial: 45_306.25, kind: .time, date1904: false), "06:00:00")
        XCTAssertEqual(CellValueText.date(serial: 1.520833333, kind: .duration, date1904: false), "36:30:00")
        XCTAssertEqual(CellValueText.date(serial: 45_306.99999999, kind: .dateTime, date1904: false), "2024-01-16 00:00:00",
                       "rounded to the second as Excel shows it")
    }

    func testWhichNumberFormatsShowDates() {
        for id in 14...17 { XCTAssertEqual(NumberFormatKind.builtIn(id), .date, "\(id)") }
        for id in [18, 19, 20, 21, 45, 47] { XCTAssertEqual(NumberFormatKind.builtIn(id), .time, "\(id)") }
        XCTAssertEqual(NumberFormatKind.builtIn(22), .dateTime)
        XCTAssertEqual(NumberFormatKind.builtIn(46), .duration)
        for id in [0, 1, 2, 4, 9, 10, 11, 13, 23, 44, 48, 49] { XCTAssertEqual(NumberFormatKind.builtIn(id), .number, "\(id)") }

        XCTAssertEqual(NumberFormatKind.of(code: "yyyy-mm-dd"), .date)
        XCTAssertEqual(NumberFormatKind.of(code: "d/m/yy;@"), .date)
        XCTAssertEqual(NumberFormatKind.of(code: "[$-409]mmmm d, yyyy"), .date)
        XCTAssertEqual(NumberFormatKind.of(code: "mmm"), .date)
        XCTAssertEqual(NumberFormatKind.of(code: "dd/mm/yyyy hh:mm"), .dateTime)
        XCTAssertEqual(NumberFormatKind.of(code: "h:mm AM/PM"), .time)
        XCTAssertEqual(NumberFormatKind.of(code: "mm:ss.0"), .time)
        XCTAssertEqual(NumberFormatKind.of(code: "[h]:mm:ss"), .duration)
        XCTAssertEqual(NumberFormatKind.of(code: "General"), .number)
        XCTAssertEqual(NumberFormatKind.of(code: "#,##0.00 \"days\""), .number, "quoted text is not a format")
        XCTAssertEqual(NumberFormatKind.of(code: "0 \\d"), .number, "an escaped letter is not a format")
        XCTAssertEqual(NumberFormatKind.of(code: "[Red]#,##0;[Blue]-#,##0"), .number)
        XCTAssertEqual(NumberFormatKind.of(code: "0.00E+00"), .number)
        XCTAssertEqual(NumberFormatKind.of(code: "_(\"$\"* #,##0.00_)"), .number)
        XCTAssertEqual(NumberFormatKind.of(code: "0%;\"d\"yyyy"), .number, "only the first section counts")
    }

    func testNumbersAsExcelShowsThem() {
        XCTAssertEqual(CellValueText.number("3"), "3")
        XCTAssertEqual(CellValueText.number("1234.5"), "1234.5")
        XCTAssertEqual(CellValueText.number("0.30000000000000004"), "0.3")
        XCTAssertEqual(CellValueText.number("1.5E-3"), "0.0015")
        XCTAssertEqual(CellValueText.number("-2.5E+20"), "-250000000000000000000")
        XCTAssertEqual(CellValueText.number("-0"), "0")
        XCTAssertEqual(CellValueText.number("n/a"), "n/a")
        // Stored text already as Excel shows it is kept as it is; anything else is reprinted.
        for (stored, shown) in [("0.5", "0.5"), ("-0.25", "-0.25"), ("0.0001", "0.0001"), ("0.00001", "0.00001"), ("1.50", "1.5"),
                                ("007", "7"), ("123456789012345", "123456789012345"), ("1234567890123456", "1234567890123460"),
                                ("0.1234567890123456", "0.123456789012346")] {
            XCTAssertEqual(CellValueText.number(stored), shown, stored)
        }
    }

    func testStrictDatesKeepTheirTimeOnlyWhenThereIsOne() {
        XCTAssertEqual(CellValueText.isoDate("2024-01-15T00:00:00"), "2024-01-15")
        XCTAssertEqual(CellValueText.isoDate("2024-01-15T13:45:00Z"), "2024-01-15 13:45:00")
        XCTAssertEqual(CellValueText.isoDate("2024-01-15"), "2024-01-15")
    }
}

/// Workbooks written part by part into a real zip (Exporters' `ZipArchive`, libzip) and read back.
final class WorkbookReaderTests: XCTestCase {
    static let spreadsheetML = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    static let relationshipsNS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("workbook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// A zip of the content types, workbook, relationships and worksheets for `sheets` (name,
    /// the XML inside `<sheetData>`), any of them replaced by `parts` (name → XML) or by
    /// `files` (name → a file on disk).
    func workbook(sheets: [(String, String)], parts extra: [String: String] = [:], files: [String: String] = [:],
                  date1904: Bool = false) throws -> String {
        var parts = extra
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"]
            ?? #"<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>"#
        var sheetList = "", relationships = ""
        for (index, (name, body)) in sheets.enumerated() {
            sheetList += #"<sheet name="\#(name)" sheetId="\#(index + 1)" r:id="rId\#(index + 1)"/>"#
            relationships += #"<Relationship Id="rId\#(index + 1)" Type="\#(WorkbookReaderTests.relationshipsNS)/worksheet" Target="worksheets/sheet\#(index + 1).xml"/>"#
            parts["xl/worksheets/sheet\(index + 1).xml"] = parts["xl/worksheets/sheet\(index + 1).xml"]
                ?? #"<worksheet xmlns="\#(WorkbookReaderTests.spreadsheetML)"><sheetData>\#(body)</sheetData></worksheet>"#
        }
        parts["xl/workbook.xml"] = parts["xl/workbook.xml"] ?? """
            <workbook xmlns="\(WorkbookReaderTests.spreadsheetML)" xmlns:r="\(WorkbookReaderTests.relationshipsNS)">\
            <workbookPr date1904="\(date1904 ? 1 : 0)"/><sheets>\(sheetList)</sheets></workbook>
            """
        if parts["xl/sharedStrings.xml"] != nil {
            relationships += #"<Relationship Id="rIdS" Type="\#(WorkbookReaderTests.relationshipsNS)/sharedStrings" Target="sharedStrings.xml"/>"#
        }
        if parts["xl/styles.xml"] != nil {
            relationships += #"<Relationship Id="rIdT" Type="\#(WorkbookReaderTests.relationshipsNS)/styles" Target="/xl/styles.xml"/>"#
        }
        parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"]
            ?? #"<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\#(relationships)</Relationships>"#
        let path = directory.appendingPathComponent("\(UUID().uuidString).xlsx").path
        let archive = try ZipArchive(path: path)
        for (name, file) in files {
            parts[name] = nil
            try archive.add(file: file, as: name, compress: true)
        }
        for (name, xml) in parts {
            let file = directory.appendingPathComponent(UUID().uuidString).path
            try Data((#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>"# + xml).utf8).write(to: URL(fileURLWithPath: file))
            try archive.add(file: file, as: name, compress: true)
        }
        try archive.close()
        return path
    }

    func tables(_ path: String, limits: WorkbookLimits = WorkbookLimits()) throws -> [(String, Int, [[String]])] {
        var tables: [(String, Int, [[String]])] = []
        try WorkbookReader(path: path, limits: limits).forEachSheet { tables.append(($0.name, $0.position, $1)) }
        return tables
    }

    func problem(_ path: String, limits: WorkbookLimits = WorkbookLimits()) -> DocumentProblem? {
        do {
            _ = try WorkbookReader(path: path, limits: limits).check()
            return nil
        } catch {
            return error as? DocumentProblem
        }
    }

    func testCellsOfEveryKindArePlacedByTheirReferences() throws {
        let strings = """
            <sst xmlns="\(WorkbookReaderTests.spreadsheetML)"><si><t>Name</t></si><si><t>Amount</t></si>\
            <si><r><t>Rich </t></r><r><rPr><b/></rPr><t xml:space="preserve">text </t></r><rPh><t>ignored</t></rPh></si></sst>
            """
        let styles = """
            <styleSheet xmlns="\(WorkbookReaderTests.spreadsheetML)"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/></numFmts>\
            <cellStyleXfs count="1"><xf numFmtId="14"/></cellStyleXfs>\
            <cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="22"/></cellXfs></styleSheet>
            """
        let body = """
            <row r="2"><c r="B2" t="s"><v>0</v></c><c r="C2" t="s"><v>1</v></c><c r="D2" t="inlineStr"><is><t>When</t></is></c>\
            <c r="E2" t="inlineStr"><is><t>Flag</t></is></c><c r="F2" t="str"><v>Sum</v></c></row>\
            <row r="3"><c r="B3" t="s"><v>2</v></c><c r="C3"><v>1.5E-3</v></c><c r="D3" s="1"><v>45306</v></c>\
            <c r="E3" t="b"><v>1</v></c><c r="F3"><f>C3*2</f><v>3.0000000000000004E-3</v></c></row>\
            <row r="5"><c r="B5" t="inlineStr"><is><r><t>in</t></r><r><t>line</t></r></is></c><c r="D5" s="2"><v>45306.5</v></c>\
            <c r="E5" t="e"><v>#DIV/0!</v></c><c r="F5"><f>1/0</f></c><c r="G5" s="1"/></row>
            """
        let path = try workbook(sheets: [("Data", body)], parts: ["xl/sharedStrings.xml": strings, "xl/styles.xml": styles])
        let tables = try tables(path)
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables[0].0, "Data")
        XCTAssertEqual(tables[0].2, [
            ["Name", "Amount", "When", "Flag", "Sum"],
            ["Rich text ", "0.0015", "2024-01-15", "TRUE", "0.003"],
            ["inline", "", "2024-01-15 12:00:00", "#DIV/0!", ""],
        ])
    }

    func testCellsWithoutReferencesFollowTheOneBefore() throws {
        let path = try workbook(sheets: [("S", "<row><c><v>1</v></c><c><v>2</v></c></row><row><c r=\"B2\"><v>3</v></c><c><v>4</v></c></row>")])
        XCTAssertEqual(try tables(path)[0].2, [["1", "2", ""], ["", "3", "4"]])
    }

    func testSeveralSheetsInTabOrderEmptyOnesSkipped() throws {
        let path = try workbook(sheets: [("First", #"<row r="1"><c r="A1"><v>1</v></c></row>"#),
                                         ("Blank", #"<row r="1"><c r="A1" s="0"/></row><row r="2"><c r="A2" t="inlineStr"><is><t> </t></is></c></row>"#),
                                         ("Third", #"<row r="1"><c r="A1"><v>3</v></c></row>"#)])
        XCTAssertEqual(try tables(path).map { "\($0.0)@\($0.1)" }, ["First@1", "Third@3"])
    }

    func testDate1904WorkbooksShiftTheirDates() throws {
        let styles = #"<styleSheet xmlns="\#(WorkbookReaderTests.spreadsheetML)"><cellXfs><xf numFmtId="14"/></cellXfs></styleSheet>"#
        let path = try workbook(sheets: [("S", #"<row r="1"><c r="A1" s="0"><v>43844</v></c></row>"#)],
                                parts: ["xl/styles.xml": styles], date1904: true)
        XCTAssertEqual(try tables(path)[0].2, [["2024-01-15"]])
    }

    func testProblemsAreNamed() throws {
        let malformed = try workbook(sheets: [("S", "")], parts: ["xl/worksheets/sheet1.xml": "<worksheet><sheetData><row></sheetData>"])
        XCTAssertEqual(problem(malformed)?.code, "corrupt_document")
        XCTAssertTrue(problem(malformed)?.description.contains("xl/worksheets/sheet1.xml") ?? false, "\(String(describing: problem(malformed)))")

        let badString = try workbook(sheets: [("S", #"<row r="1"><c r="A1" t="s"><v>7</v></c></row>"#)])
        XCTAssertEqual(problem(badString)?.description, "the XLSX part xl/worksheets/sheet1.xml refers to shared string 7 of 0")

        let offGrid = try workbook(sheets: [("S", #"<row r="1"><c r="XFE1"><v>1</v></c></row>"#)])
        XCTAssertEqual(problem(offGrid)?.code, "corrupt_document")

        let doctype = try workbook(sheets: [("S", "")], parts: [
            "xl/worksheets/sheet1.xml": #"<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><worksheet><sheetData/></worksheet>"#,
        ])
        XCTAssertTrue(problem(doctype)?.description.contains("document type declaration") ?? false)

        let empty = try workbook(sheets: [("S", "")])
        XCTAssertEqual(problem(empty)?.code, "empty_workbook")

        let noSheet = try workbook(sheets: [("S", "<row/>")], parts: ["xl/_rels/workbook.xml.rels": "<Relationships/>"])
        XCTAssertEqual(problem(noSheet)?.code, "corrupt_document")
    }

    func testLimitsOnRowsAndCells() throws {
        let body = (1...5).map { #"<row r="\#($0)"><c r="A\#($0)"><v>\#($0)</v></c><c r="C\#($0)"><v>1</v></c></row>"# }.joined()
        let path = try workbook(sheets: [("S", body)])
        var limits = WorkbookLimits()
        limits.maxRowsPerSheet = 4
        XCTAssertEqual(problem(path, limits: limits)?.code, "too_many_rows")
        limits = WorkbookLimits()
        limits.maxCells = 9
        XCTAssertEqual(problem(path, limits: limits)?.code, "too_many_cells")
        limits.maxCells = 10
        XCTAssertNil(problem(path, limits: limits))
        limits.maxUnpackedBytes = 100
        XCTAssertEqual(problem(path, limits: limits)?.code, "archive_too_large")
    }

    func testAZipBombIsRefusedFromTheDirectory() throws {
        // 64 MB of one byte deflates about 1,000 times.
        let file = directory.appendingPathComponent("bomb").path
        FileManager.default.createFile(atPath: file, contents: nil)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: file))
        let chunk = Data(repeating: 0x20, count: 1 << 20)
        for _ in 0..<64 { handle.write(chunk) }
        try handle.close()
        let bomb = try workbook(sheets: [("S", "")], files: ["xl/worksheets/sheet1.xml": file])
        let started = Date()
        let refused = problem(bomb)
        XCTAssertEqual(refused?.code, "archive_too_large")
        XCTAssertTrue(refused?.description.contains("zip bomb") ?? false, "\(String(describing: refused))")
        XCTAssertLessThan(Date().timeIntervalSince(started), 1)
    }

    func testRecognisedByContent() throws {
        let path = try workbook(sheets: [("S", #"<row r="1"><c r="A1"><v>1</v></c></row>"#)])
        XCTAssertTrue(WorkbookReader.recognizes(path: path, head: head(path)))
        XCTAssertEqual(FileType.recognize(path: path, head: head(path)), .xlsx)

        // A .docx has content types too, but no xl/ parts.
        let document = directory.appendingPathComponent("document.docx").path
        let archive = try ZipArchive(path: document)
        for name in ["[Content_Types].xml", "word/document.xml"] {
            let file = directory.appendingPathComponent(UUID().uuidString).path
            try Data("<x/>".utf8).write(to: URL(fileURLWithPath: file))
            try archive.add(file: file, as: name, compress: true)
        }
        try archive.close()
        XCTAssertFalse(WorkbookReader.recognizes(path: document, head: head(document)))
        XCTAssertNil(FileType.recognize(path: document, head: head(document)))

        // Cut short, libzip cannot open it, but its local headers still name xl/ parts.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let truncated = directory.appendingPathComponent("truncated.xlsx").path
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertEqual(FileType.recognize(path: truncated, head: head(truncated)), .xlsx)
        XCTAssertEqual(problem(truncated)?.code, "corrupt_document")
    }

    private func head(_ path: String) -> [UInt8] {
        [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: path)).prefix(16)) ?? Data())
    }
}
