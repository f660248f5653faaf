import CPoppler
import Foundation

/// One word with its box in PDF points (origin top-left) and a confidence in 0…1.
public struct Word: Sendable, Equatable {
    public let text: String
    public let x0: Double, y0: Double, x1: Double, y1: Double
    public let confidence: Double

    public init(text: String, x0: Double, y0: Double, x1: Double, y1: Double, confidence: Double) {
        self.text = text
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
        self.confidence = confidence
    }
}

extension Sequence where Element == Word {
    /// The median height of the words' boxes, nil without any.
    var medianHeight: Double? {
        let heights = map { $0.y1 - $0.y0 }.sorted()
        return heights.isEmpty ? nil : heights[heights.count / 2]
    }
}

/// The page model shared by text PDFs and OCR: size, words, where they came from.
public struct PageModel: Sendable {
    public enum Source: String, Sendable { case text, ocr, none }
    public let number: Int
    public let width: Double
    public let height: Double
    public let source: Source
    public let words: [Word]
    public let text: String
    /// What table detection reads besides the words: the rules drawn on the page and
    /// words split wherever their characters jump (see `PDFDocument.layout`); nil for
    /// scans and images.
    public var layout: PageLayout?

    public init(number: Int, width: Double, height: Double, source: Source, words: [Word], text: String) {
        self.number = number
        self.width = width
        self.height = height
        self.source = source
        self.words = words
        self.text = text
    }

    public var meanConfidence: Double? {
        words.isEmpty ? nil : words.map(\.confidence).reduce(0, +) / Double(words.count)
    }
}

/// A PDF opened with poppler-glib; the GObject is released when the value goes away.
public final class PDFDocument {
    private let document: OpaquePointer
    private let path: String
    var documentHandle: OpaquePointer { document }

    public init(path: String) throws {
        let uri = URL(fileURLWithPath: path).absoluteString
        var error: UnsafeMutablePointer<GError>?
        guard let document = poppler_document_new_from_file(uri, nil, &error) else {
            let code = error?.pointee.code ?? -1
            let message = error.map { String(cString: $0.pointee.message) } ?? "unknown error"
            if let error { g_error_free(error) }
            if code == Int32(POPPLER_ERROR_ENCRYPTED.rawValue) {
                throw DocumentProblem("encrypted_document", "the PDF is password-protected; upload an unprotected copy")
            }
            throw DocumentProblem("corrupt_document", "the PDF cannot be read: \(message)")
        }
        self.document = document
        self.path = path
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(document)) }

    public var pageCount: Int { Int(poppler_document_get_n_pages(document)) }

    /// The drawn paths of the pages, read once per document on first use; nil when the
    /// file is beyond `PDFPaths` (pages are rendered then).
    private lazy var paths: PDFPaths? = {
        guard let paths = PDFPaths(path: path), paths.pageCount == pageCount else { return nil }
        return paths
    }()

    /// The rules drawn on a page, from its content stream; nil when that cannot be read.
    func drawnRulings(pageIndex index: Int) -> [RulingLine]? {
        return paths?.rulings(pageIndex: index)
    }

    /// The page's text layer as words with boxes; `source` is `.none` when the page has
    /// no usable text (a scan), so the caller can OCR it.
    public func page(_ index: Int) throws -> PageModel {
        try read(index, layout: false)
    }

    /// The page model with, for a text page, the layout table detection reads
    /// (`layout(pageIndex:)`), from one pass over poppler's text layer.
    public func pageWithLayout(_ index: Int) throws -> PageModel {
        try read(index, layout: true)
    }

    private func read(_ index: Int, layout: Bool) throws -> PageModel {
        guard let page = poppler_document_get_page(document, Int32(index)) else {
            throw DocumentProblem("corrupt_document", "page \(index + 1) cannot be read")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        var width = 0.0, height = 0.0
        poppler_page_get_size(page, &width, &height)
        guard let layer = PDFDocument.textLayer(page) else {
            return PageModel(number: index + 1, width: width, height: height, source: .none, words: [], text: "")
        }
        let words = layer.words
        let usable = words.count >= 3 || layer.text.trimmingCharacters(in: .whitespacesAndNewlines).count >= 10
        var model = PageModel(number: index + 1, width: width, height: height, source: usable ? .text : .none,
                              words: usable ? words : [], text: usable ? layer.text : "")
        if usable, layout { model.layout = self.layout(page, index: index, layer: layer, scale: 1.5) }
        return model
    }

    /// poppler's page text and its words, both as the text layer has them (`words`) and
    /// split where characters jump (`layoutWords`, see `layout(pageIndex:)`).
    struct TextLayer {
        let text: String
        let words: [Word]
        let layoutWords: [Word]
    }

    static func textLayer(_ page: OpaquePointer) -> TextLayer? {
        guard let raw = poppler_page_get_text(page) else { return nil }
        defer { g_free(raw) }
        let text = String(cString: raw)
        var rects: UnsafeMutablePointer<PopplerRectangle>?
        var count: UInt32 = 0
        poppler_page_get_text_layout(page, &rects, &count)
        defer { if let rects { g_free(rects) } }
        let boxes = rects.map { UnsafeBufferPointer(start: $0, count: Int(count)) } ?? UnsafeBufferPointer(start: nil, count: 0)
        let (words, layoutWords) = PDFDocument.words(text: text, boxes: boxes)
        return TextLayer(text: text, words: words, layoutWords: layoutWords)
    }

    /// Groups characters into words. poppler gives one rectangle per character (Unicode
    /// scalar) of the page text, line breaks included, in the same order. `words` end at
    /// white space only; `layoutWords` also where the next character jumps back, down or
    /// right of the word so far by more than a word space (reading order running table cells together).
    static func words(text: String, boxes: UnsafeBufferPointer<PopplerRectangle>) -> (words: [Word], layoutWords: [Word]) {
        struct Builder {
            var words: [Word] = []
            var current = String.UnicodeScalarView()
            var box = (x0: 0.0, y0: 0.0, x1: 0.0, y1: 0.0)

            mutating func flush() {
                guard !current.isEmpty else { return }
                words.append(Word(text: String(current), x0: box.x0, y0: box.y0, x1: box.x1, y1: box.y1, confidence: 1))
                current = String.UnicodeScalarView()
            }

            mutating func add(_ scalar: Unicode.Scalar, _ r: PopplerRectangle) {
                if current.isEmpty {
                    box = (r.x1, r.y1, r.x2, r.y2)
                } else {
                    box = (min(box.x0, r.x1), min(box.y0, r.y1), max(box.x1, r.x2), max(box.y1, r.y2))
                }
                current.append(scalar)
            }
        }
        var plain = Builder(), split = Builder()
        for (index, scalar) in text.unicodeScalars.enumerated() {
            guard index < boxes.count else { break }
            if scalar.properties.isWhitespace {
                plain.flush()
                split.flush()
                continue
            }
            let r = boxes[index]
            if !split.current.isEmpty {
                let box = split.box
                let height = max(1, box.y1 - box.y0)
                let middle = (r.y1 + r.y2) / 2
                // A gap of half the line height is wider than letters of one word stand apart
                // (a word space is about a quarter): two cells set close, read without a space.
                if r.x1 < box.x1 - height * 0.5 || r.x1 > box.x1 + height * 0.5 || middle < box.y0 || middle > box.y1 {
                    split.flush()
                }
            }
            plain.add(scalar, r)
            split.add(scalar, r)
        }
        plain.flush()
        split.flush()
        return (plain.words, split.words)
    }
}

extension PDFDocument {
    /// Renders `page` at `scale` (pixels per PDF point) onto a white cairo RGB24 surface of
    /// `width` × `height` pixels and hands `body` its pixels (a 32-bit word per pixel,
    /// 0x00RRGGBB) and bytes per row; the surface is freed when `body` returns. nil when cairo
    /// cannot allocate the surface or give its pixels. OCR and the ruling detector read it.
    /// With an `origin` (PDF points) the surface shows the part of the page from there on:
    /// a region read again.
    static func withRenderedPage<T>(_ page: OpaquePointer, scale: Double, width: Int, height: Int,
                                    origin: (x: Double, y: Double) = (0, 0),
                                    _ body: (UnsafeMutablePointer<UInt8>, Int) throws -> T) rethrows -> T? {
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)) else { return nil }
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_scale(cr, scale, scale)
        cairo_translate(cr, -origin.x, -origin.y)
        poppler_page_render(page, cr)
        cairo_destroy(cr)
        cairo_surface_flush(surface)
        guard let data = cairo_image_surface_get_data(surface) else { return nil }
        return try body(data, Int(cairo_image_surface_get_stride(surface)))
    }
}
