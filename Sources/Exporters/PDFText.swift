import CPangoCairo

/// Pango measures in units of 1/1024 point (PANGO_SCALE); the layouts here use a 72 dpi
/// context, so one Pango unit is 1/1024 of a PDF point.
let pangoScale = 1024.0

/// The fonts of a report, parsed once: Pango copies a description into every layout that
/// uses it, so re-creating descriptions per cell would cost as much as the layout itself.
/// The family list puts DejaVu Sans (Latin, Greek, Cyrillic, Arabic) before Noto Sans CJK;
/// fontconfig falls back further for any script neither covers.
final class PDFFonts {
    static let families = "DejaVu Sans, Noto Sans CJK SC"

    let body: OpaquePointer
    let bold: OpaquePointer
    let heading: OpaquePointer
    let subheading: OpaquePointer
    let small: OpaquePointer

    init(bodySize: Double) {
        body = PDFFonts.description("", size: bodySize)
        bold = PDFFonts.description("Bold", size: bodySize)
        heading = PDFFonts.description("Bold", size: bodySize * 2)
        subheading = PDFFonts.description("Bold", size: bodySize * 1.4)
        small = PDFFonts.description("", size: max(bodySize - 1, 5))
    }

    deinit {
        for font in [body, bold, heading, subheading, small] { pango_font_description_free(font) }
    }

    private static func description(_ style: String, size: Double) -> OpaquePointer {
        pango_font_description_from_string("\(families) \(style) \(size)")
    }
}

/// Text that draws itself with its top-left corner at a point: a layout or a table cell.
protocol PDFDrawable {
    func draw(_ cr: OpaquePointer, x: Double, y: Double)
}

/// One reusable PangoLayout: a paragraph of text in one font, wrapped to a width and cut to
/// at most `maxLines` lines with an ellipsis. Setting new text keeps the font, width and
/// wrapping, which is what makes drawing a table cell by cell affordable.
///
/// Lines break only at spaces, never inside a word: `INV-2024-00001` split after `0000`
/// reads as two other numbers. A word wider than the column is drawn smaller to fit (down
/// to `minWordScale`); one that would need to be smaller still is cut and ends in "…".
/// `shortened` tells whether the last text set lost anything (so the page can say so).
final class PDFTextBox: PDFDrawable {
    /// A word is never drawn at less than this fraction of the font size.
    static let minWordScale = 0.7

    private let layout: OpaquePointer
    private let maxLines: Int
    /// The wrapping width in points, nil for a box that does not wrap.
    private let width: Double?
    /// Measures single words without wrapping; only wrapping boxes have one.
    private let measurer: PDFTextBox?
    /// Whether the text last set was cut (a word or the paragraph ends in "…").
    private(set) var shortened = false

    /// - Parameters:
    ///   - width: the width in points to wrap to; nil for no wrapping (measuring natural widths).
    ///   - maxLines: more lines than this end in "…" so one huge value cannot eat pages.
    init(context: OpaquePointer, font: OpaquePointer, width: Double?, maxLines: Int = 1,
         rightAligned: Bool = false) {
        layout = pango_layout_new(context)
        self.maxLines = maxLines
        self.width = width
        pango_layout_set_font_description(layout, font)
        if let width {
            measurer = PDFTextBox(context: context, font: font, width: nil)
            pango_layout_set_width(layout, Int32(width * pangoScale))
            pango_layout_set_wrap(layout, PANGO_WRAP_WORD)
            pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
            // A negative height is a line count (per paragraph; callers pass one paragraph).
            pango_layout_set_height(layout, Int32(-maxLines))
        } else {
            measurer = nil
        }
        if rightAligned { pango_layout_set_alignment(layout, PANGO_ALIGN_RIGHT) }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(layout)) }

    func setText(_ text: String) {
        shortened = false
        guard let width, let measurer else {
            pango_layout_set_text(layout, text, -1)
            return
        }
        var words = PDFWords(text)
        apply(words)
        // A word wider than the line shows as a line wider than the box or, on the last
        // line, as an ellipsis: only then are the words measured one by one.
        if size.width > width + 0.01 || pango_layout_is_ellipsized(layout) != 0 {
            if words.fit(into: width, measure: { measurer.setText($0); return measurer.size.width }) {
                shortened = true
                apply(words)
            }
        }
        if pango_layout_is_ellipsized(layout) != 0 {
            shortened = true
            cutAtLastLine(words)
        }
    }

    /// Sets the text with no line break allowed inside a word and shrunk words scaled.
    private func apply(_ words: PDFWords) {
        pango_layout_set_text(layout, words.text, -1)
        guard let list = pango_attr_list_new() else { return }
        defer { pango_attr_list_unref(list) }
        for word in words.ranges {
            if word.count > 1, let noBreak = pango_attr_allow_breaks_new(0) {
                noBreak.pointee.start_index = guint(word.lowerBound)
                noBreak.pointee.end_index = guint(word.upperBound)
                pango_attr_list_insert(list, noBreak)
            }
        }
        for (word, scale) in words.scales {
            if let attribute = pango_attr_scale_new(scale) {
                attribute.pointee.start_index = guint(word.lowerBound)
                attribute.pointee.end_index = guint(word.upperBound)
                pango_attr_list_insert(list, attribute)
            }
        }
        pango_layout_set_attributes(layout, list)
    }

    /// Pango maps its "…" to all the text it hides, and cairo writes that into the PDF's text
    /// layer, so copying, searching or pdftotext would find a long value's hidden part (and
    /// pdftotext's layout would stretch to fit it). Instead the text is cut where the first
    /// hidden line starts (always between words) and ends in its own "…"; Pango then hides at
    /// most the few characters the "…" pushes off the last line. Only values that overflow pay
    /// for this.
    private func cutAtLastLine(_ words: PDFWords) {
        pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_NONE)
        let hidden = pango_layout_get_line_readonly(layout, Int32(maxLines))?.pointee.start_index
        pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
        guard let hidden else { return }
        apply(words.cut(atByte: Int(hidden)))
    }

    /// The laid-out size in points (the width of the widest line, the height of all lines).
    var size: (width: Double, height: Double) {
        var width: Int32 = 0, height: Int32 = 0
        pango_layout_get_size(layout, &width, &height)
        return (Double(width) / pangoScale, Double(height) / pangoScale)
    }

    /// The first line's baseline, in points below the top.
    var baseline: Double { Double(pango_layout_get_baseline(layout)) / pangoScale }

    /// Draws the text with its top-left corner at (x, y) in the current source colour.
    func draw(_ cr: OpaquePointer, x: Double, y: Double) {
        cairo_move_to(cr, x, y)
        pango_cairo_show_layout(cr, layout)
    }
}

/// A paragraph as words (runs of anything but spaces) with their byte ranges in the text,
/// and the scale each shrunk word is drawn at.
struct PDFWords {
    private(set) var text: String
    private(set) var ranges: [Range<Int>]
    private(set) var scales: [(Range<Int>, Double)] = []

    init(_ text: String) {
        self.text = text
        ranges = PDFWords.wordRanges(Array(text.utf8))
    }

    /// Byte ranges of the runs of bytes other than ASCII space.
    static func wordRanges(_ bytes: [UInt8]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start: Int?
        for (index, byte) in bytes.enumerated() {
            if byte == 0x20 {
                if let begin = start { ranges.append(begin..<index) }
                start = nil
            } else if start == nil {
                start = index
            }
        }
        if let begin = start { ranges.append(begin..<bytes.count) }
        return ranges
    }

    /// Makes every word fit `width` points: a wider word is scaled down to fit, or, if that
    /// would take it below `PDFTextBox.minWordScale`, cut to what fits at that scale with a
    /// "…". Returns whether a word was cut. `measure` gives a string's width at full size.
    mutating func fit(into width: Double, measure: (String) -> Double) -> Bool {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        var newRanges: [Range<Int>] = []
        var newScales: [(Range<Int>, Double)] = []
        var cut = false
        var previousEnd = 0
        for range in ranges {
            out += bytes[previousEnd..<range.lowerBound]
            previousEnd = range.upperBound
            var word = String(decoding: bytes[range], as: UTF8.self)
            let natural = measure(word)
            var scale = 1.0
            if natural > width {
                scale = width / natural
                if scale < PDFTextBox.minWordScale {
                    scale = PDFTextBox.minWordScale
                    word = PDFWords.prefix(of: word, fitting: width / scale, measure: measure) + "…"
                    cut = true
                }
            }
            let start = out.count
            out += Array(word.utf8)
            newRanges.append(start..<out.count)
            if scale < 1 { newScales.append((start..<out.count, scale * 0.98)) }
        }
        out += bytes[previousEnd...]
        text = String(decoding: out, as: UTF8.self)
        ranges = newRanges
        scales = newScales
        return cut
    }

    /// The longest prefix of `word` (whole characters, at least one) that with "…" after it
    /// measures at most `width`.
    static func prefix(of word: String, fitting width: Double, measure: (String) -> Double) -> String {
        let characters = Array(word)
        var low = 1, high = max(characters.count - 1, 1)
        while low < high {
            let middle = (low + high + 1) / 2
            if measure(String(characters[..<middle]) + "…") <= width { low = middle } else { high = middle - 1 }
        }
        return String(characters[..<low])
    }

    /// The words before byte `offset` (a word start), ending in "…".
    func cut(atByte offset: Int) -> PDFWords {
        var result = self
        let kept = ranges.filter { $0.upperBound <= offset }
        guard let last = kept.last else { return result }
        var bytes = Array(text.utf8.prefix(last.upperBound))
        bytes += Array("…".utf8)
        result.text = String(decoding: bytes, as: UTF8.self)
        result.ranges = Array(kept.dropLast()) + [last.lowerBound..<bytes.count]
        result.scales = scales.filter { $0.0.upperBound <= last.upperBound }.map { range, scale in
            (range.upperBound == last.upperBound ? range.lowerBound..<bytes.count : range, scale)
        }
        return result
    }
}
