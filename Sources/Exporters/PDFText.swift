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
final class PDFTextBox: PDFDrawable {
    private let layout: OpaquePointer
    private let maxLines: Int

    /// - Parameters:
    ///   - width: the width in points to wrap to; nil for no wrapping (measuring natural widths).
    ///   - maxLines: more lines than this end in "…" so one huge value cannot eat pages.
    init(context: OpaquePointer, font: OpaquePointer, width: Double?, maxLines: Int = 1,
         rightAligned: Bool = false) {
        layout = pango_layout_new(context)
        self.maxLines = maxLines
        pango_layout_set_font_description(layout, font)
        if let width {
            pango_layout_set_width(layout, Int32(width * pangoScale))
            pango_layout_set_wrap(layout, PANGO_WRAP_WORD_CHAR)
            pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
            // A negative height is a line count (per paragraph; callers pass one paragraph).
            pango_layout_set_height(layout, Int32(-maxLines))
        }
        if rightAligned { pango_layout_set_alignment(layout, PANGO_ALIGN_RIGHT) }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(layout)) }

    func setText(_ text: String) {
        pango_layout_set_text(layout, text, -1)
        if pango_layout_is_ellipsized(layout) != 0 { cutAtLastLine(text) }
    }

    /// Pango maps its "…" to all the text it hides, and cairo writes that into the PDF's text
    /// layer, so copying, searching or pdftotext would find a long value's hidden part (and
    /// pdftotext's layout would stretch to fit it). Instead the text is cut where the first
    /// hidden line starts and ends in its own "…"; Pango then hides at most the few
    /// characters the "…" pushes off the last line. Only values that overflow pay for this.
    private func cutAtLastLine(_ text: String) {
        pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_NONE)
        let hidden = pango_layout_get_line_readonly(layout, Int32(maxLines))?.pointee.start_index
        pango_layout_set_ellipsize(layout, PANGO_ELLIPSIZE_END)
        guard let hidden else { return }
        let visible = String(decoding: text.utf8.prefix(Int(hidden)), as: UTF8.self)
        pango_layout_set_text(layout, visible.trimmingSuffixSpaces + "…", -1)
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

extension String {
    /// The string without trailing spaces, so an added "…" follows the last word.
    var trimmingSuffixSpaces: String {
        String(self[..<(lastIndex { $0 != " " }.map(index(after:)) ?? startIndex)])
    }
}
