import CPangoCairo

/// The glyphs of printable ASCII (U+0020…U+007E) in the body font, looked up once so short
/// ASCII values — most numbers, dates, codes, names — can skip Pango's itemizing and
/// shaping, which is most of the cost of a table cell. They are still drawn through Pango
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

/// One table column's cell, reused for every row: a value that is short printable ASCII and
/// fits on one line becomes a glyph run from `PDFASCIIFont`; anything else (other scripts,
/// text that wraps) goes through the column's Pango layout.
final class PDFCell: PDFDrawable {
    /// Longer values are rarely one line in a column and not worth the check.
    private static let fastPathBytes = 160

    private let box: PDFTextBox
    private let ascii: PDFASCIIFont?
    private let run: UnsafeMutablePointer<PangoGlyphString>
    /// The text width in Pango units, and whether the text is right-aligned within it.
    private let width: Int32
    private let rightAligned: Bool
    /// Whether the value last set is the glyph run, and the run's width in Pango units.
    private var isRun = false
    private var runWidth: Int32 = 0

    init(context: OpaquePointer, font: OpaquePointer, ascii: PDFASCIIFont?, width: Double, maxLines: Int,
         rightAligned: Bool) {
        box = PDFTextBox(context: context, font: font, width: width, maxLines: maxLines, rightAligned: rightAligned)
        self.ascii = ascii
        run = pango_glyph_string_new()
        self.width = Int32(width * pangoScale)
        self.rightAligned = rightAligned
    }

    deinit { pango_glyph_string_free(run) }

    /// Takes a value (one paragraph) and returns its height in points.
    func setText(_ text: String) -> Double {
        if let ascii, setRun(text, ascii) {
            isRun = true
            return ascii.lineHeight
        }
        isRun = false
        box.setText(text)
        return box.size.height
    }

    /// Draws the value with the top-left of the cell's text area at (x, y).
    func draw(_ cr: OpaquePointer, x: Double, y: Double) {
        guard isRun, let ascii else {
            box.draw(cr, x: x, y: y)
            return
        }
        let offset = rightAligned ? Double(width - runWidth) / pangoScale : 0
        cairo_move_to(cr, x + offset, y + ascii.baseline)
        pango_cairo_show_glyph_string(cr, ascii.font, run)
    }

    /// Fills the glyph run if `text` is printable ASCII that fits on one line.
    private func setRun(_ text: String, _ ascii: PDFASCIIFont) -> Bool {
        text.utf8.withContiguousStorageIfAvailable { bytes in
            guard bytes.count <= Self.fastPathBytes else { return false }
            pango_glyph_string_set_size(run, Int32(bytes.count))
            var total: Int32 = 0
            for (index, byte) in bytes.enumerated() {
                guard byte >= 0x20, byte <= 0x7E else { return false }
                let (glyph, advance) = ascii.glyphs[Int(byte) - 0x20]
                run.pointee.glyphs[index] = PangoGlyphInfo(
                    glyph: glyph, geometry: PangoGlyphGeometry(width: advance, x_offset: 0, y_offset: 0),
                    attr: PangoGlyphVisAttr(is_cluster_start: 1, is_color: 0))
                run.pointee.log_clusters[index] = Int32(index)
                total += advance
            }
            runWidth = total
            return total <= width
        } ?? false
    }
}
