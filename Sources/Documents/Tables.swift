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
    /// Column names: the header rows' texts per column, or `column 1`, `column 2`, … .
    public let header: [String]
    /// Body rows; each has exactly `header.count` cells (a spanning cell repeats its text).
    public private(set) var rows: [[Cell]]
    /// Per body row and column, how many columns the cell starting there covers.
    public private(set) var spans: [[Int]]
    /// The header as found on the page (several header rows joined per column), or nil
    /// when the table has none.
    public let headerCells: [Cell]?
    /// Pages the table covers (one, or several when it continues across pages).
    public var pages: [Int]
    /// The table as a grid of strings, header rows first: a spanning cell has its text in
    /// the first (top-left) position it covers and "" in the rest.
    public private(set) var textGrid: [[String]]
    /// How many of `textGrid`'s first rows are the header rows found on the first page.
    public let headerRowCount: Int
    /// The table as found on each page it covers, in `textGrid`'s form: a continuation keeps
    /// the header it repeats, so each page reads as it was printed.
    public private(set) var pageGrids: [(page: Int, rows: [[String]])]

    public var confidence: Double {
        let cells = rows.flatMap { $0 }
        return cells.isEmpty ? 0 : cells.map(\.confidence).reduce(0, +) / Double(cells.count)
    }

    /// The table continued by `next` on a following page: `next`'s rows appended (its
    /// header rows dropped when they repeat this table's header).
    func joined(with next: DetectedTable) -> DetectedTable {
        var joined = self
        let repeatsHeader = next.headerCells != nil && next.header == header
        let nextGrid = repeatsHeader ? Array(next.textGrid.dropFirst(next.textGrid.count - next.rows.count)) : next.textGrid
        let nextRows = repeatsHeader ? next.rows : (next.headerCells.map { [$0] } ?? []) + next.rows
        let nextSpans = repeatsHeader ? next.spans : (next.headerCells.map { [Array(repeating: 1, count: $0.count)] } ?? []) + next.spans
        joined.pages = pages + next.pages
        joined.rows = rows + nextRows
        joined.spans = spans + nextSpans
        joined.textGrid = textGrid + nextGrid
        joined.pageGrids = pageGrids + next.pageGrids
        return joined
    }

    init(page: Int, bbox: (x0: Double, y0: Double, x1: Double, y1: Double), grid: TableGrid) {
        self.page = page
        self.bbox = bbox
        self.pages = [page]
        textGrid = grid.textGrid
        headerRowCount = grid.headerRows
        pageGrids = [(page, textGrid)]
        func cell(_ row: Int, _ column: Int) -> Cell {
            guard let index = grid.slots[row][column] else { return Cell(text: "", confidence: 1, span: 1) }
            var span = 1
            while column + span < grid.columnCount, grid.slots[row][column + span] == index { span += 1 }
            return Cell(text: grid.cells[index].text, confidence: grid.cells[index].confidence, span: span)
        }
        let body = grid.headerRows..<grid.rowCount
        rows = body.map { row in (0..<grid.columnCount).map { cell(row, $0) } }
        spans = body.map { row in
            (0..<grid.columnCount).map { column in grid.isOrigin(row: row, column: column) ? cell(row, column).span : 1 }
        }
        if grid.headerRows > 0 {
            let cells = (0..<grid.columnCount).map { column -> Cell in
                var texts: [String] = []
                var confidence = 1.0
                for row in 0..<grid.headerRows {
                    let value = cell(row, column)
                    if !value.text.isEmpty, texts.last != value.text { texts.append(value.text) }
                    confidence = min(confidence, value.confidence)
                }
                return Cell(text: texts.joined(separator: " "), confidence: confidence, span: 1)
            }
            headerCells = cells
            header = cells.enumerated().map { $0.element.text.isEmpty ? "column \($0.offset + 1)" : $0.element.text }
        } else {
            headerCells = nil
            header = (0..<grid.columnCount).map { "column \($0 + 1)" }
        }
    }
}

/// Finds the tables of a page: ruled ones from the rules drawn on it (`RuledTables`),
/// unruled ones from word alignment.
///
/// Unruled: words are grouped into lines; each line is cut into cells at gaps wider than
/// its typical spacing; runs of consecutive lines whose cells fall into consistent column
/// bands form a table body. Column bands are the merged horizontal extents of the cells
/// over the run, so ragged (left-, right- or centre-aligned) columns still line up. Header
/// lines above the body join it up to a rule across the whole table; a header cell is
/// centred over the columns it spans. Prose (also prose set in two columns), captions and
/// sparse figure labels are rejected; a line holding only the continuation of a row's
/// first cell joins that row.
public enum TableDetector {
    struct Line {
        struct Cell {
            var words: [Word]
            var text: String { TableText.phrase(words) }
            var x0: Double { words.map(\.x0).min() ?? 0 }
            var x1: Double { words.map(\.x1).max() ?? 0 }
            var y0: Double { words.map(\.y0).min() ?? 0 }
            var y1: Double { words.map(\.y1).max() ?? 0 }
            var confidence: Double { words.map(\.confidence).min() ?? 1 }
        }
        var cells: [Cell]
        var y0: Double { cells.map(\.y0).min() ?? 0 }
        var y1: Double { cells.map(\.y1).max() ?? 0 }
        var x0: Double { cells.map(\.x0).min() ?? 0 }
        var x1: Double { cells.map(\.x1).max() ?? 0 }
        var height: Double { max(1, cells.map { $0.y1 - $0.y0 }.sorted()[cells.count / 2]) }
        /// Part of running text rather than of a table: a sentence, or two of them side
        /// by side (a page set in two columns).
        var isProse: Bool {
            switch cells.count {
            case 1: return TextShape.isProse(cells[0].text)
            case 2:
                let words = cells.map { TextShape.wordCount($0.text) }
                return words.allSatisfy { $0 >= 4 } && words.reduce(0, +) >= 12 && cells.contains { TextShape.isProse($0.text) }
            default: return false
            }
        }
        /// Introduces or annotates a table rather than belonging to it.
        var isCaption: Bool { TextShape.isCaption(cells.first?.text ?? "") }
    }

    public static func detect(_ page: PageModel, minRows: Int = 3) -> [DetectedTable] {
        let words = settlingTallSymbols(page.layout?.words ?? page.words)
        let rulings = page.layout?.rulings ?? []
        let ruled = RuledTables.detect(words: words, rulings: rulings)
        let free = words.filter { word in
            let (cx, cy) = ((word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2)
            return !ruled.contains { cx >= $0.bbox.x0 && cx <= $0.bbox.x1 && cy >= $0.bbox.y0 && cy <= $0.bbox.y1 }
        }
        // On a page set in two columns a table in one column must not take the other's prose.
        let columns: [[Word]]
        if let gutter = columnGutter(free, width: page.width) {
            columns = [free.filter { ($0.x0 + $0.x1) / 2 < gutter }, free.filter { ($0.x0 + $0.x1) / 2 >= gutter }]
        } else {
            columns = [free]
        }
        let tables = ruled.flatMap { found -> [DetectedTable] in
            guard let ranges = found.grid.sideBySide() else { return [DetectedTable(page: page.number, bbox: found.bbox, grid: found.grid)] }
            // Tables set side by side in one frame; each one's box is its share of the frame's width.
            let (x0, width, columns) = (found.bbox.x0, found.bbox.x1 - found.bbox.x0, Double(found.grid.columnCount))
            return ranges.map { range in
                DetectedTable(page: page.number,
                              bbox: (x0 + width * Double(range.lowerBound) / columns, found.bbox.y0,
                                     x0 + width * Double(range.upperBound) / columns, found.bbox.y1),
                              grid: found.grid.columns(range))
            }
        }
            + columns.flatMap { unruled($0, rulings: rulings, page: page, minRows: minRows) }
        return tables.sorted { ($0.bbox.y0, $0.bbox.x0) < ($1.bbox.y0, $1.bbox.x0) }
    }

    /// Words with a symbol that the text layer boxes as tall as a symbol font's whole height
    /// (a bullet "•" boxed three lines high) set on the line their box ends on: a box the page's
    /// usual word height, ending where the symbol's ends. Placed by its box's middle, a bullet
    /// falls among the line above and the items of a list come out of order.
    static func settlingTallSymbols(_ words: [Word]) -> [Word] {
        guard !words.isEmpty else { return words }
        let heights = words.map { $0.y1 - $0.y0 }.sorted()
        let usual = heights[heights.count / 2]
        return words.map { word in
            guard word.y1 - word.y0 > usual * 2.5, word.text.count <= 2, !word.text.contains(where: { $0.isLetter || $0.isNumber }) else { return word }
            return Word(text: word.text, x0: word.x0, y0: word.y1 - usual, x1: word.x1, y1: word.y1, confidence: word.confidence)
        }
    }

    /// The x of the white gutter between two columns of running text, if the page has one:
    /// a vertical strip in the middle of the page that almost no word crosses, with
    /// running text beside it.
    static func columnGutter(_ words: [Word], width: Double) -> Double? {
        guard width > 0, words.count > 20 else { return nil }
        var crossing = [Int](repeating: 0, count: Int(width) + 2)
        for word in words {
            let from = max(0, Int(word.x0)), to = min(crossing.count - 1, Int(word.x1))
            guard from <= to else { continue }
            for x in from...to { crossing[x] += 1 }
        }
        // Titles and page furniture may cross it.
        let allowed = 3
        var best: (from: Int, to: Int)?
        var x = Int(width * 0.3)
        while x < Int(width * 0.7) {
            guard crossing[x] <= allowed else { x += 1; continue }
            var end = x
            while end + 1 < Int(width * 0.7), crossing[end + 1] <= allowed { end += 1 }
            if end - x >= 6, end - x > (best.map { $0.to - $0.from } ?? -1) { best = (x, end) }
            x = end + 1
        }
        guard let best else { return nil }
        let gutter = Double(best.from + best.to) / 2
        let sides = [words.filter { ($0.x0 + $0.x1) / 2 < gutter }, words.filter { ($0.x0 + $0.x1) / 2 >= gutter }]
        let prose = sides.map { makeLines($0).filter(\.isProse).count }
        return prose.contains { $0 >= 5 } ? gutter : nil
    }

    /// Whether a page's words could hold a table at all: two lines in a row cut into
    /// several cells that are not running text. Cheap, so rendering can be skipped without it.
    static func mayHoldTable(_ words: [Word]) -> Bool {
        var run = 0
        for line in makeLines(words) {
            run = line.cells.count >= 2 && !line.isProse ? run + 1 : 0
            if run >= 2 { return true }
        }
        return false
    }

    static func unruled(_ words: [Word], rulings: [RulingLine], page: PageModel, minRows: Int) -> [DetectedTable] {
        let lines = makeLines(words)
        var tables: [DetectedTable] = []
        var taken = 0  // lines before this index belong to a table already
        var start = 0
        while start < lines.count {
            guard lines[start].cells.count >= 2, !lines[start].isProse, !lines[start].isCaption else { start += 1; continue }
            var end = start
            var bands = columnBands([lines[start]])
            // Grow the run while the next line is not prose, close below, and keeps the bands consistent.
            while end + 1 < lines.count, !lines[end + 1].isProse, !lines[end + 1].isCaption {
                let next = lines[end + 1]
                let gap = next.y0 - lines[end].y1
                // A short group label ("Female") may stand further from the rows above it than rows
                // stand apart, when rows follow it closely.
                let groupLabel = next.cells.count == 1 && TextShape.wordCount(next.cells[0].text) <= 3 && end + 2 < lines.count
                    && lines[end + 2].cells.count >= 2 && lines[end + 2].y0 - next.y1 < lines[end].height * 2.5
                guard gap < lines[end].height * (groupLabel ? 4 : 2.5) else { break }
                if next.cells.count == 1 {
                    // A single cell continues the table only inside its column bands (or as
                    // a short section label set out to the left).
                    let outdent = TextShape.wordCount(next.cells[0].text) <= 3 ? next.height * 3 : 2
                    guard next.x0 >= bands.first!.0 - outdent, next.x1 <= bands.last!.1 + 2,
                          TextShape.wordCount(next.cells[0].text) <= 8 else { break }
                    guard bands.contains(where: { next.x0 <= $0.1 && next.x1 >= $0.0 }) || next.x1 < bands.first!.1 else { break }
                    end += 1
                    continue
                }
                let candidate = columnBands(Array(lines[start...(end + 1)]))
                guard candidate.count >= 2, candidate.count >= bands.count - 1 else { break }
                bands = candidate
                end += 1
            }
            // A table does not end in single-cell lines (a caption or a note under it).
            while end > start, lines[end].cells.count == 1 { end -= 1 }
            let body = Array(lines[start...end])
            guard body.filter({ $0.cells.count >= 2 }).count >= minRows else { start += 1; continue }
            let top = headerStart(lines, body: start, end: end, after: taken, rulings: rulings)
            let run = Array(lines[top...end])
            // Columns come from the body; header labels are placed over them by position.
            let built = build(run, bands: columnBands(body), page: page)
            if !built.isEmpty {
                tables += built
                start = end + 1
                taken = start
            } else {
                start += 1
            }
        }
        return tables
    }

    /// Index of the first line of a table whose body starts at line `body`: header lines
    /// directly above (column labels, a label spanning several columns) that sit within the
    /// table's width, up to a rule across the whole table, a caption or running text.
    static func headerStart(_ lines: [Line], body: Int, end: Int, after taken: Int, rulings: [RulingLine]) -> Int {
        let x0 = lines[body...end].map(\.x0).min()!, x1 = lines[body...end].map(\.x1).max()!
        let columns = columnBands(Array(lines[body...end])).count
        var top = body
        var underlined = false
        while top > taken, body - top < 6 {
            let line = lines[top - 1], below = lines[top]
            guard !line.isProse, !line.isCaption, line.x0 >= x0 - 3, line.x1 <= x1 + 3,
                  below.y0 - line.y1 < below.height * 1.5 else { break }
            let ruledOff = rulings.contains { rule in
                rule.axis == .horizontal && rule.position > line.y1 - 1 && rule.position < below.y0 + 1
                    && rule.start <= x0 + 5 && rule.end >= x1 - 5
            }
            if ruledOff {
                // A rule under the column labels (their underline) is crossed once; a rule
                // above them, or under a line that does not label the columns, ends the table.
                let labelsColumns = top == body && !underlined && line.cells.count >= 2 && line.cells.count * 2 >= columns
                    && !TextShape.isDataRow(line.cells.dropFirst().map(\.text))
                guard labelsColumns else { break }
                underlined = true
            }
            // A lone label at the table's left edge is a title unless more header lines
            // follow above it (a stub label set beside a group of column labels); group
            // labels are set over their columns instead.
            if line.cells.count == 1, line.x0 <= x0 + 3 {
                guard top - 1 > taken, lines[top - 2].cells.count >= 2, !lines[top - 2].isProse,
                      lines[top - 2].x0 >= x0 - 3, lines[top - 2].x1 <= x1 + 3,
                      line.y0 - lines[top - 2].y1 < line.height * 2.5 else { break }
            }
            top -= 1
        }
        return top
    }

    static func makeLines(_ words: [Word]) -> [Line] {
        joiningWrappedRowLabels(TableText.lines(words).map { sorted in
            let height = sorted.map { $0.y1 - $0.y0 }.sorted()[sorted.count / 2]
            // A gap wider than ~1 line height separates cells; normal word spacing is ~0.3.
            let threshold = max(height * 1.0, 4)
            var cells: [Line.Cell] = []
            for word in sorted {
                if let last = cells.last, word.x0 - last.x1 <= threshold {
                    cells[cells.count - 1].words.append(word)
                } else {
                    cells.append(Line.Cell(words: [word]))
                }
            }
            return Line(cells: cells)
        })
    }

    /// A row label wrapped over two lines with the row's cells set between them, centred on
    /// the row (their line's middle halfway between the label's lines, the second of which
    /// starts under the first or a little indented): one line, the label's two lines one cell.
    static func joiningWrappedRowLabels(_ lines: [Line]) -> [Line] {
        var joined: [Line] = []
        var index = 0
        while index < lines.count {
            if index + 2 < lines.count {
                let (upper, row, lower) = (lines[index], lines[index + 1], lines[index + 2])
                let centred = abs((row.y0 + row.y1) - (upper.y0 + upper.y1 + lower.y0 + lower.y1) / 2) < row.height * 0.5
                if upper.cells.count == 1, lower.cells.count == 1, upper.x1 < row.x0, lower.x1 < row.x0,
                   lower.x0 >= upper.x0 - 1, lower.x0 <= upper.x0 + upper.height * 2, lower.y0 - upper.y1 < upper.height * 0.5,
                   centred {
                    joined.append(Line(cells: [Line.Cell(words: upper.cells[0].words + lower.cells[0].words)] + row.cells))
                    index += 3
                    continue
                }
            }
            if index + 1 < lines.count, startsItsRow(lines, index) {
                let (upper, row) = (lines[index], lines[index + 1])
                joined.append(Line(cells: [Line.Cell(words: upper.cells[0].words + row.cells[0].words)] + row.cells.dropFirst()))
                index += 2
                continue
            }
            joined.append(lines[index])
            index += 1
        }
        return joined
    }

    /// Whether line `index` is the first line of the next line's first cell, a row set to its
    /// last line (the row's cells beside the last line of its label): one cell that starts where
    /// the next line's first cell starts and ends before its second, much closer to the next
    /// line than to the lines above and below them.
    static func startsItsRow(_ lines: [Line], _ index: Int) -> Bool {
        let (upper, row) = (lines[index], lines[index + 1])
        guard upper.cells.count == 1, row.cells.count >= 2, abs(upper.x0 - row.x0) <= 1, upper.x1 < row.cells[1].x0 else { return false }
        let gap = row.y0 - upper.y1
        let above = index > 0 ? upper.y0 - lines[index - 1].y1 : .infinity
        let below = index + 2 < lines.count ? lines[index + 2].y0 - row.y1 : .infinity
        return gap >= -1 && gap < upper.height * 0.5 && above > max(gap, 1) * 2 && below > max(gap, 1) * 2
    }

    /// Merged horizontal extents of all cells: each band is one column.
    static func columnBands(_ lines: [Line]) -> [(Double, Double)] {
        // Cells spanning several columns would merge bands, so the bands come from the
        // lines with the most cells first.
        let multi = lines.filter { $0.cells.count >= 2 }
        let most = multi.map(\.cells.count).max() ?? 0
        let widest = multi.filter { $0.cells.count == most }
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
        intervals = multi.filter { $0.cells.count < most }.flatMap { $0.cells.map { ($0.x0, $0.x1) } }
        for interval in intervals where !bands.contains(where: { interval.0 <= $0.1 && interval.1 >= $0.0 }) {
            return []
        }
        return bands
    }

    static func build(_ lines: [Line], bands: [(Double, Double)], page: PageModel) -> [DetectedTable] {
        guard bands.count >= 2 else { return [] }
        // Rows: one per line, except a line holding only a continuation of the first
        // column (a wrapped label) that sits closer to a neighbouring row than rows sit
        // to each other.
        let gaps = zip(lines, lines.dropFirst()).map { $1.y0 - $0.y1 }.sorted()
        let typicalGap = gaps.isEmpty ? 0 : gaps[gaps.count / 2]
        var rows: [[Line.Cell]] = []
        for (index, line) in lines.enumerated() {
            let onlyFirstColumn = line.cells.count == 1 && line.x1 <= bands[0].1 + 1
            if onlyFirstColumn, index > 0, !rows.isEmpty {
                let gapAbove = line.y0 - lines[index - 1].y1
                let startsLower = line.cells[0].text.first.map { $0.isLowercase || $0 == "(" } ?? false
                if startsLower || gapAbove < typicalGap * 0.6 {
                    rows[rows.count - 1].append(contentsOf: line.cells)
                    continue
                }
            }
            rows.append(line.cells)
        }
        // Header rows: those above the first row whose cells past the first column are
        // mostly numbers. Header labels are placed by centring; labels wrapped over
        // several lines (one line's columns all among the next's) are one cell each.
        let firstData = rows.firstIndex { row in
            TextShape.isDataRow(row.filter { $0.x0 > bands[0].1 }.map(\.text))
        } ?? 0
        // A column only a header label falls in (data spanning it aside), beside a column of
        // data without a label, is that column: a short label set at the left edge of
        // right-aligned figures. Between two such columns the label goes to the nearer.
        var bands = bands
        if firstData > 0 {
            let data = rows[firstData...].flatMap { $0 }, labels = rows[..<firstData].flatMap { $0 }
            func overlaps(_ cell: Line.Cell, _ band: (Double, Double)) -> Bool { cell.x0 <= band.1 && cell.x1 >= band.0 }
            func holdsData(_ band: (Double, Double)) -> Bool {
                data.contains { cell in overlaps(cell, band) && bands.filter { overlaps(cell, $0) }.count == 1 }
            }
            func labelled(_ band: (Double, Double)) -> Bool { labels.contains { overlaps($0, band) } }
            var index = 0
            while index < bands.count {
                let band = bands[index]
                let neighbours: [Int] = [index - 1, index + 1].filter { $0 >= 0 && $0 < bands.count }
                let unlabelled: [Int] = neighbours.filter { holdsData(bands[$0]) && !labelled(bands[$0]) }
                func gap(_ other: Int) -> Double { other < index ? band.0 - bands[other].1 : bands[other].0 - band.1 }
                guard !holdsData(band), labelled(band),
                      let other = unlabelled.min(by: { gap($0) < gap($1) }) else { index += 1; continue }
                let (first, second) = (min(index, other), max(index, other))
                bands[first] = (bands[first].0, max(bands[first].1, bands[second].1))
                bands.remove(at: second)
                index = first + 1
            }
        }
        var placed = rows.enumerated().map { index, row in
            index < firstData ? labels(row, bands: bands) : groupLabel(row, bands: bands) ?? split(row, bands: bands)
        }
        var headerRows = firstData
        // A section label ("Actual", "Women") right above the data belongs to the body.
        while headerRows > 0, rows[headerRows - 1].count == 1, rows[headerRows - 1][0].x0 <= bands[0].1 { headerRows -= 1 }
        var row = 0
        while row + 1 < headerRows {
            let (upper, lower) = (placed[row], placed[row + 1])
            let gap = (lower.map(\.cell.y0).min() ?? 0) - (upper.map(\.cell.y1).max() ?? 0)
            let height = upper.map { $0.cell.y1 - $0.cell.y0 }.max() ?? 0
            guard gap < height * 0.5,
                  let partners = wrappedLabels(lower, to: upper, ragged: true).map({ $0.map(Optional.some) })
                    ?? wrappedLabels(upper, to: lower, ragged: false).map({ inverse($0, count: lower.count) })
            else { row += 1; continue }
            // A label without a second line ("Product" beside "Opening / stock") stays.
            placed[row + 1] = lower.indices.map { index in
                guard let partner = partners[index] else { return lower[index] }
                let (above, piece) = (upper[partner], lower[index])
                let covered = above.covered.count <= piece.covered.count ? above.covered : piece.covered
                return (Line.Cell(words: above.cell.words + piece.cell.words), covered)
            } + upper.indices.filter { !partners.contains($0) }.map { upper[$0] }
            placed.remove(at: row)
            headerRows -= 1
        }
        var grid = TableGrid(rows: placed.count, columns: bands.count)
        for (rowIndex, pieces) in placed.enumerated() {
            var byColumn: [Int: (cells: [Line.Cell], covered: ClosedRange<Int>)] = [:]
            for (cell, covered) in pieces {
                byColumn[covered.lowerBound, default: ([], covered)].cells.append(cell)
            }
            for (first, entry) in byColumn.sorted(by: { $0.key < $1.key }) {
                let text = entry.cells.map(\.text).joined(separator: " ")
                let confidence = entry.cells.map(\.confidence).min() ?? 1
                grid.place(TableGrid.Cell(text: text, confidence: confidence), rows: rowIndex..<(rowIndex + 1),
                           columns: first..<(entry.covered.upperBound + 1))
            }
        }
        grid.headerRows = headerRows < grid.rowCount ? headerRows : 0
        guard accept(grid) else { return [] }
        grid.raiseHeaderLabels()
        grid.keepGroupedHeaderRows()
        let x0 = lines.map(\.x0).min()!, x1 = lines.map(\.x1).max()!
        // Tables set side by side under one repeated header line are each a table.
        if let ranges = grid.sideBySide() {
            return ranges.map { range in
                let left = range.lowerBound == 0 ? x0 : bands[range.lowerBound].0
                let right = range.upperBound == bands.count ? x1 : bands[range.upperBound - 1].1
                return DetectedTable(page: page.number, bbox: (left, lines.first!.y0, right, lines.last!.y1), grid: grid.columns(range))
            }
        }
        return [DetectedTable(page: page.number, bbox: (x0, lines.first!.y0, x1, lines.last!.y1), grid: grid)]
    }

    /// For each label of a header line, the label of the neighbouring line it is the other line
    /// of (a column label wrapped over two lines), when every label has one: the label in the
    /// same single column, or, for the lower line's labels (`ragged`), the one column label
    /// each stands under (a wrapped label's lines set ragged, so the shorter line's middle is
    /// off its column's). An upper label over several columns groups them instead.
    static func wrappedLabels(_ pieces: [(cell: Line.Cell, covered: ClosedRange<Int>)],
                              to others: [(cell: Line.Cell, covered: ClosedRange<Int>)], ragged: Bool) -> [Int]? {
        var partners: [Int] = []
        for piece in pieces {
            let same = others.indices.filter { others[$0].covered == piece.covered }
            if piece.covered.count == 1, let partner = same.first {
                partners.append(partner)
                continue
            }
            guard ragged else { return nil }
            let overlapping = others.indices.filter { piece.cell.x0 < others[$0].cell.x1 && piece.cell.x1 > others[$0].cell.x0 }
            guard overlapping.count == 1, let partner = overlapping.first, others[partner].covered.count == 1,
                  piece.covered.contains(others[partner].covered.lowerBound) else { return nil }
            partners.append(partner)
        }
        return Set(partners).count == partners.count ? partners : nil
    }

    /// `partners` (for each of some labels, the index of its partner among `count` others) read
    /// the other way round: for each of the others, the label it is the partner of, or nil.
    static func inverse(_ partners: [Int], count: Int) -> [Int?] {
        var inverse = [Int?](repeating: nil, count: count)
        for (index, partner) in partners.enumerated() { inverse[partner] = index }
        return inverse
    }

    /// A body row that is one label centred over all the data columns ("Projected enrollment,
    /// in thousands" between two groups of rows) spans them, its text in the first.
    static func groupLabel(_ row: [Line.Cell], bands: [(Double, Double)]) -> [(cell: Line.Cell, covered: ClosedRange<Int>)]? {
        guard row.count == 1, bands.count >= 3, let cell = row.first, cell.x0 > bands[0].1, !TextShape.isNumeric(cell.text) else { return nil }
        let centres = bands.map { ($0.0 + $0.1) / 2 }
        let pitch = (centres.last! - centres[1]) / Double(bands.count - 2)
        let middle = (cell.x0 + cell.x1) / 2
        guard abs(middle - (centres[1] + centres.last!) / 2) <= max(4, pitch / 2),
              bands.indices.filter({ cell.x0 <= bands[$0].1 && cell.x1 >= bands[$0].0 }).count >= 2 else { return nil }
        return [(cell, 1...(bands.count - 1))]
    }

    /// The bands a cell overlaps; a cell of numbers overlapping several bands is several
    /// values set too close together, so its words go to their own bands.
    static func split(_ row: [Line.Cell], bands: [(Double, Double)]) -> [(cell: Line.Cell, covered: ClosedRange<Int>)] {
        var pieces: [(cell: Line.Cell, covered: ClosedRange<Int>)] = []
        for cell in row {
            let covered = bands.indices.filter { cell.x0 <= bands[$0].1 && cell.x1 >= bands[$0].0 }
            guard let first = covered.first, let last = covered.last else { continue }
            if first < last, cell.words.count > 1, cell.words.allSatisfy({ TextShape.isNumeric($0.text) }) {
                var byBand: [Int: [Word]] = [:]
                for word in cell.words {
                    let middle = (word.x0 + word.x1) / 2
                    let band = bands.indices.min { abs((bands[$0].0 + bands[$0].1) / 2 - middle) < abs((bands[$1].0 + bands[$1].1) / 2 - middle) }!
                    byBand[band, default: []].append(word)
                }
                if byBand.count > 1 {
                    for (band, words) in byBand.sorted(by: { $0.key < $1.key }) { pieces.append((Line.Cell(words: words), band...band)) }
                    continue
                }
            }
            pieces.append((cell, first...last))
        }
        return pieces
    }

    /// The columns a header row's labels cover: one label per column, in order, when the
    /// row has as many labels as there are columns and each sits between its neighbours'
    /// columns (a label set at the edge of its column need not overlap its figures);
    /// otherwise each label spans the columns it is centred over. Labels of one row share no
    /// column: where two neighbours' spans meet, the wider gives way ("Public" centred over
    /// five columns takes the three between "Total" and "Private").
    static func labels(_ row: [Line.Cell], bands: [(Double, Double)]) -> [(cell: Line.Cell, covered: ClosedRange<Int>)] {
        let row = row.flatMap { splitAtColumnGaps($0, bands: bands) }
        let oneEach = row.count == bands.count && row.indices.allSatisfy { index in
            let middle = (row[index].x0 + row[index].x1) / 2
            return (index == 0 || middle > bands[index - 1].1) && (index + 1 == bands.count || middle < bands[index + 1].0)
        }
        if oneEach { return row.enumerated().map { ($0.element, $0.offset...$0.offset) } }
        var spans = row.map { span(of: $0, among: row, bands: bands) }
        for index in spans.indices.dropLast() where spans[index].upperBound >= spans[index + 1].lowerBound {
            if spans[index].count > spans[index + 1].count {
                guard spans[index + 1].lowerBound > 0 else { continue }
                spans[index] = span(of: row[index], among: row, bands: bands, within: 0...(spans[index + 1].lowerBound - 1))
            } else {
                guard spans[index].upperBound + 1 < bands.count else { continue }
                spans[index + 1] = span(of: row[index + 1], among: row, bands: bands,
                                        within: (spans[index].upperBound + 1)...(bands.count - 1))
            }
        }
        return zip(row, spans).map { (cell: $0, covered: $1) }
    }

    /// A header cell holding the labels of neighbouring columns set close together
    /// ("Quantity Unit price" over two columns of right-aligned figures) is cut where its
    /// words stand further apart than a word space, over the white between two columns. Its
    /// words are read line by line (a label wrapped over two lines keeps its order).
    static func splitAtColumnGaps(_ cell: Line.Cell, bands: [(Double, Double)]) -> [Line.Cell] {
        let words = TableText.lines(cell.words).flatMap { $0 }
        var pieces: [Line.Cell] = []
        var current: [Word] = []
        for word in words {
            if let last = current.last {
                let gap = word.x0 - last.x1, cut = (word.x0 + last.x1) / 2
                let height = max(last.y1 - last.y0, word.y1 - word.y0)
                let betweenColumns = zip(bands, bands.dropFirst()).contains { left, right in left.1 <= cut && right.0 >= cut }
                    && !bands.contains { $0.0 < cut && $0.1 > cut }
                if gap > height * 0.4, betweenColumns {
                    pieces.append(Line.Cell(words: current))
                    current = []
                }
            }
            current.append(word)
        }
        if !current.isEmpty { pieces.append(Line.Cell(words: current)) }
        return pieces
    }

    /// The columns a header cell spans: the widest run of bands around it (inside `allowed`),
    /// free of its neighbours in the row, whose middle is the cell's middle (labels are
    /// centred over the columns they group).
    static func span(of cell: Line.Cell, among row: [Line.Cell], bands: [(Double, Double)],
                     within allowed: ClosedRange<Int>? = nil) -> ClosedRange<Int> {
        let middle = (cell.x0 + cell.x1) / 2
        var overlapped = bands.indices.filter { cell.x0 <= bands[$0].1 && cell.x1 >= bands[$0].0 }
        if overlapped.isEmpty {
            // A label between two columns: start from the nearest one.
            overlapped = [bands.indices.min { abs((bands[$0].0 + bands[$0].1) / 2 - middle) < abs((bands[$1].0 + bands[$1].1) / 2 - middle) }!]
        }
        let first = overlapped.first!, last = overlapped.last!
        // Group labels sit over data columns, not over the first (stub) column.
        let lowest = first == 0 ? 0 : 1
        let left = row.filter { $0.x1 < cell.x0 }.map(\.x1).max() ?? -Double.infinity
        let right = row.filter { $0.x0 > cell.x1 }.map(\.x0).min() ?? Double.infinity
        // Centred means within a quarter of the column pitch: one column more on either
        // side moves the middle by half a pitch.
        func centre(_ band: Int) -> Double { (bands[band].0 + bands[band].1) / 2 }
        let pitch = (centre(bands.count - 1) - centre(0)) / Double(bands.count - 1)
        var best = first...last
        var bestOffset = Double.infinity
        let allowed = allowed ?? 0...(bands.count - 1)
        for a in stride(from: first, through: lowest, by: -1) where bands[a].0 > left && a >= allowed.lowerBound {
            for b in last..<bands.count where bands[b].1 < right && b <= allowed.upperBound {
                let offset = abs((centre(a) + centre(b)) / 2 - middle)
                guard offset <= max(4, pitch / 4) else { continue }
                let wider = b - a > best.upperBound - best.lowerBound
                if wider || (b - a == best.upperBound - best.lowerBound && offset < bestOffset) {
                    best = a...b
                    bestOffset = offset
                }
            }
        }
        return best
    }

    /// A plausible table: filled enough (figure labels are sparse), not mostly sentences
    /// (a label column may hold long names), and with two columns only when one of them
    /// is short values.
    static func accept(_ grid: TableGrid) -> Bool {
        guard grid.rowCount >= 2, grid.columnCount >= 2, grid.fill >= 0.5 else { return false }
        var texts: [[String]] = Array(repeating: [], count: grid.columnCount)
        for row in 0..<grid.rowCount {
            for column in 0..<grid.columnCount where grid.isOrigin(row: row, column: column) {
                let text = grid.text(row: row, column: column)
                if !text.isEmpty { texts[column].append(text) }
            }
        }
        let all = texts.flatMap { $0 }
        guard !TextShape.isScattered(all.flatMap { $0.split(separator: " ") }) else { return false }
        // A bulleted list: the first column holds only bullets, the rest text.
        if let markers = texts.first, !markers.isEmpty, markers.allSatisfy(TextShape.isListMarker),
           !texts.dropFirst().joined().contains(where: TextShape.isNumeric) { return false }
        let prose = all.filter { TextShape.wordCount($0) >= 5 }.count
        guard prose * 5 <= all.count * 2 else { return false }
        if grid.columnCount == 2 {
            let shortColumn = texts.contains { column in
                let short = column.filter { TextShape.isNumeric($0) || TextShape.wordCount($0) <= 2 }.count
                return short * 4 >= column.count * 3
            }
            guard shortColumn else { return false }
        }
        return true
    }
}
