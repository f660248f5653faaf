import CXlsxWriter

/// Column widths guessed from the header and the first rows, in Excel's character units. The
/// sample is short because widths have to be settled before a sheet is closed and rows are not
/// kept; in constant-memory mode the `<cols>` element is assembled at close, so widths can be
/// set after the sampled rows are written.
struct XLSXColumnWidths {
    static let sampleRows = 200
    static let range = 6.0...60.0
    /// Room for the autofilter's drop-down button next to a header.
    private static let filterButton = 3.0

    private var widths: [Double]
    private let kinds: [ExportKind]
    private(set) var sampled = 0

    init(headers: [String], kinds: [ExportKind]) {
        self.kinds = kinds
        widths = headers.map { Double($0.unicodeScalars.count) + Self.filterButton }
    }

    var isSampling: Bool { sampled < Self.sampleRows }

    /// Widens the columns for one more sampled row.
    mutating func measure(_ values: [String?]) {
        for (column, value) in zip(kinds.indices, values) {
            guard let value else { continue }
            widths[column] = max(widths[column], Self.displayWidth(value, kind: kinds[column]))
        }
        sampled += 1
    }

    /// Sets the widths on `sheet`.
    func apply(to sheet: UnsafeMutablePointer<lxw_worksheet>) throws {
        for (column, width) in widths.enumerated() {
            let clamped = min(max(width + 1, Self.range.lowerBound), Self.range.upperBound)
            try XLSXWorkbook.check(worksheet_set_column(sheet, lxw_col_t(column), lxw_col_t(column), clamped, nil),
                                   "setting the width of column \(column + 1)")
        }
    }

    /// Roughly how many characters the cell shows once formatted: dates and times have fixed
    /// widths, currency gains thousands separators, percent a sign and two decimals.
    private static func displayWidth(_ value: String, kind: ExportKind) -> Double {
        let characters = value.utf8.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
        switch kind {
        case .date: return 10
        case .timestamp: return 19
        case .boolean: return 5
        case .currency: return Double(characters + characters / 3 + 1)
        case .percent: return Double(characters + 2)
        case .integer, .decimal, .text: return Double(characters)
        }
    }
}
