import CRsvg

/// An SVG document parsed by librsvg, drawn into any cairo context: on a PDF surface it stays
/// vector paths and text (searchable, sharp at any zoom), on an image surface it is rasterised.
///
/// The handle is owned here and released in `deinit`; the cairo context is borrowed for one
/// call and passed as the `OpaquePointer` Swift imports `cairo_t *` as, so no librsvg or glib
/// type leaves this file.
final class SVGImage {
    private let handle: UnsafeMutablePointer<RsvgHandle>

    /// Parses `svg`; throws `ExportError` with librsvg's message when it is not a usable SVG.
    init(_ svg: String) throws {
        var error: UnsafeMutablePointer<GError>?
        let bytes = Array(svg.utf8)
        let handle = bytes.withUnsafeBufferPointer { rsvg_handle_new_from_data($0.baseAddress, gsize($0.count), &error) }
        guard let handle else { throw SVGImage.failure("parsing a chart's SVG", error) }
        self.handle = handle
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(handle)) }

    /// Draws the document scaled to fit the box whose top-left corner is (x, y), keeping its
    /// aspect ratio (centred if the box's differs), as the SVG's `viewBox` asks.
    func draw(_ cr: OpaquePointer, x: Double, y: Double, width: Double, height: Double) throws {
        var viewport = RsvgRectangle(x: x, y: y, width: width, height: height)
        var error: UnsafeMutablePointer<GError>?
        guard rsvg_handle_render_document(handle, cr, &viewport, &error) != 0 else {
            throw SVGImage.failure("drawing a chart", error)
        }
    }

    private static func failure(_ action: String, _ error: UnsafeMutablePointer<GError>?) -> ExportError {
        defer { if let error { g_error_free(error) } }
        let message = error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown error"
        return ExportError("svg: \(action): \(message)")
    }
}
