import Foundation

/// A run of words on one row of a page that belong together: a label, a value, a phrase.
/// Rows are split into runs where the gap between two words is wider than about one
/// character height, which separates table columns and label/value columns.
struct TextRun {
    let page: Int
    let row: Int
    let index: Int
    let words: [Word]
    /// The words joined by single spaces, as printed.
    let text: [Character]
    /// `text` casefolded without diacritics, one character for each of `text`.
    let folded: [Character]
    /// `folded` as numbers for fast first-character tests (`TextRun.code`).
    let foldedCodes: [UInt32]
    /// The ASCII characters of `folded`, to rule labels out quickly.
    let asciiMask: ASCIIMask
    /// Each character's approximate horizontal extent: words are split proportionally.
    let charX: [(Double, Double)]
    let box: Box
    let height: Double

    init(page: Int, row: Int, index: Int, words: [Word]) {
        self.page = page
        self.row = row
        self.index = index
        self.words = words
        var text: [Character] = [], charX: [(Double, Double)] = []
        for (n, word) in words.enumerated() {
            if n > 0 {
                text.append(" ")
                charX.append((words[n - 1].x1, word.x0))
            }
            let start = text.count
            text.append(contentsOf: word.text)
            let count = text.count - start
            let width = (word.x1 - word.x0) / Double(max(count, 1))
            for i in 0..<count {
                charX.append((word.x0 + width * Double(i), word.x0 + width * Double(i + 1)))
            }
        }
        self.text = text
        self.folded = text.map(TextRun.fold)
        self.foldedCodes = folded.map(TextRun.code)
        asciiMask = ASCIIMask(foldedCodes)
        self.charX = charX
        box = Box(x0: words.map(\.x0).min() ?? 0, y0: words.map(\.y0).min() ?? 0,
                  x1: words.map(\.x1).max() ?? 0, y1: words.map(\.y1).max() ?? 0)
        height = words.medianHeight ?? 0
    }

    var string: String { String(text) }
    /// Read by OCR (text-layer words have confidence 1): letters may be misread.
    var isOCR: Bool { words.contains { $0.confidence < 1 } }
    var foldedString: String { String(folded) }
    var confidence: Double { words.isEmpty ? 0 : words.map(\.confidence).reduce(0, +) / Double(words.count) }

    /// The box of the characters in `range` (approximate inside glued words).
    func box(of range: Range<Int>) -> Box {
        guard !range.isEmpty, range.lowerBound < charX.count else { return box }
        let upper = min(range.upperBound, charX.count)
        return Box(x0: charX[range.lowerBound].0, y0: box.y0, x1: charX[upper - 1].1, y1: box.y1)
    }

    /// The box of the whole words `range` touches (OCR's boxes, where `box(of:)` splits a
    /// word by character widths and may cut off a digit); nil for an empty range.
    func wordBox(of range: Range<Int>) -> Box? {
        var offset = 0
        var found: Box?
        for word in words {
            let span = offset..<(offset + word.text.count)
            offset = span.upperBound + 1
            guard span.overlaps(range) else { continue }
            found = found?.union(Box(word)) ?? Box(word)
        }
        return found
    }

    /// The first character index whose centre lies at or right of `x`.
    func offset(atX x: Double) -> Int {
        charX.firstIndex { ($0.0 + $0.1) / 2 >= x } ?? charX.count
    }

    /// A character casefolded and without diacritics, still one character.
    static func fold(_ character: Character) -> Character {
        // One ASCII byte: lowercased without building strings.
        if let byte = character.singleASCIIByte { return byte &- 0x41 < 26 ? Character(Unicode.Scalar(byte | 0x20)) : character }
        if character.isASCII { return Character(character.lowercased()) }
        let folded = String(character).folding(options: [.caseInsensitive, .diacriticInsensitive], locale: nil)
        if folded.count == 1 { return folded.first! }
        let lower = character.lowercased()
        return lower.count == 1 ? lower.first! : character
    }

    static func fold(_ text: String) -> String { String(text.map(fold)) }

    /// A character's scalar value, or `multiScalar` for a character of several scalars:
    /// equal characters have equal codes, so unequal codes rule a match out cheaply
    /// (comparing `Character`s goes through string comparison).
    static func code(_ character: Character) -> UInt32 {
        if let byte = character.singleASCIIByte { return UInt32(byte) }
        let scalars = character.unicodeScalars
        return scalars.count == 1 ? scalars.first!.value : multiScalar
    }

    static let multiScalar = UInt32.max
}

/// A page as rows of runs, top to bottom, each row left to right.
struct FieldLayout {
    let page: PageModel
    let rows: [[TextRun]]
    /// `rows` flattened, once: every field's search walks them.
    let runs: [TextRun]
    let medianHeight: Double

    init(_ page: PageModel) {
        self.page = page
        var rows: [[Word]] = []
        var bands: [(Double, Double)] = []
        let typicalHeight = Self.typicalHeight(of: page.words)
        var misfits: [Word] = []
        for word in page.words.sorted(by: { ($0.y0 + $0.y1) < ($1.y0 + $1.y1) }) {
            if Self.isMisfit(word, typicalHeight: typicalHeight) {
                misfits.append(word)
                continue
            }
            let middle = (word.y0 + word.y1) / 2
            // A little slack below: receipts photographed at a slant drift downwards.
            // A word box spanning two lines (poppler glues a value to the next line's label,
            // "IBZY2087Payment") starts its own row instead of joining the upper one.
            let bandHeight = bands.last.map { $0.1 - $0.0 } ?? 0
            func glued() -> Bool {
                let characters = Array(word.text)
                return characters.indices.dropFirst().contains { i in
                    (characters[i - 1].isNumberFast || characters[i - 1].isLowercaseFast) && characters[i].isUppercaseFast
                        && i + 1 < characters.count && characters[i + 1].isLowercaseFast
                }
            }
            // The box test first: it rules out nearly every word before looking at its letters.
            let spansTwoLines = bandHeight > 0 && word.y1 - word.y0 > 1.6 * bandHeight
                && abs(word.y0 - (bands.last?.0 ?? 0)) < 0.3 * bandHeight && glued()
            var band = bands.last
            // A photographed receipt's lines slope: compare with the row's word nearest in x.
            if word.confidence < 1, let nearest = rows.last?.min(by: { Self.distance($0, word) < Self.distance($1, word) }) {
                band = (nearest.y0, nearest.y1)
            }
            if let band, !spansTwoLines, middle >= band.0, middle <= band.1 + 0.3 * (band.1 - band.0) {
                rows[rows.count - 1].append(word)
            } else {
                rows.append([word])
                bands.append((word.y0, word.y1))
            }
        }
        // Boxes far from the typical height never set a row's band: a small one joins the row
        // whose middle it sits in (a rule of dashes above a total stays apart), a tall one the
        // row whose middle it covers.
        for word in misfits {
            let middle = (word.y0 + word.y1) / 2
            let tall = word.y1 - word.y0 > typicalHeight
            let covered = bands.indices.filter { row in
                let centre = (bands[row].0 + bands[row].1) / 2
                return tall ? centre >= word.y0 && centre <= word.y1 : abs(middle - centre) < 0.35 * (bands[row].1 - bands[row].0)
            }
            if let row = covered.min(by: { abs((bands[$0].0 + bands[$0].1) / 2 - middle) < abs((bands[$1].0 + bands[$1].1) / 2 - middle) }) {
                rows[row].append(word)
            } else {
                let row = bands.firstIndex { ($0.0 + $0.1) / 2 > middle } ?? bands.count
                rows.insert([word], at: row)
                bands.insert((word.y0, word.y1), at: row)
            }
        }
        medianHeight = page.words.medianHeight ?? 10
        var result: [[TextRun]] = []
        for words in rows {
            let sorted = words.sorted { $0.x0 < $1.x0 }
            var runs: [[Word]] = []
            for word in sorted {
                if let last = runs.last?.last {
                    // The taller word sets the scale: a comma's box is tiny.
                    let height = max(max(last.y1 - last.y0, word.y1 - word.y0), 1)
                    if word.x0 - last.x1 > 1.3 * height {
                        runs.append([word])
                        continue
                    }
                    runs[runs.count - 1].append(word)
                } else {
                    runs.append([word])
                }
            }
            let row = result.count
            result.append(runs.enumerated().map { TextRun(page: page.number, row: row, index: $0.offset, words: $0.element) })
        }
        self.rows = result
        runs = result.flatMap { $0 }
    }

    /// The horizontal gap between two words (0 when they overlap).
    static func distance(_ a: Word, _ b: Word) -> Double { max(0, a.x0 - b.x1, b.x0 - a.x1) }

    /// The median height of OCR words (0 without any).
    static func typicalHeight(of words: [Word]) -> Double {
        words.filter { $0.confidence < 1 }.medianHeight ?? 0
    }

    /// An OCR box far from the typical height: a lone ":" or a rule of dashes would split
    /// a row in two, a logo read as "f)" would swallow the line below it.
    static func isMisfit(_ word: Word, typicalHeight: Double) -> Bool {
        let height = word.y1 - word.y0
        return word.confidence < 1 && typicalHeight > 0 && (height < 0.5 * typicalHeight || height > 2.5 * typicalHeight)
    }

    /// Runs on the rows below `run` whose horizontal extent overlaps `x0...x1`, nearest
    /// first, at most `maxRows` rows down and within a few line heights.
    func runs(below run: TextRun, from x0: Double, to x1: Double, maxRows: Int = 3) -> [(TextRun, Int)] {
        var found: [(TextRun, Int)] = []
        var previousBottom = run.box.y1
        guard run.row + 1 < rows.count else { return [] }
        for (distance, row) in rows[(run.row + 1)...].prefix(maxRows).enumerated() {
            guard let first = row.first else { continue }
            if first.box.y0 - previousBottom > 2.5 * max(run.height, 1) { break }
            previousBottom = row.map(\.box.y1).max() ?? previousBottom
            for candidate in row where candidate.box.x1 >= x0 && candidate.box.x0 <= x1 {
                found.append((candidate, distance + 1))
            }
        }
        return found
    }
}
