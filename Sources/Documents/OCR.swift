import CPoppler
import CTesseract
import Foundation

/// Tesseract through its C API: one engine per process (loading a language model takes
/// ~100 MB and a few hundred milliseconds), used for one page at a time.
public final class OCREngine {
    private let api: OpaquePointer

    /// The engine of this process, created on first use.
    nonisolated(unsafe) private static var shared: OCREngine?

    public static func forThisProcess(language: String = "eng") throws -> OCREngine {
        if let shared { return shared }
        let engine = try OCREngine(language: language)
        shared = engine
        return engine
    }

    public init(language: String) throws {
        guard let api = TessBaseAPICreate() else { throw DocumentProblem("ocr_unavailable", "tesseract could not start") }
        guard TessBaseAPIInit3(api, nil, language) == 0 else {
            TessBaseAPIDelete(api)
            throw DocumentProblem("ocr_unavailable", "tesseract has no '\(language)' language data installed")
        }
        // Automatic page segmentation: documents mix blocks, tables and columns.
        TessBaseAPISetPageSegMode(api, PSM_AUTO)
        self.api = api
    }

    deinit {
        TessBaseAPIEnd(api)
        TessBaseAPIDelete(api)
    }

    /// OCR of an image file (PNG, JPEG, TIFF first page) read by leptonica. Boxes are in
    /// pixels. Small images are upscaled 2× first, which measurably helps tesseract with
    /// text under ~20 px high; boxes are mapped back to the original pixels.
    public func recognize(imageAt path: String) throws -> PageModel {
        var pix: UnsafeMutablePointer<PIX>? = pixRead(path)
        guard pix != nil else { throw DocumentProblem("corrupt_document", "the image cannot be decoded") }
        defer { pixDestroy(&pix) }
        let width = Int(pixGetWidth(pix)), height = Int(pixGetHeight(pix))
        let scale: Float = max(width, height) < 1600 ? 2 : 1
        var work: UnsafeMutablePointer<PIX>? = scale == 1 ? pixClone(pix) : pixScale(pix, scale, scale)
        guard work != nil else { throw DocumentProblem("corrupt_document", "the image cannot be scaled") }
        defer { pixDestroy(&work) }
        TessBaseAPISetImage2(api, work)
        TessBaseAPISetSourceResolution(api, 300)
        let words = try read(scale: 1 / Double(scale))
        return PageModel(number: 1, width: Double(width), height: Double(height), source: .ocr, words: words,
                         text: PageModel.lines(words))
    }

    /// OCR of raw pixels (e.g. a rendered PDF page); boxes are scaled by `scale`.
    func recognize(pixels: UnsafePointer<UInt8>, width: Int, height: Int, bytesPerLine: Int, ppi: Int, scale: Double) throws -> [Word] {
        TessBaseAPISetImage(api, pixels, Int32(width), Int32(height), 4, Int32(bytesPerLine))
        TessBaseAPISetSourceResolution(api, Int32(ppi))
        return try read(scale: scale)
    }

    private func read(scale: Double) throws -> [Word] {
        guard TessBaseAPIRecognize(api, nil) == 0 else { throw DocumentProblem("ocr_failed", "tesseract could not read the page") }
        guard let iterator = TessBaseAPIGetIterator(api) else { return [] }
        defer { TessResultIteratorDelete(iterator) }
        var words: [Word] = []
        let page = TessResultIteratorGetPageIterator(iterator)
        repeat {
            guard let raw = TessResultIteratorGetUTF8Text(iterator, RIL_WORD) else { continue }
            let text = String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
            TessDeleteText(raw)
            guard !text.isEmpty else { continue }
            var left: Int32 = 0, top: Int32 = 0, right: Int32 = 0, bottom: Int32 = 0
            guard TessPageIteratorBoundingBox(page, RIL_WORD, &left, &top, &right, &bottom) != 0 else { continue }
            let confidence = Double(TessResultIteratorConfidence(iterator, RIL_WORD)) / 100
            words.append(Word(text: text, x0: Double(left) * scale, y0: Double(top) * scale,
                              x1: Double(right) * scale, y1: Double(bottom) * scale, confidence: max(0, min(1, confidence))))
        } while TessResultIteratorNext(iterator, RIL_WORD) != 0
        return words
    }
}

extension PDFDocument {
    /// Renders a page at `dpi` with cairo and OCRs it; boxes come back in PDF points.
    public func ocrPage(_ index: Int, engine: OCREngine, dpi: Int = 300) throws -> PageModel {
        guard let page = poppler_document_get_page(documentHandle, Int32(index)) else {
            throw DocumentProblem("corrupt_document", "page \(index + 1) cannot be read")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        var width = 0.0, height = 0.0
        poppler_page_get_size(page, &width, &height)
        let scale = Double(dpi) / 72
        let pixelWidth = Int((width * scale).rounded()), pixelHeight = Int((height * scale).rounded())
        guard pixelWidth > 0, pixelHeight > 0, pixelWidth * pixelHeight <= 200_000_000 else {
            throw DocumentProblem("image_too_large", "page \(index + 1) is too large to render")
        }
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(pixelWidth), Int32(pixelHeight)) else {
            throw DocumentProblem("ocr_failed", "cannot allocate the page image")
        }
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_paint(cr)
        cairo_scale(cr, scale, scale)
        poppler_page_render(page, cr)
        cairo_destroy(cr)
        cairo_surface_flush(surface)
        guard let data = cairo_image_surface_get_data(surface) else { throw DocumentProblem("ocr_failed", "the page did not render") }
        let words = try engine.recognize(pixels: data, width: pixelWidth, height: pixelHeight,
                                         bytesPerLine: Int(cairo_image_surface_get_stride(surface)), ppi: dpi, scale: 1 / scale)
        return PageModel(number: index + 1, width: width, height: height, source: words.isEmpty ? .none : .ocr,
                         words: words, text: PageModel.lines(words))
    }
}

extension PageModel {
    /// Plain text from word boxes: words grouped into lines by vertical overlap, left to right.
    static func lines(_ words: [Word]) -> String {
        var lines: [[Word]] = []
        for word in words.sorted(by: { ($0.y0 + $0.y1) < ($1.y0 + $1.y1) }) {
            let middle = (word.y0 + word.y1) / 2
            if let last = lines.last?.last, middle >= last.y0, middle <= last.y1 {
                lines[lines.count - 1].append(word)
            } else {
                lines.append([word])
            }
        }
        return lines.map { $0.sorted { $0.x0 < $1.x0 }.map(\.text).joined(separator: " ") }.joined(separator: "\n")
    }
}
