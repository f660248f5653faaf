import Foundation

/// Finds ruled tables: grids of horizontal and vertical rules, with words placed in the
/// cells by their centres (camelot's lattice mode).
///
/// Rules that cross or touch form one grid; its row and column boundaries are the
/// distinct rule positions. Where the rule between two neighbouring positions is missing,
/// one cell spans both. A row band without inner rules whose columns stack several
/// numbers line by line is cut into one row per text line, since such tables often rule
/// only the header and the frame.
enum RuledTables {
    struct Found {
        var grid: TableGrid
        var bbox: (x0: Double, y0: Double, x1: Double, y1: Double)
    }

    /// How far apart (points) rule ends and crossings may be and still meet.
    static let tolerance = 2.5

    static func detect(words: [Word], rulings: [RulingLine]) -> [Found] {
        let drawnHorizontal = rulings.filter { $0.axis == .horizontal }
        let drawnVertical = rulings.filter { $0.axis == .vertical }
        let horizontal = drawnHorizontal + impliedEdges(ends: drawnVertical, across: drawnHorizontal, axis: .horizontal)
        let vertical = drawnVertical + impliedEdges(ends: drawnHorizontal, across: drawnVertical, axis: .vertical)
        guard horizontal.count >= 2, vertical.count >= 2 else { return [] }
        // Union-find over all rules; crossing rules join.
        var parent = Array(0..<(horizontal.count + vertical.count))
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
            return i
        }
        for (h, hLine) in horizontal.enumerated() {
            for (v, vLine) in vertical.enumerated() where meet(hLine, vLine) {
                parent[root(h)] = root(horizontal.count + v)
            }
        }
        // Groups in the order of their first rule, never a Dictionary's (its order changes
        // from process to process with the hash seed), and tables by position with that
        // order breaking ties: the same page gives the same tables in every run.
        var groups: [(h: [RulingLine], v: [RulingLine])] = []
        var groupOf: [Int: Int] = [:]
        func group(_ rule: Int) -> Int {
            if let index = groupOf[root(rule)] { return index }
            groups.append(([], []))
            groupOf[root(rule)] = groups.count - 1
            return groups.count - 1
        }
        for (h, line) in horizontal.enumerated() { groups[group(h)].h.append(line) }
        for (v, line) in vertical.enumerated() { groups[group(horizontal.count + v)].v.append(line) }
        let found = groups.compactMap { group -> Found? in
            guard group.h.count >= 2, group.v.count >= 2 else { return nil }
            return table(horizontal: group.h, vertical: group.v, words: words)
        }
        return found.enumerated().sorted { ($0.element.bbox.y0, $0.element.bbox.x0, $0.offset) < ($1.element.bbox.y0, $1.element.bbox.x0, $1.offset) }
            .map(\.element)
    }

    /// Frame edges that the rendering lost (cell fills painted over a border): where three
    /// or more rules start (or end) at the same place, a rule of the other axis runs along
    /// those ends, through the stretches that rules of the other axis also cross (so two
    /// tables aligned one above the other stay apart).
    static func impliedEdges(ends rules: [RulingLine], across others: [RulingLine], axis: RulingLine.Axis) -> [RulingLine] {
        var edges: [RulingLine] = []
        for end in [\RulingLine.start, \RulingLine.end] {
            var clusters: [[RulingLine]] = []
            for rule in rules.sorted(by: { $0[keyPath: end] < $1[keyPath: end] }) {
                if let last = clusters.last?.last, rule[keyPath: end] - last[keyPath: end] <= tolerance {
                    clusters[clusters.count - 1].append(rule)
                } else {
                    clusters.append([rule])
                }
            }
            for cluster in clusters where cluster.count >= 3 {
                let at = cluster.map { $0[keyPath: end] }.reduce(0, +) / Double(cluster.count)
                let positions = cluster.map(\.position).sorted()
                var from = positions[0]
                for (upper, lower) in zip(positions, positions.dropFirst()) {
                    let bridged = others.contains { $0.start <= upper + tolerance && $0.end >= lower - tolerance }
                    if !bridged {
                        if upper > from { edges.append(RulingLine(axis, at: at, from: from, to: upper)) }
                        from = lower
                    }
                }
                if positions.last! > from { edges.append(RulingLine(axis, at: at, from: from, to: positions.last!)) }
            }
        }
        return edges
    }

    static func meet(_ h: RulingLine, _ v: RulingLine) -> Bool {
        v.position >= h.start - tolerance && v.position <= h.end + tolerance
            && h.position >= v.start - tolerance && h.position <= v.end + tolerance
    }

    /// Positions closer than the tolerance are one boundary.
    static func boundaries(_ positions: [Double]) -> [Double] {
        var clusters: [[Double]] = []
        for position in positions.sorted() {
            if let last = clusters.last?.last, position - last <= tolerance {
                clusters[clusters.count - 1].append(position)
            } else {
                clusters.append([position])
            }
        }
        return clusters.map { $0.reduce(0, +) / Double($0.count) }
    }

    static func table(horizontal: [RulingLine], vertical: [RulingLine], words: [Word]) -> Found? {
        var ys = boundaries(horizontal.map(\.position))
        var xs = boundaries(vertical.map(\.position))
        guard ys.count >= 2, xs.count >= 3 else { return nil }
        let frame = (x0: xs.first!, y0: ys.first!, x1: xs.last!, y1: ys.last!)
        // Inner column rules must run through most of the table; rules only in the header
        // (or lines between the glyphs of text set on a fill) leave the columns to word alignment.
        let coverage = xs.dropFirst().dropLast().map { x in
            vertical.filter { abs($0.position - x) <= tolerance }.map(\.length).reduce(0, +) / (frame.y1 - frame.y0)
        }.sorted()
        guard coverage[coverage.count / 2] >= 0.5 else { return nil }
        var (horizontal, vertical, bbox) = (horizontal, vertical, frame)
        // Row labels left of the first rule (a table that rules only its figures) are its
        // first column: the rules that start at the frame are drawn on through them. The
        // figures of a table beside this one, or text running on further left, are not labels.
        let labels = words.filter { word in
            let cy = (word.y0 + word.y1) / 2
            return cy > bbox.y0 && cy < bbox.y1 && word.x1 <= bbox.x0 + 1 && word.x0 >= bbox.x0 - (bbox.x1 - bbox.x0) * 0.6
        }
        let numbers = labels.filter { TextShape.isNumeric($0.text) }.count
        let runningText = words.contains { word in
            let cy = (word.y0 + word.y1) / 2
            return cy > bbox.y0 && cy < bbox.y1 && word.x0 < bbox.x0 - (bbox.x1 - bbox.x0) * 0.6
        }
        if let nearest = labels.map(\.x1).max(), bbox.x0 - nearest < 36, numbers * 2 < labels.count, !runningText {
            let labelled = (0..<(ys.count - 1)).filter { band in
                labels.contains { word in (word.y0 + word.y1) / 2 > ys[band] && (word.y0 + word.y1) / 2 < ys[band + 1] }
            }
            if labelled.count * 2 >= ys.count - 1 {
                let x = labels.map(\.x0).min()! - 1
                horizontal = horizontal.map { rule in
                    abs(rule.start - bbox.x0) <= tolerance ? RulingLine(.horizontal, at: rule.position, from: x, to: rule.end) : rule
                }
                vertical.append(RulingLine(.vertical, at: x, from: bbox.y0, to: bbox.y1))
                xs.insert(x, at: 0)
                bbox.x0 = x
            }
        }
        let inside = words.filter { word in
            let (cx, cy) = ((word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2)
            return cx > bbox.x0 && cx < bbox.x1 && cy > bbox.y0 && cy < bbox.y1
        }
        guard !inside.isEmpty, !TextShape.isScattered(inside.map { Substring($0.text) }) else { return nil }
        // Columns cut along white gaps between numbers where a rule groups two columns.
        let unruled = Set(unruledColumnCuts(inside, xs: xs))
        xs = (xs + unruled).sorted()
        // Rows cut along text lines where the rules leave several rows in one band.
        var virtual = Set<Int>()
        for band in (0..<(ys.count - 1)).reversed() {
            let cuts = lineCuts(inside, top: ys[band], bottom: ys[band + 1], xs: xs)
            guard !cuts.isEmpty else { continue }
            // Bands are visited bottom-up, so every cut marked so far lies below this one and moves down.
            virtual = Set(virtual.map { $0 + cuts.count })
            ys.insert(contentsOf: cuts, at: band + 1)
            for offset in 0..<cuts.count { virtual.insert(band + 1 + offset) }
        }
        let rows = ys.count - 1, columns = xs.count - 1
        func hasVertical(at column: Int, row: Int) -> Bool {
            let (top, bottom) = (ys[row], ys[row + 1])
            if unruled.contains(xs[column]) {
                // A cut without a rule separates the cells of a row unless text runs across it.
                return !inside.contains { word in
                    let cy = (word.y0 + word.y1) / 2
                    return cy > top && cy < bottom && word.x0 < xs[column] && word.x1 > xs[column]
                }
            }
            let margin = (bottom - top) * 0.3
            return vertical.contains { abs($0.position - xs[column]) <= tolerance && $0.start <= top + margin && $0.end >= bottom - margin }
        }
        func hasHorizontal(at row: Int, column: Int) -> Bool {
            // A rule under some columns only (a total ruled off in its column) also ends the rows
            // of the others where the rows beside it are text lines cut apart.
            if virtual.contains(row) || virtual.contains(row - 1) || virtual.contains(row + 1) { return true }
            let (left, right) = (xs[column], xs[column + 1])
            let margin = (right - left) * 0.3
            return horizontal.contains { abs($0.position - ys[row]) <= tolerance && $0.start <= left + margin && $0.end >= right - margin }
        }
        // Union-find over grid positions: positions with no rule between them are one cell.
        var parent = Array(0..<(rows * columns))
        func root(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
            return i
        }
        for row in 0..<rows {
            for column in 0..<columns {
                if column + 1 < columns, !hasVertical(at: column + 1, row: row) {
                    parent[root(row * columns + column)] = root(row * columns + column + 1)
                }
                if row + 1 < rows, !hasHorizontal(at: row + 1, column: column) {
                    parent[root(row * columns + column)] = root((row + 1) * columns + column)
                }
            }
        }
        var extent: [Int: (r0: Int, r1: Int, c0: Int, c1: Int)] = [:]
        for row in 0..<rows {
            for column in 0..<columns {
                let r = root(row * columns + column)
                let e = extent[r] ?? (row, row, column, column)
                extent[r] = (min(e.r0, row), max(e.r1, row), min(e.c0, column), max(e.c1, column))
            }
        }
        var wordsOf: [Int: [Word]] = [:]
        for word in inside {
            let (cx, cy) = ((word.x0 + word.x1) / 2, (word.y0 + word.y1) / 2)
            guard let column = xs.lastIndex(where: { $0 <= cx }), column < columns,
                  let row = ys.lastIndex(where: { $0 <= cy }), row < rows else { continue }
            wordsOf[root(row * columns + column), default: []].append(word)
        }
        var grid = TableGrid(rows: rows, columns: columns)
        for (r, e) in extent.sorted(by: { ($0.value.r0, $0.value.c0) < ($1.value.r0, $1.value.c0) }) {
            let cellWords = wordsOf[r] ?? []
            let text = TableText.join(cellWords)
            let confidence = cellWords.map(\.confidence).min() ?? 1
            grid.place(TableGrid.Cell(text: text, confidence: confidence), rows: e.r0..<(e.r1 + 1), columns: e.c0..<(e.c1 + 1))
        }
        grid.compact()
        grid.dropTitleRows()
        guard grid.rowCount >= 2, grid.columnCount >= 2 else { return nil }
        grid.findHeader()
        grid.raiseHeaderLabels()
        return Found(grid: grid, bbox: bbox)
    }

    /// Where to cut ruled columns that hold two columns of numbers: white gaps inside a
    /// column that numbers in several lines have on both sides, wider than a word space there
    /// ("1 - 2 years" in a typewriter face is one cell, its numbers a word space from the dash)
    /// and clear of those lines' words.
    static func unruledColumnCuts(_ words: [Word], xs: [Double]) -> [Double] {
        var cuts: [Double] = []
        for column in 0..<(xs.count - 1) {
            let inColumn = words.filter { word in
                let cx = (word.x0 + word.x1) / 2
                return cx > xs[column] && cx < xs[column + 1]
            }
            let numbers = inColumn.filter { TextShape.isNumeric($0.text) }
            guard numbers.count >= 4 else { continue }
            var covered: [(Double, Double)] = []
            for word in numbers.sorted(by: { $0.x0 < $1.x0 }) {
                if let last = covered.last, word.x0 <= last.1 {
                    covered[covered.count - 1].1 = max(last.1, word.x1)
                } else {
                    covered.append((word.x0, word.x1))
                }
            }
            for (left, right) in zip(covered, covered.dropFirst()) where right.0 - left.1 >= 3 {
                let beside = TableText.lines(inColumn).filter { line in
                    line.contains { $0.x1 <= left.1 && TextShape.isNumeric($0.text) } && line.contains { $0.x0 >= right.0 && TextShape.isNumeric($0.text) }
                }
                // The cut goes through the widest white those lines leave between the numbers
                // (words after the left numbers, "years", reach into the gap).
                var white = [(left.1, right.0)]
                for word in beside.joined() {
                    white = white.flatMap { gap in
                        [(gap.0, min(gap.1, word.x0)), (max(gap.0, word.x1), gap.1)].filter { $0.1 > $0.0 }
                    }
                }
                guard let widest = white.max(by: { $0.1 - $0.0 < $1.1 - $1.0 }) else { continue }
                let cut = (widest.0 + widest.1) / 2
                let lines = beside.filter { line in
                    guard let before = line.last(where: { $0.x1 <= cut }), let after = line.first(where: { $0.x0 >= cut }) else { return false }
                    return after.x0 - before.x1 > max(before.y1 - before.y0, after.y1 - after.y0)
                }
                if lines.count >= 2 { cuts.append(cut) }
            }
        }
        return cuts
    }

    /// Where to cut a row band into text lines, since some tables rule only the header
    /// and the frame: when some column stacks numbers line by line (rows without rules
    /// between), and between two lines that each fill several columns where labels are
    /// followed by a row of numbers, or short labels run across a column the line below
    /// divides (a group label above its column labels). Wrapped text stays together.
    static func lineCuts(_ words: [Word], top: Double, bottom: Double, xs: [Double]) -> [Double] {
        let band = words.filter { word in
            let cy = (word.y0 + word.y1) / 2
            return cy > top && cy < bottom
        }
        let lines = TableText.lines(band)
        guard lines.count >= 2 else { return [] }
        func cells(_ line: [Word]) -> [String] {
            (0..<(xs.count - 1)).map { column in
                line.filter { word in
                    let cx = (word.x0 + word.x1) / 2
                    return cx > xs[column] && cx < xs[column + 1]
                }.map(\.text).joined(separator: " ")
            }
        }
        let perLine = lines.map(cells)
        let stacked = (0..<(xs.count - 1)).contains { column in
            perLine.allSatisfy { !$0[column].isEmpty && TextShape.isNumeric($0[column]) }
        }
        func cutBetween(_ index: Int) -> Bool {
            if stacked { return true }
            let (upper, lower) = (perLine[index], perLine[index + 1])
            guard upper.filter({ !$0.isEmpty }).count >= 2, lower.filter({ !$0.isEmpty }).count >= 2 else { return false }
            // Lines filling different columns are one row whose cells are centred vertically.
            let shared = upper.indices.contains { !upper[$0].isEmpty && !lower[$0].isEmpty }
            let (upperData, lowerData) = (TextShape.isDataRow(Array(upper.dropFirst())), TextShape.isDataRow(Array(lower.dropFirst())))
            if shared, lowerData, !upperData { return true }
            guard !upperData, !lowerData, (upper + lower).allSatisfy({ TextShape.wordCount($0) <= 4 }) else { return false }
            return xs.dropFirst().dropLast().contains { x in
                lines[index].contains { $0.x0 < x && $0.x1 > x }
                    && lines[index + 1].contains { $0.x1 <= x } && lines[index + 1].contains { $0.x0 >= x }
                    && !lines[index + 1].contains { $0.x0 < x && $0.x1 > x }
            }
        }
        return (0..<(lines.count - 1)).filter(cutBetween).map { index in
            ((lines[index].map(\.y1).max() ?? 0) + (lines[index + 1].map(\.y0).min() ?? 0)) / 2
        }
    }
}

/// Words into text: lines by vertical overlap, words left to right.
enum TableText {
    static func lines(_ words: [Word]) -> [[Word]] {
        var lines: [[Word]] = []
        for word in words.sorted(by: { ($0.y0 + $0.y1) < ($1.y0 + $1.y1) }) {
            let middle = (word.y0 + word.y1) / 2
            if let anchor = lines.last?.first, middle >= anchor.y0, middle <= anchor.y1 {
                lines[lines.count - 1].append(word)
            } else {
                lines.append([word])
            }
        }
        return lines.map { $0.sorted { $0.x0 < $1.x0 } }
    }

    static func join(_ words: [Word]) -> String {
        lines(words).map(phrase).joined(separator: " ")
    }

    /// Words in reading order as text: a space between them, except before a full stop or a
    /// comma the text layer split off the word it is set against, closer than a word space
    /// (the first dot of a leader, "Severe disability. . . ."; a word space is a quarter of
    /// the line's height or more).
    static func phrase(_ words: [Word]) -> String {
        var text = ""
        for (index, word) in words.enumerated() {
            if index > 0 {
                let previous = words[index - 1]
                let gap = word.x0 - previous.x1
                let sameLine = word.y0 < previous.y1 && word.y1 > previous.y0
                let punctuation = !word.text.isEmpty && word.text.allSatisfy { $0 == "." || $0 == "," }
                if !(punctuation && sameLine && gap > -1 && gap < (previous.y1 - previous.y0) * 0.25) { text += " " }
            }
            text += word.text
        }
        return text
    }
}
