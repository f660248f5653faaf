import CPangoCairo

/// A table's columns fitted to a page width, with one reusable text box per column: the
/// report measures a row (`setRow`), decides whether it fits on the page, then draws it.
final class PDFTableLayout {
    /// Space between a cell's text and its edges, in points.
    static let horizontalPadding = 3.0
    static let verticalPadding = 1.5
    /// Rows read before the column widths are fixed; they are kept until then, so this bounds
    /// the memory the whole table takes.
    static let sampleRows = 200
    /// No column asks for more than this (before padding): a long description should wrap
    /// rather than push every other column off a portrait page.
    static let maxNaturalWidth = 200.0
    /// Fewer points than this per column and text would break every character or two.
    static let minWidth = 24.0
    static let maxCellLines = 4
    static let maxHeaderLines = 3
    /// Cells below this confidence are shaded.
    static let lowConfidence = 0.6
    /// Light enough to print on any printer and still read the text on top.
    static let stripe = (red: 0.95, green: 0.95, blue: 0.95)
    static let headerBand = (red: 0.85, green: 0.87, blue: 0.9)
    static let doubtful = (red: 1.0, green: 0.88, blue: 0.6)

    let columns: [ExportColumn]
    /// Each column's width including padding; they add up to `totalWidth`.
    let widths: [Double]
    let totalWidth: Double
    let headerHeight: Double
    private let cells: [PDFCell]
    private let headers: [PDFTextBox]

    init(columns: [ExportColumn], widths: [Double], context: OpaquePointer, fonts: PDFFonts, batch: PDFGlyphBatch?) {
        self.columns = columns
        self.widths = widths
        totalWidth = widths.reduce(0, +)
        cells = zip(columns, widths).map { column, width in
            PDFCell(context: context, font: fonts.body, batch: batch, width: width - 2 * Self.horizontalPadding,
                    maxLines: Self.maxCellLines, rightAligned: column.kind.isNumeric)
        }
        headers = zip(columns, widths).map { column, width in
            let box = PDFTextBox(context: context, font: fonts.bold, width: width - 2 * Self.horizontalPadding,
                                 maxLines: Self.maxHeaderLines, rightAligned: column.kind.isNumeric)
            box.setText(column.header)
            return box
        }
        headerHeight = headers.map(\.size.height).max().map { $0 + 2 * Self.verticalPadding } ?? 0
    }

    // MARK: - Column widths

    /// How wide each column would like to be (padding included): its widest header or value
    /// among `sample`, capped at `maxNaturalWidth`.
    static func naturalWidths(columns: [ExportColumn], sample: [[String?]], context: OpaquePointer,
                              fonts: PDFFonts) -> [Double] {
        let header = PDFTextBox(context: context, font: fonts.bold, width: nil)
        let body = PDFTextBox(context: context, font: fonts.body, width: nil)
        return columns.indices.map { index in
            let widest = sample.reduce(measure(header, columns[index].header)) { widest, row in
                let value = index < row.count ? display(row[index], kind: columns[index].kind) : ""
                return max(widest, measure(body, value))
            }
            return max(min(widest, maxNaturalWidth), minWidth) + 2 * horizontalPadding
        }
    }

    /// Only a prefix is measured: past `maxNaturalWidth` the exact width no longer matters.
    private static func measure(_ box: PDFTextBox, _ text: String) -> Double {
        box.setText(String(text.prefix(120)))
        return box.size.width
    }

    /// Widths that fill `available` points. A table narrower than that is widened in
    /// proportion; a wider one keeps its narrow columns whole and shares what is left equally
    /// among the wide ones, so only long text wraps. If even the minimum widths do not fit,
    /// every column gets an equal share.
    static func fit(_ natural: [Double], into available: Double) -> [Double] {
        let total = natural.reduce(0, +)
        guard total > available else { return natural.map { $0 * available / max(total, 1) } }
        let minimum = minWidth + 2 * horizontalPadding
        guard minimum * Double(natural.count) < available else {
            return natural.map { _ in available / Double(natural.count) }
        }
        var widths = natural
        var remaining = available
        var open = natural.indices.sorted { natural[$0] < natural[$1] }[...]
        while let narrowest = open.first, natural[narrowest] <= remaining / Double(open.count) {
            remaining -= natural[narrowest]
            open = open.dropFirst()
        }
        for index in open { widths[index] = remaining / Double(open.count) }
        return widths
    }

    /// Whether any of `notes` will be shaded, so the report explains the shading.
    static func hasDoubtfulCells(_ notes: [Int: [Int: CellNote]]) -> Bool {
        notes.values.contains { $0.values.contains { $0.confidence < lowConfidence } }
    }

    // MARK: - Rows

    /// What a cell shows for a PostgreSQL text value: NULL as nothing, booleans as words, the
    /// rest as it came.
    static func display(_ value: String?, kind: ExportKind) -> String {
        guard let value else { return "" }
        if kind == .boolean {
            if value == "t" { return "true" }
            if value == "f" { return "false" }
        }
        return value
    }

    /// Whether a value of the row last given to `setRow` was cut to fit its cell.
    private(set) var rowShortened = false

    /// Sets a row's values into the column boxes and returns the row's height in points.
    func setRow(_ values: [String?]) -> Double {
        var tallest = 0.0
        rowShortened = false
        for (index, box) in cells.enumerated() {
            let value = index < values.count ? Self.display(values[index], kind: columns[index].kind) : ""
            tallest = max(tallest, box.setText(Self.cellText(value)))
            if box.shortened { rowShortened = true }
        }
        return tallest + 2 * Self.verticalPadding
    }

    /// Draws the row last given to `setRow`: a zebra stripe on odd rows, a light amber on
    /// low-confidence cells, then the text.
    func drawRow(_ cr: OpaquePointer, x: Double, y: Double, height: Double, striped: Bool,
                 notes: [Int: CellNote]?) {
        if striped {
            Self.fill(cr, x: x, y: y, width: totalWidth, height: height, color: Self.stripe)
        }
        if let notes {
            var left = x
            for (index, width) in widths.enumerated() {
                if let note = notes[index], note.confidence < Self.lowConfidence {
                    Self.fill(cr, x: left, y: y, width: width, height: height, color: Self.doubtful)
                }
                left += width
            }
        }
        drawText(cr, cells, x: x, y: y)
    }

    /// The header: bold text on a grey band with a rule below, repeated on every page.
    func drawHeader(_ cr: OpaquePointer, x: Double, y: Double) {
        Self.fill(cr, x: x, y: y, width: totalWidth, height: headerHeight, color: Self.headerBand)
        drawText(cr, headers, x: x, y: y)
        cairo_set_source_rgb(cr, 0.3, 0.3, 0.3)
        cairo_set_line_width(cr, 0.5)
        cairo_move_to(cr, x, y + headerHeight)
        cairo_line_to(cr, x + totalWidth, y + headerHeight)
        cairo_stroke(cr)
    }

    private func drawText(_ cr: OpaquePointer, _ texts: [some PDFDrawable], x: Double, y: Double) {
        cairo_set_source_rgb(cr, 0, 0, 0)
        var left = x
        for (text, width) in zip(texts, widths) {
            text.draw(cr, x: left + Self.horizontalPadding, y: y + Self.verticalPadding)
            left += width
        }
    }

    static func fill(_ cr: OpaquePointer, x: Double, y: Double, width: Double, height: Double,
                     color: (red: Double, green: Double, blue: Double)) {
        cairo_set_source_rgb(cr, color.red, color.green, color.blue)
        cairo_rectangle(cr, x, y, width, height)
        cairo_fill(cr)
    }

    /// Longer values are cut to this many characters before layout: more cannot show in
    /// `maxCellLines` lines of any column, and Pango would wrap all of it before ellipsizing.
    static let maxCellCharacters = 2_000

    /// A value as one short paragraph. Pango caps lines per paragraph, so line and paragraph
    /// breaks become spaces: otherwise a value of many short lines could still fill a page.
    static func cellText(_ value: String) -> String {
        let text = value.utf8.count > maxCellCharacters ? String(value.prefix(maxCellCharacters)) : value
        // Line breaks are control characters or, beyond ASCII, U+0085, U+2028 and U+2029,
        // whose UTF-8 starts with 0xC2 or 0xE2; most values have neither and return at once.
        guard text.utf8.contains(where: { $0 < 0x20 || $0 == 0xC2 || $0 == 0xE2 }) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}" ? " " : scalar
        }))
    }
}

extension ExportKind {
    /// Numbers are right-aligned so their digits line up.
    var isNumeric: Bool { [.integer, .decimal, .currency, .percent].contains(self) }
}
