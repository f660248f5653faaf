#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CXlsxWriter

/// Writing one cell through libxlsxwriter: typed when the text parses as its column's kind,
/// as a string otherwise, so a stray `n/a` in a numeric column never fails an export.
/// Strings always go through `worksheet_write_string`, never the formula writer, so a text
/// cell `=1+1` stays the text `=1+1`.
enum XLSXCells {
    typealias Sheet = UnsafeMutablePointer<lxw_worksheet>
    typealias Format = UnsafeMutablePointer<lxw_format>

    /// Excel's longest cell text, in UTF-16 units.
    static let maxTextLength = 32_767

    /// Writes `value` as `kind` with `format`, or as a string with `textFormat` when it does
    /// not parse.
    @inline(__always)
    static func write(_ value: String, sheet: Sheet, row: lxw_row_t, column: lxw_col_t,
                      kind: ExportKind, format: Format?, textFormat: Format?) -> lxw_error {
        let count = value.utf8.count
        return value.withCString { text in
            switch kind {
            case .text:
                break
            case .integer:
                if let number = XLSXValues.integer(text, count: count) {
                    return worksheet_write_number(sheet, row, column, number, format)
                }
            case .decimal, .currency:
                if let number = XLSXValues.number(text, count: count) {
                    return worksheet_write_number(sheet, row, column, number, format)
                }
            case .percent:
                // Percent values arrive in percent units ("12.5" is 12.5%); Excel wants 0.125.
                if let number = XLSXValues.number(text, count: count) {
                    return worksheet_write_number(sheet, row, column, number / 100, format)
                }
            case .date:
                if var date = XLSXValues.date(text, count: count) {
                    return worksheet_write_datetime(sheet, row, column, &date, format)
                }
            case .timestamp:
                if var time = XLSXValues.timestamp(text, count: count) {
                    return worksheet_write_datetime(sheet, row, column, &time, format)
                }
            case .boolean:
                if let flag = XLSXValues.boolean(text, count: count) {
                    return worksheet_write_boolean(sheet, row, column, flag ? 1 : 0, format)
                }
            }
            return writeString(text, count: count, sheet: sheet, row: row, column: column,
                               format: kind == .text ? format : textFormat)
        }
    }

    /// Writes a Swift string as text (headers, metadata).
    static func writeString(_ value: String, sheet: Sheet, row: lxw_row_t, column: lxw_col_t, format: Format?) -> lxw_error {
        value.withCString { writeString($0, count: value.utf8.count, sheet: sheet, row: row, column: column, format: format) }
    }

    /// Attaches a comment to a cell of the row being written.
    static func writeComment(_ value: String, sheet: Sheet, row: lxw_row_t, column: lxw_col_t) -> lxw_error {
        value.withCString { text in
            withExcelText(text, count: value.utf8.count) { worksheet_write_comment(sheet, row, column, $0) }
        }
    }

    private static func writeString(_ text: UnsafePointer<CChar>, count: Int, sheet: Sheet, row: lxw_row_t,
                                    column: lxw_col_t, format: Format?) -> lxw_error {
        withExcelText(text, count: count) { worksheet_write_string(sheet, row, column, $0, format) }
    }

    /// Calls `body` with `text` cut to Excel's 32,767 characters (libxlsxwriter refuses longer
    /// strings). A UTF-8 string never has more UTF-16 units than bytes, so only text longer
    /// than the limit in bytes is measured, and only text over it is copied.
    static func withExcelText<Result>(_ text: UnsafePointer<CChar>, count: Int,
                                      _ body: (UnsafePointer<CChar>) -> Result) -> Result {
        guard count > maxTextLength else { return body(text) }
        let length = excelPrefixLength(UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self), count: count)
        guard length < count else { return body(text) }
        var copy = [CChar](repeating: 0, count: length + 1)
        copy.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: text, count: length) }
        return body(copy)
    }

    /// The byte length of the longest whole-character prefix of at most 32,767 UTF-16 units
    /// (a four-byte UTF-8 sequence is two units, any other one).
    private static func excelPrefixLength(_ bytes: UnsafePointer<UInt8>, count: Int) -> Int {
        var units = 0
        for index in 0..<count where bytes[index] & 0xC0 != 0x80 {
            units += bytes[index] >= 0xF0 ? 2 : 1
            if units > maxTextLength { return index }
        }
        return count
    }
}
