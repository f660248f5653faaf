import CTesseract

/// Lines tesseract's page layout analysis leaves out.
///
/// With automatic page segmentation tesseract sometimes drops a whole line: faint or
/// stamped print on a receipt, a line squeezed between rules, a date beside a logo (on the
/// development receipts, one line in five that is printed is missing from the text). Its
/// binarised page still holds the line's characters. After the page is read, the
/// character-sized blobs that no word covers are grouped into lines, and each line with
/// nothing read beside it is read on its own as one block of text. A page where nothing
/// was missed costs one connected-component pass; words read with little confidence, or
/// over words already read, are not taken.
extension OCREngine {
    /// At most this many lines are read again per page (noise cannot make a page slow).
    static let maximumMissedLines = 24
    /// More loose character-sized blobs than this: a picture or paper texture; not searched.
    static let maximumLooseBlobs = 20_000

    func missedLines(besides found: [Word]) -> [OCRLine] {
        guard found.count >= 5, TessBaseAPIGetThresholdedImageScaleFactor(api) == 1 else { return [] }
        guard let lineHeight = found.medianHeight, lineHeight >= 8 else { return [] }
        guard let thresholded = TessBaseAPIGetThresholdedImage(api) else { return [] }
        let width = Double(pixGetWidth(thresholded)), height = Double(pixGetHeight(thresholded))
        var boxes = pixConnCompBB(thresholded, 8)
        var binary: UnsafeMutablePointer<PIX>? = thresholded
        pixDestroy(&binary)
        guard let components = boxes else { return [] }
        defer { boxaDestroy(&boxes) }

        let reading = BoxIndex(found.map(Box.init(_:)), rowHeight: lineHeight)
        var blobs: [Box] = []
        for index in 0..<boxaGetCount(components) {
            var x: Int32 = 0, y: Int32 = 0, w: Int32 = 0, h: Int32 = 0
            guard boxaGetBoxGeometry(components, index, &x, &y, &w, &h) == 0 else { continue }
            // Character-sized: not a speck, a rule, a frame or a picture.
            guard Double(h) >= lineHeight * 0.35, Double(h) <= lineHeight * 1.3,
                  Double(w) <= lineHeight * 2.5 else { continue }
            let blob = Box(x0: Double(x), y0: Double(y), x1: Double(x + w), y1: Double(y + h))
            if !reading.overlaps(blob.padded(by: lineHeight * 0.25)) { blobs.append(blob) }
        }
        // More loose character-sized blobs than a dense page has characters: a picture or
        // paper texture, not text tesseract missed.
        guard blobs.count <= Self.maximumLooseBlobs else { return [] }
        let groups = Self.lines(of: blobs, lineHeight: lineHeight)
        guard !groups.isEmpty else { return [] }

        // Only lines left out whole: the rest of a line tesseract did read (a table's far
        // column, a name's last word) stays as it is, rather than be spliced into its row.
        let unread = groups.filter { group in
            !reading.spansRow(at: (group.y0 + group.y1) / 2, from: group.x0 - lineHeight * 8, to: group.x1 + lineHeight * 8)
        }
        guard !unread.isEmpty else { return [] }
        var missed: [OCRLine] = []
        TessBaseAPISetPageSegMode(api, PSM_SINGLE_BLOCK)
        defer { TessBaseAPISetPageSegMode(api, PSM_AUTO) }
        for group in unread.prefix(Self.maximumMissedLines) {
            let area = group.padded(by: lineHeight * 0.4).clipped(width: width, height: height)
            TessBaseAPISetRectangle(api, Int32(area.x0), Int32(area.y0), Int32(area.x1 - area.x0), Int32(area.y1 - area.y0))
            guard TessBaseAPIRecognize(api, nil) == 0 else { continue }
            let words = readLines().flatMap(\.words).filter { word in
                word.confidence >= 0.6 && word.text.unicodeScalars.contains { $0.properties.isAlphabetic || ("0"..."9").contains($0) }
                    && !reading.overlapsMostly(Box(word))
            }
            guard !words.isEmpty else { continue }
            missed.append(OCRLine(startsParagraph: true, words: words))
        }
        return missed
    }

    /// Blobs grouped into lines: those that share most of their height, and lie within a few
    /// characters of each other; a line needs a few characters to be worth reading. Blobs
    /// come left to right, so a line that ended more than the gap ago is closed: only the
    /// lines open at one x are searched (about a page's height in lines at most).
    static func lines(of blobs: [Box], lineHeight: Double) -> [Box] {
        let gap = lineHeight * 2
        var open: [(box: Box, count: Int)] = []
        var closed: [(box: Box, count: Int)] = []
        for blob in blobs.sorted(by: { $0.x0 < $1.x0 }) {
            if open.contains(where: { blob.x0 - $0.box.x1 >= gap }) {
                closed += open.filter { blob.x0 - $0.box.x1 >= gap }
                open.removeAll { blob.x0 - $0.box.x1 >= gap }
            }
            let middle = (blob.y0 + blob.y1) / 2
            if let index = open.lastIndex(where: { middle > $0.box.y0 && middle < $0.box.y1 }) {
                open[index].box = open[index].box.union(blob)
                open[index].count += 1
            } else {
                open.append((blob, 1))
            }
        }
        return (closed + open).filter { $0.count >= 3 && $0.box.x1 - $0.box.x0 >= lineHeight * 1.5 }
            .map(\.box).sorted { $0.y0 < $1.y0 }
    }
}

extension Box {
    init(_ word: Word) {
        self.init(x0: word.x0, y0: word.y0, x1: word.x1, y1: word.y1)
    }

    var area: Double { max(0, x1 - x0) * max(0, y1 - y0) }

    func padded(by margin: Double) -> Box {
        Box(x0: x0 - margin, y0: y0 - margin, x1: x1 + margin, y1: y1 + margin)
    }

    func clipped(width: Double, height: Double) -> Box {
        Box(x0: max(0, x0), y0: max(0, y0), x1: min(width, x1), y1: min(height, y1))
    }

    func union(_ other: Box) -> Box {
        Box(x0: min(x0, other.x0), y0: min(y0, other.y0), x1: max(x1, other.x1), y1: max(y1, other.y1))
    }

    func intersection(_ other: Box) -> Double {
        Box(x0: max(x0, other.x0), y0: max(y0, other.y0), x1: min(x1, other.x1), y1: min(y1, other.y1)).area
    }
}

/// Boxes bucketed by rows of the page, for overlap tests against many boxes.
struct BoxIndex {
    private let rows: [Int: [Box]]
    private let rowHeight: Double

    init(_ boxes: [Box], rowHeight: Double) {
        var rows: [Int: [Box]] = [:]
        for box in boxes {
            for row in Int((box.y0 / rowHeight).rounded(.down))...Int((box.y1 / rowHeight).rounded(.down)) {
                rows[row, default: []].append(box)
            }
        }
        self.rows = rows
        self.rowHeight = rowHeight
    }

    private func candidates(_ box: Box) -> [Box] {
        let first = Int((box.y0 / rowHeight).rounded(.down)), last = Int((box.y1 / rowHeight).rounded(.down))
        return (first...max(first, last)).flatMap { rows[$0] ?? [] }
    }

    /// Some box crosses height `y` between `x0` and `x1`: a line read there.
    func spansRow(at y: Double, from x0: Double, to x1: Double) -> Bool {
        candidates(Box(x0: x0, y0: y, x1: x1, y1: y)).contains { $0.y0 <= y && $0.y1 >= y && $0.x1 >= x0 && $0.x0 <= x1 }
    }

    func overlaps(_ box: Box) -> Bool {
        candidates(box).contains { $0.intersection(box) > 0 }
    }

    /// Covers over a third of `box` (or `box` covers over a third of it): the same word read twice.
    func overlapsMostly(_ box: Box) -> Bool {
        candidates(box).contains { $0.intersection(box) > min($0.area, box.area) / 3 }
    }
}
