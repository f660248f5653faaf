import Foundation

/// A table found on a page: a header, rows of cells, and where it sits.
public struct DetectedTable: Sendable {
    public struct Cell: Sendable {
        public let text: String
        public let confidence: Double
        /// How many columns the cell covers (a header spanning two columns has 2).
        public let span: Int
    }

    public let page: Int
    public let bbox: (x0: Double, y0: Double, x1: Double, y1: Double)
    public let header: [String]
    /// Body rows; each has exactly `header.count` cells (a spanning cell repeats its text).
    public let rows: [[Cell]]
    public let spans: [[Int]]
    /// The header row as found on the page, or nil when the table has none (its
    /// `header` is then `column 1`, `column 2`, …).
    public let headerCells: [Cell]?
    /// Pages the table covers (one, or several when it continues across pages).
    public var pages: [Int] { [page] }

    /// The table as a grid of strings, header row first when there is one; a cell
    /// spanning columns has its text in the first position it covers and "" in the rest.
    public var textGrid: [[String]] {
        var grid: [[String]] = []
        if let headerCells { grid.append(headerCells.map(\.text)) }
        for (index, row) in rows.enumerated() {
            let rowSpans = index < spans.count ? spans[index] : []
            var texts = row.map(\.text)
            var position = 0
            while position < texts.count {
                let span = position < rowSpans.count ? max(1, rowSpans[position]) : 1
                for covered in (position + 1)..<min(texts.count, position + span) { texts[covered] = "" }
                position += span
            }
            grid.append(texts)
        }
        return grid
    }
    public var confidence: Double {
        let cells = rows.flatMap { $0 }
        return cells.isEmpty ? 0 : cells.map(\.confidence).reduce(0, +) / Double(cells.count)
    }
}

/// Finds unruled tables from word alignment.
///
/// Words are grouped into lines; each line is cut into cells at gaps wider than its
/// typical spacing; runs of at least three consecutive multi-cell lines whose cells fall
/// into consistent column bands form a table. Column bands are the merged horizontal
/// extents of the cells over the run, so ragged (left-, right- or centre-aligned)
/// columns still line up. A cell overlapping several bands spans them.
public enum TableDetector {
    struct Line {
        typealias Cell = (text: String, x0: Double, x1: Double, y0: Double, y1: Double, confidence: Double)
        var cells: [Cell]
        var y0: Double { cells.map(\.y0).min() ?? 0 }
        var y1: Double { cells.map(\.y1).max() ?? 0 }
    }

    public static func detect(_ page: PageModel, minRows: Int = 3) -> [DetectedTable] {
        let lines = makeLines(page.words)
        var tables: [DetectedTable] = []
        var start = 0
        while start < lines.count {
            guard lines[start].cells.count >= 2 else { start += 1; continue }
            var end = start
            var bands = columnBands([lines[start]])
            // Grow the run while the next line is multi-cell, close below, and keeps the bands consistent.
            while end + 1 < lines.count, lines[end + 1].cells.count >= 2 {
                let gap = lines[end + 1].y0 - lines[end].y1
                let height = max(1, lines[end].y1 - lines[end].y0)
                guard gap < height * 2.5 else { break }
                let candidate = columnBands(Array(lines[start...(end + 1)]))
                guard candidate.count >= 2, candidate.count >= bands.count - 1 else { break }
                bands = candidate
                end += 1
            }
            if end - start + 1 >= minRows, let table = build(Array(lines[start...end]), bands: bands, page: page.number) {
                tables.append(table)
                start = end + 1
            } else {
                start += 1
            }
        }
        return tables
    }

    static func makeLines(_ words: [Word]) -> [Line] {
        var rows: [[Word]] = []
        for word in words.sorted(by: { ($0.y0 + $0.y1) < ($1.y0 + $1.y1) }) {
            let middle = (word.y0 + word.y1) / 2
            if let last = rows.last, let anchor = last.first, middle >= anchor.y0, middle <= anchor.y1 {
                rows[rows.count - 1].append(word)
            } else {
                rows.append([word])
            }
        }
        return rows.map { row in
            let sorted = row.sorted { $0.x0 < $1.x0 }
            let height = sorted.map { $0.y1 - $0.y0 }.sorted()[sorted.count / 2]
            // A gap wider than ~1.2 line heights separates cells; normal word spacing is ~0.3.
            let threshold = max(height * 1.2, 4)
            var cells: [Line.Cell] = []
            for word in sorted {
                if var last = cells.last, word.x0 - last.x1 <= threshold {
                    last.text += " " + word.text
                    last.x1 = max(last.x1, word.x1)
                    last.y0 = min(last.y0, word.y0)
                    last.y1 = max(last.y1, word.y1)
                    last.confidence = min(last.confidence, word.confidence)
                    cells[cells.count - 1] = last
                } else {
                    cells.append((word.text, word.x0, word.x1, word.y0, word.y1, word.confidence))
                }
            }
            return Line(cells: cells)
        }
    }

    /// Merged horizontal extents of all cells: each band is one column.
    static func columnBands(_ lines: [Line]) -> [(Double, Double)] {
        // Cells spanning several columns would merge bands, so the bands come from the
        // lines with the most cells first.
        let most = lines.map(\.cells.count).max() ?? 0
        let widest = lines.filter { $0.cells.count == most }
        var intervals = widest.flatMap { $0.cells.map { ($0.x0, $0.x1) } }.sorted { $0.0 < $1.0 }
        var bands: [(Double, Double)] = []
        for interval in intervals {
            if let last = bands.last, interval.0 <= last.1 {
                bands[bands.count - 1].1 = max(last.1, interval.1)
            } else {
                bands.append(interval)
            }
        }
        // Lines with fewer cells must still fit: each of their cells must touch a band.
        intervals = lines.filter { $0.cells.count < most }.flatMap { $0.cells.map { ($0.x0, $0.x1) } }
        for interval in intervals where !bands.contains(where: { interval.0 <= $0.1 && interval.1 >= $0.0 }) {
            return []
        }
        return bands
    }

    static func build(_ lines: [Line], bands: [(Double, Double)], page: Int) -> DetectedTable? {
        guard bands.count >= 2 else { return nil }
        var grid: [[DetectedTable.Cell]] = []
        var spans: [[Int]] = []
        for line in lines {
            var row = [DetectedTable.Cell?](repeating: nil, count: bands.count)
            var rowSpans = [Int](repeating: 1, count: bands.count)
            for cell in line.cells {
                let covered = bands.indices.filter { cell.x0 <= bands[$0].1 && cell.x1 >= bands[$0].0 }
                guard let first = covered.first else { continue }
                let value = DetectedTable.Cell(text: cell.text, confidence: cell.confidence, span: covered.count)
                if let existing = row[first] {
                    row[first] = DetectedTable.Cell(text: existing.text + " " + cell.text,
                                                    confidence: min(existing.confidence, cell.confidence), span: existing.span)
                } else {
                    row[first] = value
                }
                rowSpans[first] = covered.count
                for other in covered.dropFirst() where row[other] == nil { row[other] = value }
            }
            grid.append(row.map { $0 ?? DetectedTable.Cell(text: "", confidence: 1, span: 1) })
            spans.append(rowSpans)
        }
        var header = grid[0].enumerated().map { $0.element.text.isEmpty ? "column \($0.offset + 1)" : $0.element.text }
        var headerCells: [DetectedTable.Cell]? = grid[0]
        var body = Array(grid.dropFirst())
        // A first row that looks like data (mostly numbers) is not a header.
        let numericInFirst = grid[0].filter { ValueParser.parseNumber($0.text) != nil }.count
        if numericInFirst * 2 > grid[0].count {
            header = bands.indices.map { "column \($0 + 1)" }
            headerCells = nil
            body = grid
        }
        let x0 = lines.flatMap { $0.cells.map(\.x0) }.min()!, x1 = lines.flatMap { $0.cells.map(\.x1) }.max()!
        return DetectedTable(page: page, bbox: (x0, lines.first!.y0, x1, lines.last!.y1), header: header, rows: body,
                             spans: Array(spans.dropFirst(body.count == grid.count ? 0 : 1)), headerCells: headerCells)
    }
}
