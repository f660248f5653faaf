import CPangoCairo

/// What a report draws besides tables — titles, headings, key-value blocks, the legend of
/// shaded cells, framed figures (a chart's SVG, a message) — measured and drawn with Pango
/// (72 dpi, so a point is a unit) on one cairo context. The PDF report's pages and the
/// dashboard image (a single tall canvas) draw through the same canvas, so they look alike.
///
/// A block becomes `Item`s: pieces of known height that draw themselves at a y, so the PDF
/// report can keep them together or break the page between them.
final class ReportCanvas {
    enum Block {
        case title(String)
        /// A smaller heading, e.g. above each widget's data.
        case heading(String)
        case keyValues([(label: String, value: String)])
        /// What the shading of low-confidence cells means, above a table that has some.
        case legend
    }

    /// Something drawn as one piece: a title, or one label/value pair.
    struct Item {
        let height: Double
        let draw: (_ y: Double) -> Void
    }

    /// What fills a figure's box.
    enum Figure {
        /// An SVG document, scaled into the box (vector on a PDF surface).
        case svg(String)
        /// A title and a line of text in place of a chart that could not be drawn.
        case message(title: String, text: String)
    }

    /// Space after a block, in points.
    static let sectionGap = 12.0
    /// The frame drawn around each figure.
    static let frame = (red: 0.8, green: 0.82, blue: 0.85)

    let cr: OpaquePointer
    let context: OpaquePointer
    let fonts: PDFFonts
    let fontSize: Double
    /// Where blocks start from the left edge, in points.
    let left: Double

    /// Pango's default 96 dpi would make an 8-point font 10.7 points tall: the context is 72 dpi.
    init(cr: OpaquePointer, fontSize: Double, left: Double) {
        self.cr = cr
        self.fontSize = fontSize
        self.left = left
        context = pango_cairo_create_context(cr)
        pango_cairo_context_set_resolution(context, 72)
        fonts = PDFFonts(bodySize: fontSize)
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(context)) }

    // MARK: - Blocks

    func items(for block: Block, width: Double) -> [Item] {
        switch block {
        case .title(let text):
            return [headingItem(text, font: fonts.heading, width: width)]
        case .heading(let text):
            return [headingItem(text, font: fonts.subheading, width: width)]
        case .keyValues(let pairs):
            return keyValueItems(pairs, width: width)
        case .legend:
            return [legendItem(width: width)]
        }
    }

    private func headingItem(_ text: String, font: OpaquePointer, width: Double) -> Item {
        let box = PDFTextBox(context: context, font: font, width: width, maxLines: 3)
        box.setText(text)
        return item(height: box.size.height + fontSize, boxes: [(box, 0)])
    }

    /// A swatch of the low-confidence shading and what it means.
    private func legendItem(width: Double) -> Item {
        let swatch = fontSize
        let box = PDFTextBox(context: context, font: fonts.small, width: width - 2 * swatch, maxLines: 2)
        let percent = Int(PDFTableLayout.lowConfidence * 100)
        box.setText("Shaded cells: extraction confidence below \(percent)%; check them against the source.")
        let text = item(height: box.size.height + fontSize * 0.5, boxes: [(box, 2 * swatch)])
        return Item(height: text.height) { [cr, left] y in
            PDFTableLayout.fill(cr, x: left, y: y + 1, width: swatch, height: swatch * 0.9, color: PDFTableLayout.doubtful)
            text.draw(y)
        }
    }

    /// One item per pair: labels in a column as wide as the widest (at most a third of the
    /// width), values wrapped beside them.
    private func keyValueItems(_ pairs: [(label: String, value: String)], width: Double) -> [Item] {
        let measure = PDFTextBox(context: context, font: fonts.bold, width: nil)
        let labelWidth = pairs.reduce(0.0) { widest, pair in
            measure.setText(pair.label)
            return max(widest, min(measure.size.width, width / 3))
        }
        let gap = fontSize
        let items = pairs.map { pair in
            let label = PDFTextBox(context: context, font: fonts.bold, width: labelWidth, maxLines: 2)
            let value = PDFTextBox(context: context, font: fonts.body, width: width - labelWidth - gap, maxLines: 3)
            label.setText(pair.label)
            value.setText(PDFTableLayout.cellText(pair.value))
            let height = max(label.size.height, value.size.height) + fontSize * 0.3
            return item(height: height, boxes: [(label, 0), (value, labelWidth + gap)])
        }
        return items + [Item(height: Self.sectionGap, draw: { _ in })]
    }

    /// An item drawing `boxes` at their offsets from the left edge.
    private func item(height: Double, boxes: [(box: PDFTextBox, x: Double)]) -> Item {
        Item(height: height) { [cr, left] y in
            cairo_set_source_rgb(cr, 0, 0, 0)
            for (box, x) in boxes { box.draw(cr, x: left + x, y: y) }
        }
    }

    // MARK: - Figures

    /// Draws `figure` into the box and a thin frame around it. The cairo state is saved around
    /// librsvg, which sets its own transformation and clip.
    func draw(_ figure: Figure, x: Double, y: Double, width: Double, height: Double) throws {
        switch figure {
        case .svg(let document):
            let image = try SVGImage(document)
            cairo_save(cr)
            defer { cairo_restore(cr) }
            try image.draw(cr, x: x, y: y, width: width, height: height)
        case .message(let title, let text):
            let padding = fontSize
            let heading = PDFTextBox(context: context, font: fonts.bold, width: width - 2 * padding, maxLines: 2)
            let body = PDFTextBox(context: context, font: fonts.body, width: width - 2 * padding, maxLines: 4)
            heading.setText(title)
            body.setText(PDFTableLayout.cellText(text))
            cairo_set_source_rgb(cr, 0, 0, 0)
            heading.draw(cr, x: x + padding, y: y + padding)
            cairo_set_source_rgb(cr, 0.35, 0.35, 0.35)
            body.draw(cr, x: x + padding, y: y + padding + heading.size.height + padding / 2)
        }
        cairo_set_source_rgb(cr, Self.frame.red, Self.frame.green, Self.frame.blue)
        cairo_set_line_width(cr, 0.75)
        cairo_rectangle(cr, x, y, width, height)
        cairo_stroke(cr)
    }
}
