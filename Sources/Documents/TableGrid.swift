import Foundation

/// A table's cells laid on a grid, the form both detectors build before a `DetectedTable`:
/// every slot knows the cell that covers it, so spanning cells are explicit.
struct TableGrid {
    struct Cell {
        var text: String
        var confidence: Double
    }

    /// `slots[row][column]` is the index in `cells` of the cell covering that position, or nil.
    var slots: [[Int?]]
    var cells: [Cell]
    /// Leading rows that label the columns.
    var headerRows = 0

    init(rows: Int, columns: Int) {
        slots = Array(repeating: Array(repeating: nil, count: columns), count: rows)
        cells = []
    }

    var rowCount: Int { slots.count }
    var columnCount: Int { slots.first?.count ?? 0 }

    /// Places a cell over a rectangle of slots; a slot already taken keeps its cell.
    mutating func place(_ cell: Cell, rows: Range<Int>, columns: Range<Int>) {
        cells.append(cell)
        for row in rows { for column in columns where slots[row][column] == nil { slots[row][column] = cells.count - 1 } }
    }

    /// Whether the slot is where its cell starts (its top-left position).
    func isOrigin(row: Int, column: Int) -> Bool {
        guard let index = slots[row][column] else { return false }
        let above = row > 0 ? slots[row - 1][column] : nil, left = column > 0 ? slots[row][column - 1] : nil
        return above != index && left != index
    }

    func text(row: Int, column: Int) -> String { slots[row][column].map { cells[$0].text } ?? "" }

    /// Strings as the benchmark and the ICDAR format want them: a cell's text in its
    /// top-left position and "" in the other positions it covers.
    var textGrid: [[String]] {
        slots.indices.map { row in
            slots[row].indices.map { column in isOrigin(row: row, column: column) ? text(row: row, column: column) : "" }
        }
    }

    /// Drops rows and columns in which no cell with text starts (gaps between rules,
    /// padding columns); cells covering them shrink.
    mutating func compact() {
        let keepRows = slots.indices.filter { row in
            slots[row].indices.contains { isOrigin(row: row, column: $0) && !text(row: row, column: $0).isEmpty }
        }
        let keepColumns = (0..<columnCount).filter { column in
            slots.indices.contains { isOrigin(row: $0, column: column) && !text(row: $0, column: column).isEmpty }
        }
        slots = keepRows.map { row in keepColumns.map { slots[row][$0] } }
        headerRows = min(headerRows, keepRows.count)
    }

    /// Drops a first or last row that is one cell across the whole table holding a
    /// caption or a source note drawn inside the frame.
    mutating func dropTitleRows() {
        func isTitle(_ row: Int) -> Bool {
            columnCount > 1 && slots[row][0] != nil && slots[row].allSatisfy { $0 == slots[row][0] }
                && TextShape.isCaption(text(row: row, column: 0))
                && (row == 0 || slots[row - 1][0] != slots[row][0]) && (row + 1 == rowCount || slots[row + 1][0] != slots[row][0])
        }
        while rowCount > 2, isTitle(0) { slots.removeFirst() }
        while rowCount > 2, isTitle(rowCount - 1) { slots.removeLast() }
        headerRows = min(headerRows, rowCount)
    }

    /// Share of positions holding the start of a non-empty cell.
    var fill: Double {
        guard rowCount > 0, columnCount > 0 else { return 0 }
        var filled = 0
        for row in slots.indices {
            for column in slots[row].indices where isOrigin(row: row, column: column) && !text(row: row, column: column).isEmpty {
                filled += 1
            }
        }
        return Double(filled) / Double(rowCount * columnCount)
    }

    /// Leading rows that read as labels: not mostly numbers past the first column (years
    /// count as labels, as in a header "1997 1998 …"), not holding numbers where the rows
    /// below hold them, and at least one data row after them.
    mutating func findHeader() {
        var count = 0
        while count < min(3, rowCount - 1) {
            let row = count
            let values = (1..<max(1, columnCount)).map { isOrigin(row: row, column: $0) ? text(row: row, column: $0) : "" }
            guard !TextShape.isDataRow(values), !fillsNumberColumns(row) else { break }
            count += 1
        }
        headerRows = count == rowCount ? 0 : count
        keepGroupedHeaderRows()
    }

    /// Keeps a second or later header row only under a header cell that spans columns (a
    /// group label over its column labels) or runs down into it: otherwise the first body
    /// rows of a table of words (names, "Grade level", "$9,594 or less") read as labels too.
    mutating func keepGroupedHeaderRows() {
        var count = min(headerRows, 1)
        while count < headerRows, (0..<columnCount).contains(where: { column in
            guard let above = slots[count - 1][column] else { return false }
            return slots[count][column] == above || (column + 1 < columnCount && slots[count - 1][column + 1] == above)
        }) {
            count += 1
        }
        headerRows = count
    }

    /// Whether a row has numbers in the columns of numbers below it, as the rows of an
    /// invoice do whose descriptions, units and codes outnumber the figures: a column
    /// label is text over its figures ("Qty" over "12", "4", …).
    func fillsNumberColumns(_ row: Int) -> Bool {
        var labelled: [String] = []
        for column in 1..<max(1, columnCount) where isOrigin(row: row, column: column) {
            let value = text(row: row, column: column)
            guard TextShape.hasWordOrNumber(value) else { continue }
            let below = ((row + 1)..<rowCount).filter { isOrigin(row: $0, column: column) }
                .map { text(row: $0, column: column) }.filter(TextShape.hasWordOrNumber)
            let numbers = below.filter { TextShape.isNumeric($0) && !TextShape.isYear($0) }.count
            guard below.count >= 2, numbers * 3 >= below.count * 2 else { continue }
            labelled.append(value)
        }
        let numbers = labelled.filter { TextShape.isNumeric($0) && !TextShape.isYear($0) }
        return !labelled.isEmpty && numbers.count * 2 > labelled.count && !TextShape.isCount(numbers)
    }
}

extension TableGrid {
    /// The column ranges of tables set side by side under one header line, as a long list is
    /// set in two or three columns: the first header row repeats the same labels
    /// ("Age | Total population | Age | Total population"), each piece starts with row labels,
    /// and no cell crosses a cut.
    func sideBySide() -> [Range<Int>]? {
        guard headerRows >= 1, columnCount >= 4 else { return nil }
        let labels = (0..<columnCount).map { isOrigin(row: 0, column: $0) ? text(row: 0, column: $0) : "" }
        for width in 2...(columnCount / 2) where columnCount % width == 0 {
            let first = Array(labels[0..<width])
            guard !first.contains(""), Set(first).count == width else { continue }
            let ranges = stride(from: 0, to: columnCount, by: width).map { $0..<($0 + width) }
            guard ranges.allSatisfy({ Array(labels[$0]) == first }) else { continue }
            // Each piece starts with a column of row labels; repeated labels over figures only
            // ("Male | Female | Male | Female") are one table whose group labels were not found.
            let stubs = ranges.allSatisfy { range in
                let cells = (headerRows..<rowCount).map { text(row: $0, column: range.lowerBound) }.filter { !$0.isEmpty }
                return !cells.isEmpty && cells.filter(TextShape.isNumeric).count * 2 < cells.count
            }
            guard stubs else { return nil }
            let crossed = slots.contains { row in
                ranges.dropFirst().contains { row[$0.lowerBound] != nil && row[$0.lowerBound] == row[$0.lowerBound - 1] }
            }
            return crossed ? nil : ranges
        }
        return nil
    }

    /// The grid of some of the columns, rows left empty there dropped.
    func columns(_ range: Range<Int>) -> TableGrid {
        var part = self
        part.slots = slots.map { Array($0[range]) }
        part.compact()
        return part
    }
}

extension TableGrid {
    /// In a header of several levels (group labels spanning columns above column labels),
    /// a label with nothing above it moves up to the first header row: it spans the
    /// header rows, and a spanning cell's text sits top-left.
    mutating func raiseHeaderLabels() {
        guard headerRows > 1 else { return }
        func spansColumns(_ row: Int) -> Bool {
            (1..<columnCount).contains { slots[row][$0] != nil && slots[row][$0] == slots[row][$0 - 1] }
        }
        // The stub header (first column) spans all header rows: its lines are one label.
        let stubRows = (0..<headerRows).filter { row in
            isOrigin(row: row, column: 0) && !text(row: row, column: 0).isEmpty
                && !(columnCount > 1 && slots[row][1] == slots[row][0])
                && (1..<columnCount).contains { slots[row][$0] != nil }
        }
        if stubRows.count >= 2, (0..<headerRows).contains(where: spansColumns) {
            let parts = stubRows.compactMap { slots[$0][0] }.map { cells[$0] }
            cells.append(Cell(text: parts.map(\.text).joined(separator: " "), confidence: parts.map(\.confidence).min() ?? 1))
            for row in 0..<headerRows { slots[row][0] = cells.count - 1 }
        }
        // A column label wrapped over two header rows ("Elementary" over "ungraded", the second
        // line going on in lower case), beside group labels, is one label spanning them.
        if (0..<headerRows).contains(where: spansColumns) {
            for column in 1..<columnCount {
                func single(_ row: Int) -> Bool {
                    guard let index = slots[row][column], isOrigin(row: row, column: column) else { return false }
                    return slots[row][column - 1] != index && (column + 1 == columnCount || slots[row][column + 1] != index)
                }
                for row in 1..<headerRows where single(row - 1) && single(row) {
                    let (upper, lower) = (slots[row - 1][column]!, slots[row][column]!)
                    guard !cells[upper].text.isEmpty, let first = cells[lower].text.first, first.isLowercase || first == "(" else { continue }
                    cells.append(Cell(text: cells[upper].text + " " + cells[lower].text,
                                      confidence: min(cells[upper].confidence, cells[lower].confidence)))
                    slots[row - 1][column] = cells.count - 1
                    slots[row][column] = cells.count - 1
                }
            }
        }
        // A label with empty slots above it, up to the header's top or to a group label spanning
        // its column, moves up to the first of them ("Difference" under "Age-adjusted rate",
        // beside "2005" and "2010" over their column labels).
        for column in 0..<columnCount {
            guard let row = (1..<headerRows).first(where: { isOrigin(row: $0, column: column) && !text(row: $0, column: column).isEmpty }),
                  let index = slots[row][column], !(column + 1 < columnCount && slots[row][column + 1] == index) else { continue }
            var top = row
            while top > 0, slots[top - 1][column] == nil { top -= 1 }
            guard top < row, (top..<row).contains(where: spansColumns) else { continue }
            for above in top..<row { slots[above][column] = index }
        }
    }
}

/// What a piece of text looks like: a number, a year, prose.
enum TextShape {
    /// Mostly digits: "1,234", "$4.50", "(102.7–103.6)", "52%", "45–54", "-3.2".
    static func isNumeric(_ text: String) -> Bool {
        // A currency code set beside an amount ("EUR 85.00", "1,020.00 USD") is part of it.
        let words = text.split(separator: " ")
        if words.count > 1, words.filter({ currencyCodes.contains(String($0)) }).count == 1 {
            return isNumeric(words.filter { !currencyCodes.contains(String($0)) }.joined(separator: " "))
        }
        var digits = 0, letters = 0
        for scalar in text.unicodeScalars {
            if CharacterSet.decimalDigits.contains(scalar) { digits += 1 } else if CharacterSet.letters.contains(scalar) { letters += 1 }
        }
        return digits > 0 && letters <= 1 && digits >= letters * 3
    }

    /// A row of data rather than of labels: of its non-empty values (past the first
    /// column), at least half are numbers other than years, and the numbers are not a
    /// count "1 2 3 …" (column labels such as grades or years ahead).
    static func isDataRow(_ values: [String]) -> Bool {
        let filled = values.filter { !$0.isEmpty }
        let numbers = filled.filter { isNumeric($0) && !isYear($0) }
        guard !numbers.isEmpty, numbers.count * 2 >= filled.count else { return false }
        return !isCount(numbers)
    }

    /// Numbers counting up one by one, three or more: "1 2 3".
    static func isCount(_ numbers: [String]) -> Bool {
        let counting = numbers.compactMap { Int($0) }
        return counting.count >= 3 && counting.count == numbers.count && zip(counting, counting.dropFirst()).allSatisfy { $1 == $0 + 1 }
    }

    /// ISO codes that invoices and statements set beside amounts.
    static let currencyCodes: Set<String> = [
        "EUR", "USD", "GBP", "CHF", "JPY", "CNY", "CAD", "AUD", "NZD", "SEK", "NOK", "DKK", "PLN", "CZK", "HUF",
        "RON", "BGN", "TRY", "RUB", "INR", "BRL", "MXN", "ZAR", "HKD", "SGD", "KRW", "MYR", "THB", "IDR", "AED",
    ]

    /// Holds a letter or a digit (not only a dash or dots standing for no value).
    static func hasWordOrNumber(_ text: String) -> Bool {
        text.unicodeScalars.contains { CharacterSet.alphanumerics.contains($0) }
    }

    /// A list item's bullet: "•", "▪", "➢", or a symbol font's private-use bullet (U+F0B7).
    /// Not a dash or a number: those also stand in table columns (no value, a position).
    static func isListMarker(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.count == 1, let scalar = trimmed.unicodeScalars.first else { return false }
        return "•▪◦●○■□➢►‣∙".unicodeScalars.contains(scalar) || (0xE000...0xF8FF).contains(scalar.value)
    }

    /// A caption or a note about a table: "Table 3 …", "Figure 2.", "Source: …".
    static func isCaption(_ text: String) -> Bool {
        let first = text.split(separator: " ").first?.lowercased() ?? ""
        return ["table", "figure", "exhibit", "source:", "sources:", "note:", "notes:"].contains(first)
    }

    /// A year ("1997"), or a school or fiscal year running into the next ("2007–08", "1999-2000").
    static func isYear(_ text: String) -> Bool {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let parts = trimmed.split(whereSeparator: { "-–/".contains($0) }).map(String.init)
        guard let first = parts.first, first.count == 4, let year = Int(first), (1800...2100).contains(year) else { return false }
        switch parts.count {
        case 1: return trimmed.count == 4
        case 2:
            guard let next = Int(parts[1]), trimmed.count == 5 + parts[1].count else { return false }
            return parts[1].count == 2 ? next == (year + 1) % 100 : parts[1].count == 4 && next == year + 1
        default: return false
        }
    }

    static func wordCount(_ text: String) -> Int { text.split(separator: " ").count }

    /// Text read across letters set one under another (a chart's rotated axis title comes
    /// out of the text layer as lone letters): a quarter or more of the words, and at
    /// least four, are single letters.
    static func isScattered(_ words: [Substring]) -> Bool {
        let letters = words.filter { $0.count == 1 && $0.first!.isLetter }.count
        return letters >= 4 && letters * 4 >= words.count
    }

    /// A run of several words that is not a list of numbers: a sentence or part of one.
    static func isProse(_ text: String) -> Bool {
        let words = text.split(separator: " ")
        guard words.count >= 6 else { return false }
        return words.filter { word in word.contains { $0.isLetter } }.count * 3 >= words.count * 2
    }
}
