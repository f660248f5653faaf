import Exporters
import XCTest

/// Batch zip entry names: the tables' human names made safe on Windows, macOS and Linux,
/// and unique however the names clash.
final class ExportFileNameTests: XCTestCase {
    func testCharactersNoSystemAcceptsBecomeUnderscores() {
        XCTAssertEqual(ExportFileName.safe(#"a/b\c:d*e?f"g<h>i|j"#), "a_b_c_d_e_f_g_h_i_j")
        XCTAssertEqual(ExportFileName.safe("tab\there\u{0}nul\u{1F}\u{7F}"), "tab_here_nul__")
        XCTAssertEqual(ExportFileName.safe("Rechnung März.pdf, table 2, page 1"), "Rechnung März.pdf, table 2, page 1")
    }

    func testTrailingDotsAndSpacesAndEmptyNames() {
        XCTAssertEqual(ExportFileName.safe("  report. . "), "report")
        XCTAssertEqual(ExportFileName.safe("..."), "table")
        XCTAssertEqual(ExportFileName.safe(""), "table")
    }

    func testReservedWindowsNamesGetAPrefix() {
        for name in ["CON", "nul", "Com1", "LPT9", "aux.pdf, table 1, page 1", "PRN "] {
            XCTAssertTrue(ExportFileName.safe(name).hasPrefix("_"), name)
        }
        XCTAssertEqual(ExportFileName.safe("CONTRACTS"), "CONTRACTS")
        XCTAssertEqual(ExportFileName.safe("COM10"), "COM10")
    }

    func testLongNamesAreCutAtACharacter() {
        let name = String(repeating: "é", count: 200)
        let safe = ExportFileName.safe(name)
        XCTAssertLessThanOrEqual(safe.utf8.count, ExportFileName.maxStemBytes)
        XCTAssertTrue(safe.allSatisfy { $0 == "é" })
        XCTAssertEqual(safe.count, ExportFileName.maxStemBytes / 2)
    }

    func testClashesAreNumberedIgnoringCase() {
        let names = ExportFileName.unique(["doc.pdf, table 1, page 1", "doc.pdf, table 1, page 1", "DOC.PDF, TABLE 1, PAGE 1",
                                           "a/b", "a_b", "doc.pdf, table 1, page 1 (2)"], extension: "csv")
        XCTAssertEqual(names, ["doc.pdf, table 1, page 1.csv", "doc.pdf, table 1, page 1 (2).csv",
                               "DOC.PDF, TABLE 1, PAGE 1 (3).csv", "a_b.csv", "a_b (2).csv",
                               "doc.pdf, table 1, page 1 (2) (2).csv"])
        XCTAssertEqual(Set(names.map { $0.lowercased() }).count, names.count)
    }
}
