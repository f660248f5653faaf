import CPoppler
import Foundation

/// A straight rule drawn on a page (a table border or separator), in PDF points with the
/// origin top-left.
public struct RulingLine: Sendable, Equatable {
    public enum Axis: Sendable { case horizontal, vertical }
    public let axis: Axis
    /// y of a horizontal rule, x of a vertical one.
    public let position: Double
    /// Where the rule starts and ends along its axis (x for horizontal, y for vertical).
    public let start: Double
    public let end: Double

    public init(_ axis: Axis, at position: Double, from start: Double, to end: Double) {
        self.axis = axis
        self.position = position
        self.start = min(start, end)
        self.end = max(start, end)
    }

    public var length: Double { end - start }
}

/// A page rendered as ink: 0 is white paper, 255 full black; `scale` pixels per point.
struct InkImage {
    let width: Int
    let height: Int
    let scale: Double
    var ink: [UInt8]

    subscript(x: Int, y: Int) -> UInt8 { ink[y * width + x] }
}

/// Finds rules as long straight runs of ink, the way camelot's lattice mode does with
/// morphology, but in one pass per axis.
///
/// Glyphs render as ink too, so word boxes are blanked first and a run must be far longer
/// than a stroke of a letter. A run a few points thick is a line; a thick one is a filled
/// box, whose edges still separate cells, so both its edges become rules.
public enum RulingDetector {
    /// Ink at or above this counts: a hairline in mid grey, anti-aliased, still passes;
    /// light cell shading does not.
    static let inkThreshold: UInt8 = 90

    /// Rules in a rendered page given as ink per pixel (0 white … 255 black, row by row),
    /// `scale` pixels per point; the words' boxes (in points) are ignored.
    public static func lines(ink: [UInt8], width: Int, height: Int, scale: Double, masking words: [Word]) -> [RulingLine] {
        precondition(ink.count == width * height, "one ink value per pixel")
        return lines(in: InkImage(width: width, height: height, scale: scale, ink: ink), masking: words)
    }

    static func lines(in image: InkImage, masking words: [Word], minimumLength: Double = 10) -> [RulingLine] {
        var dark = DarkImage(image, threshold: inkThreshold)
        dark.blank(words, scale: image.scale)
        let minimumPixels = max(3, Int(minimumLength * image.scale))
        let (horizontal, vertical) = dark.runs(minimumPixels: minimumPixels)
        return merge(bands(horizontal, axis: .horizontal, scale: image.scale))
            + merge(bands(vertical, axis: .vertical, scale: image.scale))
    }

    /// Ink above the threshold as 1, the rest 0, in rows padded to whole 8-byte words so
    /// that white stretches are skipped eight pixels at a time.
    struct DarkImage {
        let width: Int
        let height: Int
        let stride: Int
        var pixels: [UInt8]

        init(_ image: InkImage, threshold: UInt8) {
            width = image.width
            height = image.height
            stride = (image.width + 7) & ~7
            var pixels = [UInt8](repeating: 0, count: stride * image.height)
            let (width, stride) = (width, stride)
            image.ink.withUnsafeBufferPointer { ink in
                pixels.withUnsafeMutableBufferPointer { out in
                    for y in 0..<image.height {
                        for x in 0..<width where ink[y * width + x] >= threshold { out[y * stride + x] = 1 }
                    }
                }
            }
            self.pixels = pixels
        }

        /// Clears the inside of every word box (in points); the box edges are kept a little
        /// inwards so a rule drawn tight under a line of text survives.
        mutating func blank(_ words: [Word], scale: Double) {
            for word in words {
                let inset = (word.y1 - word.y0) * 0.15
                let x0 = max(0, Int(((word.x0 + 0.5) * scale).rounded(.up)))
                let x1 = min(width - 1, Int(((word.x1 - 0.5) * scale).rounded(.down)))
                let y0 = max(0, Int(((word.y0 + inset) * scale).rounded(.up)))
                let y1 = min(height - 1, Int(((word.y1 - inset) * scale).rounded(.down)))
                guard x0 <= x1, y0 <= y1 else { continue }
                for y in y0...y1 {
                    let row = y * stride
                    for x in x0...x1 { pixels[row + x] = 0 }
                }
            }
        }

        /// Runs of dark pixels along rows and along columns, as (across, from, to) in
        /// pixels, each ordered by lane. One walk row by row keeps memory access
        /// sequential; a vertical run is tracked per column.
        func runs(minimumPixels: Int) -> (horizontal: [(across: Int, from: Int, to: Int)], vertical: [(across: Int, from: Int, to: Int)]) {
            var horizontal: [(across: Int, from: Int, to: Int)] = []
            var vertical: [(across: Int, from: Int, to: Int)] = []
            let (width, height, stride) = (width, height, stride)
            let groups = stride / 8
            var starts = [Int](repeating: -1, count: stride)
            var openInGroup = [Int](repeating: 0, count: groups)
            pixels.withUnsafeBytes { raw in
                starts.withUnsafeMutableBufferPointer { starts in
                    openInGroup.withUnsafeMutableBufferPointer { open in
                        for y in 0...height {
                            let row = y * stride
                            var start = -1
                            for group in 0..<groups {
                                let chunk: UInt64 = y < height ? raw.loadUnaligned(fromByteOffset: row + group * 8, as: UInt64.self) : 0
                                if chunk == 0 && open[group] == 0 {
                                    if start >= 0 {
                                        if group * 8 - start >= minimumPixels { horizontal.append((y, start, group * 8 - 1)) }
                                        start = -1
                                    }
                                    continue
                                }
                                for x in (group * 8)..<(group * 8 + 8) {
                                    let dark = y < height && x < width && raw[row + x] != 0
                                    if dark {
                                        if start < 0 { start = x }
                                        if starts[x] < 0 { starts[x] = y; open[group] += 1 }
                                    } else {
                                        if start >= 0 {
                                            if x - start >= minimumPixels { horizontal.append((y, start, x - 1)) }
                                            start = -1
                                        }
                                        if starts[x] >= 0 {
                                            if y - starts[x] >= minimumPixels { vertical.append((x, starts[x], y - 1)) }
                                            starts[x] = -1
                                            open[group] -= 1
                                        }
                                    }
                                }
                            }
                            if start >= 0, stride - start >= minimumPixels { horizontal.append((y, start, stride - 1)) }
                        }
                    }
                }
            }
            vertical.sort { ($0.across, $0.from) < ($1.across, $1.from) }
            return (horizontal, vertical)
        }
    }

    /// Runs in neighbouring lanes that overlap along the axis are one stroke; thin strokes
    /// become one rule at their middle, long thick ones (filled boxes) a rule at each edge.
    static func bands(_ runs: [(across: Int, from: Int, to: Int)], axis: RulingLine.Axis, scale: Double) -> [RulingLine] {
        struct Band { var first: Int, last: Int, from: Int, to: Int }
        var open: [Band] = []
        var closed: [Band] = []
        for run in runs {  // ordered by lane
            open.removeAll { band in
                guard band.last < run.across - 1 else { return false }
                closed.append(band)
                return true
            }
            if let index = open.firstIndex(where: { band in
                band.last == run.across - 1 && min(band.to, run.to) - max(band.from, run.from) > (run.to - run.from) / 2
            }) {
                open[index].last = run.across
                open[index].from = min(open[index].from, run.from)
                open[index].to = max(open[index].to, run.to)
            } else {
                open.append(Band(first: run.across, last: run.across, from: run.from, to: run.to))
            }
        }
        closed += open
        var lines: [RulingLine] = []
        for band in closed {
            let from = Double(band.from) / scale, to = Double(band.to + 1) / scale
            let top = Double(band.first) / scale, bottom = Double(band.last + 1) / scale
            if bottom - top <= 3 {
                lines.append(RulingLine(axis, at: (top + bottom) / 2, from: from, to: to))
            } else if to - from >= (bottom - top) * 3 {
                // A filled box long along the axis (a shaded header row): its edges separate
                // cells. Short thick pieces are ink between glyphs of text set on a fill.
                lines.append(RulingLine(axis, at: top, from: from, to: to))
                lines.append(RulingLine(axis, at: bottom, from: from, to: to))
            }
        }
        return lines
    }

    /// Joins pieces of one rule: same position within a point and a half, touching or
    /// overlapping along the axis (in whatever order the pieces come).
    static func merge(_ lines: [RulingLine]) -> [RulingLine] {
        var merged: [RulingLine] = []
        var group: [RulingLine] = []
        func flush() {
            var pieces: [RulingLine] = []
            for line in group.sorted(by: { $0.start < $1.start }) {
                if let last = pieces.last, line.start <= last.end + 2 {
                    pieces[pieces.count - 1] = RulingLine(last.axis, at: (last.position + line.position) / 2,
                                                          from: last.start, to: max(last.end, line.end))
                } else {
                    pieces.append(line)
                }
            }
            merged += pieces
            group.removeAll()
        }
        for line in lines.sorted(by: { $0.position < $1.position }) {
            if let first = group.first, line.position - first.position > 1.5 { flush() }
            group.append(line)
        }
        flush()
        return merged
    }
}

/// The layout table detection reads: words whose characters sit together, and the rules
/// drawn on the page.
public struct PageLayout: Sendable {
    public let words: [Word]
    public let rulings: [RulingLine]

    public init(words: [Word], rulings: [RulingLine]) {
        self.words = words
        self.rulings = rulings
    }
}

extension PDFDocument {
    /// Words and rules of a page for table detection (rules only where the words hint at
    /// a table).
    ///
    /// The text layer's words follow poppler's reading order, which in tables sometimes
    /// runs cells of different rows together without a space; here a word also ends where
    /// the next character jumps back, down or far right. Rules are the page's drawn
    /// strokes and fills (`PDFPaths`); a page whose content that cannot read, or that is
    /// mostly an image, is rendered with cairo at `scale` pixels per point instead.
    public func layout(pageIndex index: Int, scale: Double = 1.5) throws -> PageLayout {
        guard let page = poppler_document_get_page(documentHandle, Int32(index)) else {
            throw DocumentProblem("corrupt_document", "page \(index + 1) cannot be read")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        guard let layer = PDFDocument.textLayer(page) else { return PageLayout(words: [], rulings: []) }
        return layout(page, index: index, layer: layer, scale: scale)
    }

    func layout(_ page: OpaquePointer, index: Int, layer: TextLayer, scale: Double) -> PageLayout {
        let words = layer.layoutWords
        // Reading rules costs more than reading the text layer, so pages without a hint of
        // a table (prose, title pages) skip it.
        guard TableDetector.mayHoldTable(words) else { return PageLayout(words: words, rulings: []) }
        let rulings = drawnRulings(pageIndex: index) ?? PDFDocument.rulings(page, words: words, scale: scale)
        return PageLayout(words: words, rulings: rulings)
    }

    static func rulings(_ page: OpaquePointer, words: [Word], scale: Double) -> [RulingLine] {
        var width = 0.0, height = 0.0
        poppler_page_get_size(page, &width, &height)
        let pixelWidth = Int((width * scale).rounded()), pixelHeight = Int((height * scale).rounded())
        guard pixelWidth > 0, pixelHeight > 0, pixelWidth * pixelHeight <= 50_000_000 else { return [] }
        let read: [UInt8]? = PDFDocument.withRenderedPage(page, scale: scale, width: pixelWidth, height: pixelHeight) { data, stride in
            var ink = [UInt8](repeating: 0, count: pixelWidth * pixelHeight)
            ink.withUnsafeMutableBufferPointer { out in
                for y in 0..<pixelHeight {
                    let row = data + y * stride
                    let base = y * pixelWidth
                    // RGB24 is native-endian 0x00RRGGBB, so byte 1 is green on little-endian
                    // machines; green alone is close enough to lightness for dark rules.
                    for x in 0..<pixelWidth { out[base + x] = 255 &- row[x &* 4 &+ 1] }
                }
            }
            return ink
        }
        guard let ink = read else { return [] }
        let image = InkImage(width: pixelWidth, height: pixelHeight, scale: scale, ink: ink)
        return RulingDetector.lines(in: image, masking: words)
    }
}
