import CPangoCairo

/// The glyphs of printable ASCII (U+0020…U+007E) in the body font, looked up once so short
/// ASCII values — most numbers, dates, codes, names — can skip Pango's itemizing and
/// shaping, which was most of the cost of a table cell. They are still drawn through Pango
/// (`pango_cairo_show_glyph_string`), so the PDF embeds and maps them like any other text.
/// Kerning is not applied to these runs; in table cells it is not missed.
final class PDFASCIIFont {
    let font: UnsafeMutablePointer<PangoFont>
    /// Glyph and advance (Pango units) for each byte 0x20…0x7E.
    let glyphs: [(glyph: PangoGlyph, advance: Int32)]
    /// The height of one line and the distance from its top to the baseline, in points.
    let lineHeight: Double
    let baseline: Double

    /// Nil if the family's first font lacks a printable ASCII character (then every value
    /// goes through Pango layout, with fallback fonts).
    init?(context: OpaquePointer, font description: OpaquePointer) {
        guard let font = pango_context_load_font(context, description) else { return nil }
        let hbFont = pango_font_get_hb_font(font)
        var glyphs: [(glyph: PangoGlyph, advance: Int32)] = []
        for byte in UInt32(0x20)...0x7E {
            var glyph: hb_codepoint_t = 0
            guard hb_font_get_nominal_glyph(hbFont, byte, &glyph) != 0 else {
                g_object_unref(UnsafeMutableRawPointer(font))
                return nil
            }
            var logical = PangoRectangle()
            pango_font_get_glyph_extents(font, glyph, nil, &logical)
            glyphs.append((glyph, logical.width))
        }
        self.font = font
        self.glyphs = glyphs
        let sample = PDFTextBox(context: context, font: description, width: nil)
        sample.setText("Ag")
        lineHeight = sample.size.height
        baseline = sample.baseline
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(font)) }
}

/// The plain ASCII text of one page, collected from its cells and drawn as one glyph string
/// when the page ends. Cairo's PDF surface pays per drawing operation — it records each one,
/// then analyses and replays it when the page is shown — so one operation per page instead
/// of one per cell roughly halves the cost of a row. The text goes on top of what was drawn
/// meanwhile, which is only cell backgrounds and other cells' text.
final class PDFGlyphBatch {
    let ascii: PDFASCIIFont
    private let run: UnsafeMutablePointer<PangoGlyphString>
    /// Where the first glyph sits (its baseline), and where the pen stands after the last.
    private var origin = (x: 0.0, y: 0.0)
    private var pen = 0.0

    init(ascii: PDFASCIIFont) {
        self.ascii = ascii
        run = pango_glyph_string_new()
    }

    deinit { pango_glyph_string_free(run) }

    /// Adds the glyphs of `bytes` (printable ASCII) with their baseline starting at (x, y).
    func append(_ bytes: UnsafeBufferPointer<UInt8>, x: Double, y: Double) {
        let start = Int(run.pointee.num_glyphs)
        if start == 0 {
            origin = (x, y)
        } else {
            // Glyph positions are cumulative advances, so the previous glyph's advance is
            // stretched (or shrunk) to carry the pen to this text's start.
            run.pointee.glyphs[start - 1].geometry.width += Int32((x - pen) * pangoScale)
        }
        pango_glyph_string_set_size(run, Int32(start + bytes.count))
        let rise = Int32((y - origin.y) * pangoScale)
        var advanced: Int32 = 0
        for (offset, byte) in bytes.enumerated() {
            let (glyph, advance) = ascii.glyphs[Int(byte) - 0x20]
            run.pointee.glyphs[start + offset] = PangoGlyphInfo(
                glyph: glyph, geometry: PangoGlyphGeometry(width: advance, x_offset: 0, y_offset: rise),
                attr: PangoGlyphVisAttr(is_cluster_start: 1, is_color: 0))
            run.pointee.log_clusters[start + offset] = Int32(start + offset)
            advanced += advance
        }
        pen = x + Double(advanced) / pangoScale
    }

    /// Draws what was collected (in black) and starts empty.
    func flush(_ cr: OpaquePointer) {
        guard run.pointee.num_glyphs > 0 else { return }
        cairo_set_source_rgb(cr, 0, 0, 0)
        cairo_move_to(cr, origin.x, origin.y)
        pango_cairo_show_glyph_string(cr, ascii.font, run)
        pango_glyph_string_set_size(run, 0)
    }
}

/// One table column's cell, reused for every row: a value that is short printable ASCII and
/// fits on one line goes to the page's `PDFGlyphBatch`; anything else (other scripts, text
/// that wraps) is drawn through the column's Pango layout.
final class PDFCell: PDFDrawable {
    /// Longer values are rarely one line in a column and not worth the check.
    private static let fastPathBytes = 160

    private let box: PDFTextBox
    private let batch: PDFGlyphBatch?
    /// The text width in points, and whether the text is right-aligned within it.
    private let width: Double
    private let rightAligned: Bool
    /// The value last set if it is plain ASCII on one line, with its width in points.
    private var plain: String?
    private var plainWidth = 0.0
    /// Whether the value last set was cut to fit (it ends in "…").
    var shortened: Bool { plain == nil && box.shortened }

    init(context: OpaquePointer, font: OpaquePointer, batch: PDFGlyphBatch?, width: Double, maxLines: Int,
         rightAligned: Bool) {
        box = PDFTextBox(context: context, font: font, width: width, maxLines: maxLines, rightAligned: rightAligned)
        self.batch = batch
        self.width = width
        self.rightAligned = rightAligned
    }

    /// Takes a value (one paragraph) and returns its height in points.
    func setText(_ text: String) -> Double {
        if let batch, let advance = Self.plainWidth(text, batch.ascii), advance <= width {
            plain = text
            plainWidth = advance
            return batch.ascii.lineHeight
        }
        plain = nil
        box.setText(text)
        return box.size.height
    }

    /// Draws the value with the top-left of the cell's text area at (x, y).
    func draw(_ cr: OpaquePointer, x: Double, y: Double) {
        guard let batch, let plain else {
            box.draw(cr, x: x, y: y)
            return
        }
        let left = rightAligned ? x + width - plainWidth : x
        plain.utf8.withContiguousStorageIfAvailable { batch.append($0, x: left, y: y + batch.ascii.baseline) }
    }

    /// The width in points of `text` if it is short printable ASCII, else nil.
    private static func plainWidth(_ text: String, _ ascii: PDFASCIIFont) -> Double? {
        text.utf8.withContiguousStorageIfAvailable { bytes -> Double? in
            guard bytes.count <= fastPathBytes else { return nil }
            var total: Int32 = 0
            for byte in bytes {
                guard byte >= 0x20, byte <= 0x7E else { return nil }
                total += ascii.glyphs[Int(byte) - 0x20].advance
            }
            return Double(total) / pangoScale
        } ?? nil
    }
}
