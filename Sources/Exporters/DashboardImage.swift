#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CPangoCairo

/// A dashboard as one PNG: the PDF's first pages without the page breaks — title, header and
/// every band of the grid — on one tall canvas as wide as a landscape A4 page, scaled to the
/// width asked for.
///
/// Its height is known only once everything is laid out, so it is drawn onto a cairo
/// recording surface first (which keeps the drawing operations, not pixels) and then played
/// onto an image surface of the right size: text and charts are rasterised once, at the
/// final resolution.
enum DashboardImage {
    /// The canvas is the width of the PDF's landscape A4 chart pages, in points.
    static let canvasWidth = PDFPage(.a4, landscape: true).width
    /// cairo's limit on an image surface's side.
    static let maxSide = 32_767
    /// At most this many pixels (about 96 MB at four bytes each): a very tall dashboard is
    /// drawn at a lower resolution rather than exhaust a worker's memory.
    static let maxPixels = 24_000_000

    static func write(_ export: DashboardExport, width pixels: Int, to path: String) throws {
        guard let recording = cairo_recording_surface_create(CAIRO_CONTENT_COLOR_ALPHA, nil) else {
            throw ExportError("png: could not create a drawing surface")
        }
        defer { cairo_surface_destroy(recording) }
        let height = try draw(export, on: recording)
        let scale = self.scale(width: pixels, height: height)
        let size = (width: Int((canvasWidth * scale).rounded()), height: Int((height * scale).rounded(.up)))
        guard let image = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(size.width), Int32(size.height)),
              cairo_surface_status(image) == CAIRO_STATUS_SUCCESS else {
            throw ExportError("png: could not create a \(size.width) × \(size.height) image")
        }
        defer { cairo_surface_destroy(image) }
        let cr = cairo_create(image)
        defer { cairo_destroy(cr) }
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_scale(cr, scale, scale)
        cairo_set_source_surface(cr, recording, 0, 0)
        cairo_paint(cr)
        cairo_surface_flush(image)
        try writePNG(image, to: path)
    }

    /// Draws the title, header and bands at canvas scale; returns the height used, in points.
    private static func draw(_ export: DashboardExport, on surface: OpaquePointer) throws -> Double {
        guard let cr = cairo_create(surface) else { throw ExportError("png: could not draw") }
        defer { cairo_destroy(cr) }
        let canvas = ReportCanvas(cr: cr, fontSize: PDFOptions().fontSize, left: PDFPage.margin)
        let width = canvasWidth - 2 * PDFPage.margin
        var y = PDFPage.margin
        for item in canvas.items(for: .title(export.record.title), width: width) + canvas.items(for: .keyValues(export.metadata), width: width) {
            item.draw(y)
            y += item.height
        }
        // No pages to fit: a band is only kept from growing past four widths.
        let layout = DashboardLayout(export.widgets.map(\.place), width: width, maxHeight: 4 * width)
        for band in layout.bands {
            for cell in band.cells {
                try canvas.draw(export.figure(cell.widget, box: cell.box), x: PDFPage.margin + cell.box.x, y: y + cell.box.y,
                                width: cell.box.width, height: cell.box.height)
            }
            y += band.height
        }
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw ExportError("png: drawing failed: \(String(cString: cairo_status_to_string(status)))")
        }
        return y + PDFPage.margin
    }

    /// Pixels per point: the width asked for, unless the image would pass cairo's limit or
    /// `maxPixels`.
    static func scale(width pixels: Int, height: Double) -> Double {
        var scale = Double(pixels) / canvasWidth
        scale = min(scale, Double(maxSide) / height)
        scale = min(scale, (Double(maxPixels) / (canvasWidth * height)).squareRoot())
        return scale
    }

    /// Writes through our own file, as `PDFReport` does, so a failed write is an error rather
    /// than a short file.
    private static func writePNG(_ image: OpaquePointer, to path: String) throws {
        guard let file = fopen(path, "wb") else {
            throw ExportError("cannot create the PNG at \(path): \(String(cString: strerror(errno)))")
        }
        let status = cairo_surface_write_to_png_stream(image, writeToFile, file)
        let closed = fclose(file) == 0
        guard status == CAIRO_STATUS_SUCCESS, closed else {
            throw ExportError("writing the PNG failed: \(String(cString: cairo_status_to_string(status)))")
        }
    }
}
