import Foundation

/// Reads a worksheet part (`xl/worksheets/sheetN.xml`) row by row into cell texts: shared
/// and inline strings resolved, formulas by their cached value (`<v>`; one never calculated
/// has none and stays empty), numbers as Excel shows them, numbers in a date or time format
/// as ISO 8601, booleans as `TRUE`/`FALSE`, errors as their text (`#DIV/0!`).
struct WorksheetRows {
    let strings: [String]
    /// What each cell style shows numbers as (`s` indexes it).
    let styles: [NumberFormatKind]
    let date1904: Bool

    typealias Cell = (column: Int, text: String)

    /// Calls `row` for every row with at least one filled cell, with its cells (columns from 0)
    /// in the file's order; cells empty or only blank are left out.
    func read(_ reader: XMLStreamReader, row: ([Cell]) throws -> Void) throws {
        var cells: [Cell] = []
        var rowNumber = 0, column = -1
        while try reader.next() {
            if reader.isElement("row") {
                cells.removeAll(keepingCapacity: true)
                column = -1
                // `r` may be left out: then a row follows the one before.
                rowNumber = try reader.attribute("r").map { try number(of: $0, in: reader) } ?? rowNumber + 1
            } else if reader.isEndElement("row") {
                if !cells.isEmpty { try row(cells) }
                cells.removeAll(keepingCapacity: true)
            } else if reader.isElement("c") {
                if let reference = reader.attribute("r") {
                    guard let place = CellReference(reference) else {
                        throw DocumentProblem("corrupt_document", "the XLSX part \(reader.part) has a cell at \"\(reference)\", which is not a place on a sheet")
                    }
                    column = place.column
                } else {
                    column += 1
                }
                guard column < CellReference.maxColumns else {
                    throw DocumentProblem("corrupt_document", "the XLSX part \(reader.part) has a row longer than a sheet's \(CellReference.maxColumns) columns")
                }
                if let text = try value(reader), text.contains(where: { !$0.isWhitespace }) { cells.append((column, text)) }
            }
        }
    }

    private func number(of row: String, in reader: XMLStreamReader) throws -> Int {
        guard let number = Int(row), (1...CellReference.maxRows).contains(number) else {
            throw DocumentProblem("corrupt_document", "the XLSX part \(reader.part) has a row numbered \"\(row)\", which is not a row of a sheet")
        }
        return number
    }

    /// The text of the cell (`<c>`) the reader is on, nil when it holds no value.
    private func value(_ reader: XMLStreamReader) throws -> String? {
        let type = reader.attribute("t") ?? "n"
        let style = reader.attribute("s").flatMap(Int.init) ?? 0
        guard !reader.isEmptyElement else { return nil }
        let level = reader.depth
        var stored: String?, inline: String?
        while try reader.next() {
            if reader.isElement("v") {
                stored = try reader.text()
            } else if reader.isElement("is") {
                inline = try WorkbookParts.richText(reader)
            } else if reader.isElement("f") {
                try reader.skipElement()
            } else if reader.nodeType == .endElement, reader.depth == level {
                break
            }
        }
        switch type {
        case "s":
            guard let stored else { return nil }
            guard let index = Int(stored), strings.indices.contains(index) else {
                throw DocumentProblem("corrupt_document",
                                      "the XLSX part \(reader.part) refers to shared string \(stored) of \(strings.count)")
            }
            return strings[index]
        case "inlineStr":
            return inline ?? stored
        case "b":
            return stored.map { $0 == "1" ? "TRUE" : $0 == "0" ? "FALSE" : $0 }
        case "d":
            return stored.map(CellValueText.isoDate)
        case "str", "e":
            return stored
        default:
            guard let stored else { return nil }
            let kind = styles.indices.contains(style) ? styles[style] : .number
            if kind != .number, let serial = Double(stored),
               let date = CellValueText.date(serial: serial, kind: kind, date1904: date1904) {
                return date
            }
            return CellValueText.number(stored)
        }
    }
}

/// A sheet's filled rows laid out as a table: a column no row fills is dropped (a table
/// placed at C5 starts in its first column), and a gap between filled cells is an empty cell.
struct SheetGrid {
    private(set) var rows: [[WorksheetRows.Cell]] = []
    private(set) var rowCount = 0
    private(set) var columns: Set<Int> = []
    /// Whether the rows are kept (to store the table) or only counted (to check a file).
    let keepsRows: Bool

    mutating func add(_ cells: [WorksheetRows.Cell]) {
        rowCount += 1
        for cell in cells { columns.insert(cell.column) }
        if keepsRows { rows.append(cells) }
    }

    /// Cells of the table, gaps included.
    var cellCount: Int { rowCount * columns.count }

    /// The rows as a table of the filled columns, each row as wide as the widest.
    mutating func table() -> [[String]] {
        let order = columns.sorted()
        var position = [Int](repeating: 0, count: (order.last ?? 0) + 1)
        for (index, column) in order.enumerated() { position[column] = index }
        var table: [[String]] = []
        table.reserveCapacity(rows.count)
        for index in rows.indices {
            var row = [String](repeating: "", count: order.count)
            // A cell given twice keeps the later value, as Excel would.
            for cell in rows[index] { row[position[cell.column]] = cell.text }
            table.append(row)
            rows[index] = []
        }
        rows = []
        return table
    }
}
