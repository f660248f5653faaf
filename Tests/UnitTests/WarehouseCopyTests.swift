import Data
import XCTest

/// The COPY statements exports read warehouse tables with, and COPY's text format.
final class WarehouseCopyTests: XCTestCase {
    func testCopyOutStatementsQuoteNamesAndKeepTheirOrder() {
        let text = WarehouseRepository.copyOutStatement(tableName: "doc_1", columns: ["a", "we\"ird"], orderBy: ["_row"],
                                                        format: .text)
        XCTAssertEqual(text.text, #"COPY (SELECT "a", "we""ird" FROM "warehouse"."doc_1" ORDER BY "_row") TO STDOUT"#)
        XCTAssertTrue(text.binds.isEmpty)
        let json = WarehouseRepository.copyOutStatement(tableName: "src_1", columns: ["id", "name"], orderBy: [],
                                                        format: .json)
        XCTAssertEqual(json.text, #"COPY (SELECT row_to_json(r) FROM (SELECT "id", "name" FROM "warehouse"."src_1") r) TO STDOUT"#)
    }

    func testCSVCopyProtectsOnlyTheNamedColumnsAndQuotesTheDelimiter() {
        let csv = WarehouseRepository.copyOutStatement(tableName: "t", columns: ["n", "s"], orderBy: ["n"],
                                                       format: .csv(delimiter: ";", protectingFormulasIn: ["s"]))
        XCTAssertEqual(csv.text, #"COPY (SELECT "n", CASE WHEN "s"::text ~ '^[-=+@\t\r]' THEN '''' || "s"::text ELSE "s"::text END "#
                       + #"FROM "warehouse"."t" ORDER BY "n") TO STDOUT (FORMAT csv, DELIMITER ';')"#)
        let tab = WarehouseRepository.copyOutStatement(tableName: "t", columns: ["n"], orderBy: [],
                                                       format: .csv(delimiter: "\t", protectingFormulasIn: []))
        XCTAssertEqual(tab.text, #"COPY (SELECT "n" FROM "warehouse"."t") TO STDOUT (FORMAT csv, DELIMITER E'\t')"#)
    }

    func testCSVCopyWritesBooleansAsTrueAndFalse() {
        let csv = WarehouseRepository.copyOutStatement(tableName: "t", columns: ["n", "paid"], orderBy: [],
                                                       format: .csv(delimiter: ",", protectingFormulasIn: [], booleans: ["paid"]))
        XCTAssertEqual(csv.text, #"COPY (SELECT "n", CASE WHEN "paid" THEN 'true' WHEN NOT "paid" THEN 'false' END "#
                       + #"FROM "warehouse"."t") TO STDOUT (FORMAT csv, DELIMITER ',')"#)
    }

    func testEncodedRowsDecodeToTheSameValues() {
        let values: [String?] = ["1", nil, "tab\there", "line\nbreak\r", #"back\slash \N"#, "", "2024-01-15", "-1234.5", "ünï"]
        var bytes: [UInt8] = []
        CopyText.encodeRow(values, into: &bytes)
        XCTAssertEqual(bytes.last, 0x0A)
        XCTAssertEqual(bytes.filter { $0 == 0x09 }.count, values.count - 1, "only separators are raw tabs")
        var decoded = [String?](repeating: "unset", count: values.count)
        bytes.withUnsafeBytes { CopyText.decode($0, into: &decoded) }
        XCTAssertEqual(decoded, values)
    }

    func testNULIsLeftOutAsTheSourceCopiesDo() {
        var bytes: [UInt8] = []
        CopyText.encodeRow(["a\u{0}b"], into: &bytes)
        XCTAssertEqual(bytes, Array("ab\n".utf8))
    }
}
