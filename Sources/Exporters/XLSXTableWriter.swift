import CXlsxWriter

/// Writes one table's rows, in order, onto as many sheets as it needs: each sheet gets the
/// bold header, a pane frozen below it, an autofilter over header and data once its last row
/// is known, and the column widths sampled from the table's first rows.
struct XLSXTableWriter {
    typealias Sheet = XLSXCells.Sheet
    typealias Format = XLSXCells.Format

    private unowned let book: XLSXWorkbook
    private let title: String
    private let headers: [String]
    private let kinds: [ExportKind]
    /// Per column: the format of a parsed value, plain and shaded, and of text that did not parse.
    private let formats: [(plain: Format?, shaded: Format?, text: Format?, shadedText: Format?)]
    private let notes: [Int: [Int: CellNote]]
    private let lowConfidence: Double
    private let rowsPerSheet: Int
    private var widths: XLSXColumnWidths
    private var sheet: Sheet
    private(set) var sheets: [Sheet] = []
    private(set) var sheetNames: [String] = []
    private var rowInSheet = 0
    private(set) var rowsWritten = 0

    init(book: XLSXWorkbook, table: ExportTable, formats cellFormats: XLSXFormats, options: XLSXOptions) throws {
        guard !table.columns.isEmpty, table.columns.count <= Int(LXW_COL_MAX) else {
            throw ExportError("xlsx: table \"\(table.title)\" has \(table.columns.count) columns (1 to \(LXW_COL_MAX) fit a sheet)")
        }
        self.book = book
        title = table.title
        headers = table.columns.map(\.header)
        kinds = table.columns.map(\.kind)
        formats = try table.columns.map {
            (try cellFormats.cell($0, shaded: false), try cellFormats.cell($0, shaded: true),
             cellFormats.cell(.text, shaded: false), cellFormats.cell(.text, shaded: true))
        }
        notes = table.notes
        lowConfidence = options.lowConfidence
        rowsPerSheet = min(max(options.rowsPerSheet, 1), Int(LXW_ROW_MAX) - 1)
        widths = XLSXColumnWidths(headers: headers, kinds: kinds)
        let (first, name) = try book.addSheet(title: title, headers: headers)
        sheet = first
        try began(name: name)
    }

    /// Writes the next row, starting a new sheet when the current one is full.
    mutating func write(_ values: [String?]) throws {
        if rowInSheet == rowsPerSheet {
            try finishSheet()
            let (next, name) = try book.addSheet(title: title, headers: headers)
            sheet = next
            try began(name: name)
        }
        let row = lxw_row_t(rowInSheet + 1)
        let rowNotes = notes.isEmpty ? nil : notes[rowsWritten]
        for column in 0..<min(values.count, kinds.count) {
            let note = rowNotes?[column]
            if let note, note.confidence < lowConfidence {
                try writeCell(values[column], row: row, column: column, shaded: true)
                try writeComment(note, row: row, column: column)
            } else {
                try writeCell(values[column], row: row, column: column, shaded: false)
            }
        }
        if widths.isSampling {
            widths.measure(values)
            if !widths.isSampling { try applyWidths() }
        }
        rowInSheet += 1
        rowsWritten += 1
    }

    /// Closes the last sheet's autofilter and sets widths not yet set (tables shorter than
    /// the width sample).
    mutating func finish() throws {
        try finishSheet()
        if widths.isSampling { try applyWidths() }
    }

    /// Records the sheet just added as the current one.
    private mutating func began(name: String) throws {
        sheets.append(sheet)
        sheetNames.append(name)
        rowInSheet = 0
        if !widths.isSampling { try widths.apply(to: sheet) }
    }

    private func finishSheet() throws {
        try XLSXWorkbook.check(worksheet_autofilter(sheet, 0, 0, lxw_row_t(rowInSheet), lxw_col_t(kinds.count - 1)),
                               "adding the autofilter to sheet \(sheetNames.last ?? "")")
    }

    private func applyWidths() throws {
        for sheet in sheets { try widths.apply(to: sheet) }
    }

    /// NULL leaves the cell empty, unless it has to be shaded.
    @inline(__always)
    private func writeCell(_ value: String?, row: lxw_row_t, column: Int, shaded: Bool) throws {
        let format = formats[column]
        let error: lxw_error
        if let value {
            error = XLSXCells.write(value, sheet: sheet, row: row, column: lxw_col_t(column), kind: kinds[column],
                                    format: shaded ? format.shaded : format.plain,
                                    textFormat: shaded ? format.shadedText : format.text)
        } else if shaded {
            error = worksheet_write_blank(sheet, row, lxw_col_t(column), format.shaded)
        } else {
            return
        }
        if error != LXW_NO_ERROR {
            try XLSXWorkbook.check(error, "writing row \(rowsWritten + 1), column \(column + 1) of \"\(title)\"")
        }
    }

    private func writeComment(_ note: CellNote, row: lxw_row_t, column: Int) throws {
        let text = "Extracted text: \(note.original), confidence \(Self.twoDecimals(note.confidence))"
        try XLSXWorkbook.check(XLSXCells.writeComment(text, sheet: sheet, row: row, column: lxw_col_t(column)),
                               "adding a comment to row \(rowsWritten + 1), column \(column + 1) of \"\(title)\"")
    }

    /// `0.42` for 0.4213, without Foundation's formatter.
    static func twoDecimals(_ value: Double) -> String {
        let hundredths = Int((min(max(value, 0), 1) * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
