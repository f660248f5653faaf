import CPoppler
import CTesseract
import Foundation

/// Reads a small region of a page again, more carefully than the whole page was read: the
/// field extractor asks for it where a value disagrees with the rest of the document (a
/// total that is not net + tax). Only OCR'd pages can be read again.
public protocol PageRereader {
    /// The text in `box` (page-model units) of page `page`, read as one line at two to three
    /// times the size; with `digitsOnly`, only digits and the signs of an amount are
    /// allowed. nil when the page was not OCR'd or cannot be read again.
    func reread(page: Int, box: Box, digitsOnly: Bool) -> String?
}

/// Reads regions of a document's OCR'd pages again from its file. The page is decoded and
/// prepared as it was for its first reading (`PagePreparation` is deterministic, so boxes
/// map back to the same pixels) only when the first region of it is asked for, and kept
/// for further regions of the same page.
public final class ScannedPageRereader: PageRereader {
    let path: String
    let type: FileType
    /// The OCR'd pages' sizes in page-model units.
    let sizes: [Int: (width: Double, height: Double)]
    /// The last page prepared: its image, and the image's pixels per page-model unit.
    private var prepared: (number: Int, image: Image, scale: Double)?
    /// A PDF, opened on the first region asked for.
    private var pdf: PDFDocument?

    /// nil when no page of `pages` was OCR'd: nothing could be read again.
    public init?(path: String, type: FileType, pages: [PageModel]) {
        let scanned = pages.filter { $0.source == .ocr }
        guard !scanned.isEmpty, type.isImage || type == .pdf else { return nil }
        self.path = path
        self.type = type
        sizes = Dictionary(scanned.map { ($0.number, (width: $0.width, height: $0.height)) }, uniquingKeysWith: { a, _ in a })
    }

    public func reread(page number: Int, box: Box, digitsOnly: Bool) -> String? {
        guard let size = sizes[number], box.x1 > box.x0, box.y1 > box.y0,
              let engine = try? OCREngine.forThisProcess() else { return nil }
        if type == .pdf {
            if pdf == nil { pdf = try? PDFDocument(path: path) }
            guard let pdf,
                  let region = pdf.renderedRegion(number - 1, box: box.paddedForRereading
                    .clipped(width: size.width, height: size.height)) else { return nil }
            return engine.readLine(region, region: Box(x0: 0, y0: 0, x1: Double(region.width), y1: Double(region.height)),
                                   factor: 1, digitsOnly: digitsOnly)
        }
        guard let (image, scale) = preparedPage(number, size: size) else { return nil }
        let pixels = Box(x0: box.x0 * scale, y0: box.y0 * scale, x1: box.x1 * scale, y1: box.y1 * scale)
        // Two to three times the size, the line's height brought towards ~60 px.
        let factor = min(3, max(2, 60 / max(1, pixels.y1 - pixels.y0)))
        return engine.readLine(image, region: pixels.paddedForRereading
            .clipped(width: Double(image.width), height: Double(image.height)), factor: factor, digitsOnly: digitsOnly)
    }

    /// Page `number` of an image file as it was OCR'd; nil for a page that was read turned
    /// (its boxes are in the turned page's pixels, and which way it was turned is not kept).
    private func preparedPage(_ number: Int, size: (width: Double, height: Double)) -> (Image, Double)? {
        if let prepared, prepared.number == number { return (prepared.image, prepared.scale) }
        guard let pages = try? ImagePages(path: path, type: type) else { return nil }
        var found: (Image, Double)?
        try? pages.forEach { decoded, index in
            guard index == number, Double(decoded.width) == size.width, Double(decoded.height) == size.height,
                  let ready = try? PagePreparation.prepare(decoded.image, scale: decoded.scale) else { return }
            found = (ready.image, ready.scale)
        }
        if let (image, scale) = found { prepared = (number, image, scale) }
        return found
    }
}

extension Box {
    /// The box with room around its characters for reading it on its own: tesseract wants
    /// a margin, and a box split from its word by character widths may clip a digit.
    var paddedForRereading: Box {
        let height = y1 - y0
        return Box(x0: x0 - height * 0.6, y0: y0 - height * 0.3, x1: x1 + height * 0.6, y1: y1 + height * 0.3)
    }
}

extension OCREngine {
    /// One line of `image` read on its own: the region cut out in grey, scaled by `factor`,
    /// given a white margin, and read with single-line segmentation (digits and amount signs
    /// only with `digitsOnly`). The engine's page settings are restored afterwards.
    func readLine(_ image: Image, region: Box, factor: Double, digitsOnly: Bool) -> String? {
        guard region.x1 - region.x0 >= 2, region.y1 - region.y0 >= 2,
              let clip = boxCreate(Int32(region.x0), Int32(region.y0), Int32(region.x1 - region.x0), Int32(region.y1 - region.y0))
        else { return nil }
        var clipBox: UnsafeMutablePointer<BOX>? = clip
        defer { boxDestroy(&clipBox) }
        guard let cutPix = pixClipRectangle(image.pix, clip, nil) else { return nil }
        let cut = Image(owning: cutPix)
        guard let greyPix = pixConvertTo8(cut.pix, 0) else { return nil }
        let line = Image(owning: greyPix)
        if factor != 1, !line.apply({ pixScale($0, Float(factor), Float(factor)) }) { return nil }
        guard line.apply({ pixAddBorder($0, 24, 255) }) else { return nil }

        TessBaseAPISetPageSegMode(api, PSM_SINGLE_LINE)
        if digitsOnly { TessBaseAPISetVariable(api, "tessedit_char_whitelist", "0123456789.,-") }
        defer {
            TessBaseAPIClear(api)
            if digitsOnly { TessBaseAPISetVariable(api, "tessedit_char_whitelist", "") }
            TessBaseAPISetPageSegMode(api, PSM_AUTO)
        }
        TessBaseAPISetImage2(api, line.pix)
        // A cut-out line is too small for tesseract to estimate a resolution from (it says so on stderr).
        if pixGetXRes(line.pix) <= 0 { TessBaseAPISetSourceResolution(api, 300) }
        guard TessBaseAPIRecognize(api, nil) == 0 else { return nil }
        let words = readLines().flatMap(\.words)
        return words.isEmpty ? nil : words.map(\.text).joined(separator: " ")
    }
}

extension PDFDocument {
    /// `box` (PDF points) of page `index` rendered in grey at 600 dpi, twice the resolution
    /// a scanned page is OCR'd at.
    func renderedRegion(_ index: Int, box: Box, dpi: Double = 600) -> Image? {
        guard let page = poppler_document_get_page(documentHandle, Int32(index)) else { return nil }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        let scale = dpi / 72
        let width = Int(((box.x1 - box.x0) * scale).rounded()), height = Int(((box.y1 - box.y0) * scale).rounded())
        guard width > 0, height > 0, width * height <= ImagePages.ocrPixelLimit else { return nil }
        let image = PDFDocument.withRenderedPage(page, scale: scale, width: width, height: height,
                                                 origin: (box.x0, box.y0)) { data, stride in
            Image(greyFromCairoRGB24: data, width: width, height: height, stride: stride)
        }
        return image ?? nil
    }
}
