import CPoppler
import CTesseract
import Foundation

/// Tesseract through its C API: one engine per process (loading a language model takes
/// ~100 MB and a few hundred milliseconds), used for one page at a time.
public final class OCREngine {
    let api: OpaquePointer

    /// The engine of this process, created on first use.
    nonisolated(unsafe) private static var shared: OCREngine?

    public static func forThisProcess(language: String = "eng") throws -> OCREngine {
        if let shared { return shared }
        let engine = try OCREngine(language: language)
        shared = engine
        return engine
    }

    /// Ends this process's engine before the process exits. Tesseract keeps its language
    /// dictionaries in a process-wide cache that, at exit, reports every dictionary an engine
    /// still holds as a leak on stderr ("WARNING! LEAK!"): ending the engine first frees them.
    public static func endForThisProcess() {
        shared = nil
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
        if let osd = orientationAPI {
            TessBaseAPIEnd(osd)
            TessBaseAPIDelete(osd)
        }
    }

    /// OCR of one decoded image page, after `PagePreparation` (dark frame removal, deskew,
    /// upscaling of small images, where each measurably helps). A page that reads badly
    /// (few words, low confidence, sideways boxes) is checked for orientation and read again
    /// turned upright when that reads better: upright pages pay nothing for the check. The
    /// page model describes the upright, straightened page in the file's pixels (`page` may
    /// have been reduced by `ImagePages`).
    func recognize(_ page: DecodedPage, number: Int) throws -> PageModel {
        // What tesseract keeps of the page (its copies, the thresholded image, the results)
        // is freed as soon as the page model is made, not when the next page comes.
        defer { TessBaseAPIClear(api) }
        var prepared = try PagePreparation.prepare(page.image, scale: page.scale)
        var result = try read(prepared.image, scale: 1 / prepared.scale)
        if let rescaled = try readAtTextSize(prepared, first: result) { (prepared, result) = rescaled }
        var sideways = false
        if result.looksMisread, let turns = quarterTurnsToUpright(prepared.image), turns != 0,
           let turned = prepared.turned(clockwiseQuarters: turns) {
            let second = try read(turned.image, scale: 1 / turned.scale)
            // Sideways text may read as well as upright text; upright boxes are what count then.
            let upright = result.looksSideways && !second.looksSideways && second.score >= 0.8 * result.score
            if upright || second.score > result.score {
                (prepared, result) = (turned, second)
                sideways = turns % 2 == 1
            }
        }
        if let faint = try readFaintPrint(prepared, first: result) { result = faint }
        if result.words.isEmpty, let again = try readAgain(prepared.image, scale: 1 / prepared.scale) { result = again }
        let (width, height) = sideways ? (page.height, page.width) : (page.width, page.height)
        return PageModel(number: number, width: Double(width), height: Double(height), source: .ocr,
                         words: result.words, text: result.text)
    }

    /// Median word heights (in the read image's pixels) below this, or above `largeText`, are
    /// read again at `textTarget`: tesseract's LSTM misreads small print and large letters.
    static let smallText = 20.0, largeText = 80.0, textTarget = 30.0

    /// The page read again at the size tesseract reads best, when the first reading's words
    /// (their median box height: capitals, ascenders and descenders) are far from it; nil when
    /// they are not, or the second reading is not the better one.
    ///
    /// Measured on the 200 SROIE receipts (`scripts/bench-ocr`): read again at ~30 px, the
    /// pages whose words were 8–15 px went from CER 0.13 to 0.10, those of 16–19 px from 0.186
    /// to 0.168 (the corpus 0.209 → 0.204), for a quarter of the pages read twice. Measuring
    /// before reading was worse: the most common height of the page's connected components
    /// (scaled to 22–36 px: CER 0.244, broken thermal print misjudged as tiny text) and the
    /// median height of tesseract's layout-analysis lines (scaled to 36 px: CER 0.215).
    func readAtTextSize(_ prepared: PagePreparation.Prepared, first: Recognition) throws
        -> (PagePreparation.Prepared, Recognition)? {
        let heights = first.words.filter { $0.text.count >= 2 }.map { ($0.y1 - $0.y0) * prepared.scale }.sorted()
        guard heights.count >= 5 else { return nil }
        let median = heights[heights.count / 2]
        guard median < Self.smallText || median > Self.largeText else { return nil }
        let pixels = Double(prepared.image.width * prepared.image.height)
        let factor = min(min(max(Self.textTarget / median, 0.3), 3), (Double(ImagePages.ocrPixelLimit) / pixels).squareRoot())
        guard abs(factor - 1) > 0.2, let rescaled = prepared.scaled(by: factor) else { return nil }
        TessBaseAPIClear(api)
        let second = try read(rescaled.image, scale: 1 / rescaled.scale)
        // Taken when it reads at least as much, not clearly less sure of it (a chart's
        // scattered labels read larger gave more, worse words: scribe chart CER 0.59 → 0.62).
        guard second.score >= first.score, second.meanConfidence >= first.meanConfidence - 0.08 else { return nil }
        return (rescaled, second)
    }

    /// Pages that gave fewer words than this are read again as faint print (`readFaintPrint`).
    static let fewWords = 50

    /// A page that gave few words (a receipt or an invoice gives hundreds) read again with its
    /// contrast stretched and its strokes thickened (`PagePreparation.strengthenedFaintPrint`),
    /// kept when it reads clearly more (30 % more confident characters, and more words): faded
    /// thermal receipts and faint dot-matrix print, which a global threshold turns into specks.
    /// A sparse page (a cover, a chart) reads about as much again, and keeps its first reading.
    ///
    /// Measured on the 200 SROIE receipts: 6 pages read under 50 words, 5 read better this way
    /// (a faded receipt that gave no word at all gave 137; CER 0.204 → 0.190, fields 0.670 →
    /// 0.676), and no other page changed; the scribe pages and i2d fields did not change.
    func readFaintPrint(_ prepared: PagePreparation.Prepared, first: Recognition) throws -> Recognition? {
        guard first.words.count < Self.fewWords,
              let faint = PagePreparation.strengthenedFaintPrint(prepared.image) else { return nil }
        TessBaseAPIClear(api)
        let second = try read(faint, scale: 1 / prepared.scale)
        return second.score > 1.3 * first.score && second.words.count > first.words.count ? second : nil
    }

    /// A page that gave no words is read again other ways before it counts as empty (the
    /// document then says so: `no_text_found`): with tesseract's sparse-text segmentation
    /// (scattered words its layout analysis dropped), as black and white by Otsu's threshold
    /// (faint or uneven scans), inverted (light print on a dark ground), and at twice the size
    /// (small print). The first reading with words wins; nil when none has any.
    func readAgain(_ image: Image, scale: Double) throws -> Recognition? {
        let sparse: Recognition = try {
            TessBaseAPISetPageSegMode(api, PSM_SPARSE_TEXT)
            defer { TessBaseAPISetPageSegMode(api, PSM_AUTO) }
            return try read(image, scale: scale)
        }()
        if !sparse.words.isEmpty { return sparse }
        guard let greyPix = pixConvertTo8(image.pix, 0) else { return nil }
        let grey = Image(owning: greyPix)
        var binaryPix: UnsafeMutablePointer<PIX>?
        if pixOtsuAdaptiveThreshold(grey.pix, 2000, 2000, 0, 0, 0.1, nil, &binaryPix) == 0, let binaryPix {
            let binary = Image(owning: binaryPix)
            let reading = try read(binary, scale: scale)
            if !reading.words.isEmpty { return reading }
        }
        if let invertedPix = pixInvert(nil, grey.pix) {
            let reading = try read(Image(owning: invertedPix), scale: scale)
            if !reading.words.isEmpty { return reading }
        }
        // Twice the size, only for pages small enough that it stays cheap (≤ 12 MP after).
        if grey.width * grey.height <= 3_000_000, let largerPix = pixScale(grey.pix, 2, 2) {
            let reading = try read(Image(owning: largerPix), scale: scale / 2)
            if !reading.words.isEmpty { return reading }
        }
        return nil
    }

    /// tesseract's orientation model, loaded on first use (most pages never need it).
    private lazy var orientationAPI: OpaquePointer? = {
        guard let osd = TessBaseAPICreate() else { return nil }
        guard TessBaseAPIInit3(osd, nil, "osd") == 0 else {
            TessBaseAPIDelete(osd)
            return nil
        }
        TessBaseAPISetPageSegMode(osd, PSM_OSD_ONLY)
        return osd
    }()

    /// Clockwise quarter turns that make the page upright, when tesseract's orientation
    /// model is installed (Debian: tesseract-ocr-osd) and confident.
    func quarterTurnsToUpright(_ image: Image) -> Int? {
        guard let osd = orientationAPI else { return nil }
        TessBaseAPISetImage2(osd, image.pix)
        defer { TessBaseAPIClear(osd) }
        var degrees: Int32 = 0, confidence: Float = 0, scriptConfidence: Float = 0
        var script: UnsafePointer<CChar>?
        let found = TessBaseAPIDetectOrientationScript(osd, &degrees, &confidence, &script, &scriptConfidence)
        guard found != 0, confidence >= 2 else { return nil }
        // `degrees` is how far the text is turned counter-clockwise.
        return (4 - Int(degrees) / 90 % 4) % 4
    }

    /// OCR of an image as it is; boxes are multiplied by `scale`. The file's resolution is
    /// passed on as tesseract's command does (tesseract estimates one when there is none).
    func read(_ image: Image, scale: Double) throws -> Recognition {
        TessBaseAPISetImage2(api, image.pix)
        return try read(scale: scale)
    }

    /// OCR of raw pixels (e.g. a rendered PDF page); boxes are scaled by `scale`.
    func recognize(pixels: UnsafePointer<UInt8>, width: Int, height: Int, bytesPerLine: Int, ppi: Int, scale: Double) throws -> Recognition {
        TessBaseAPISetImage(api, pixels, Int32(width), Int32(height), 4, Int32(bytesPerLine))
        TessBaseAPISetSourceResolution(api, Int32(ppi))
        return try read(scale: scale)
    }

    /// Words with boxes, and the page text in tesseract's reading order: its layout analysis
    /// (blocks, paragraphs, lines) orders columns and tables far better than sorting boxes.
    /// Lines the layout analysis left out are read afterwards (`missedLines`) and placed
    /// among the others by their height on the page.
    private func read(scale: Double) throws -> Recognition {
        guard TessBaseAPIRecognize(api, nil) == 0 else { throw DocumentProblem("ocr_failed", "tesseract could not read the page") }
        var lines = readLines()
        for missed in missedLines(besides: lines.flatMap(\.words)) {
            let middle = missed.middle
            let below = lines.firstIndex { !$0.words.isEmpty && $0.middle > middle } ?? lines.endIndex
            lines.insert(missed, at: below)
        }
        var words: [Word] = []
        var text = ""
        for (index, line) in lines.enumerated() {
            if index > 0 { text += line.startsParagraph ? "\n\n" : "\n" }
            text += line.words.map(\.text).joined(separator: " ")
            words += line.words.map { $0.scaled(by: scale) }
        }
        return Recognition(words: words, text: text)
    }

    /// The words of the last recognition, in pixels, line by line in reading order.
    func readLines() -> [OCRLine] {
        guard let iterator = TessBaseAPIGetIterator(api) else { return [] }
        defer { TessResultIteratorDelete(iterator) }
        var lines: [OCRLine] = []
        // The strongest break since the last word written: 0 none, 1 word, 2 line, 3 paragraph.
        var pendingBreak = 0
        let page = TessResultIteratorGetPageIterator(iterator)
        repeat {
            if TessPageIteratorIsAtBeginningOf(page, RIL_PARA) != 0 {
                pendingBreak = 3
            } else if TessPageIteratorIsAtBeginningOf(page, RIL_TEXTLINE) != 0 {
                pendingBreak = max(pendingBreak, 2)
            } else {
                pendingBreak = max(pendingBreak, 1)
            }
            guard let raw = TessResultIteratorGetUTF8Text(iterator, RIL_WORD) else { continue }
            let word = String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
            TessDeleteText(raw)
            guard !word.isEmpty else { continue }
            var left: Int32 = 0, top: Int32 = 0, right: Int32 = 0, bottom: Int32 = 0
            guard TessPageIteratorBoundingBox(page, RIL_WORD, &left, &top, &right, &bottom) != 0 else { continue }
            if lines.isEmpty || pendingBreak >= 2 { lines.append(OCRLine(startsParagraph: pendingBreak == 3)) }
            pendingBreak = 0
            let confidence = Double(TessResultIteratorConfidence(iterator, RIL_WORD)) / 100
            lines[lines.count - 1].words.append(Word(text: word, x0: Double(left), y0: Double(top), x1: Double(right),
                                                     y1: Double(bottom), confidence: max(0, min(1, confidence))))
        } while TessResultIteratorNext(iterator, RIL_WORD) != 0
        return lines
    }
}

/// One line of words as tesseract read it, boxes in the image's pixels.
struct OCRLine {
    var startsParagraph: Bool
    var words: [Word] = []

    /// Half-way down the line.
    var middle: Double {
        words.isEmpty ? 0 : words.map { ($0.y0 + $0.y1) / 2 }.reduce(0, +) / Double(words.count)
    }
}

extension Word {
    func scaled(by scale: Double) -> Word {
        Word(text: text, x0: x0 * scale, y0: y0 * scale, x1: x1 * scale, y1: y1 * scale, confidence: confidence)
    }
}

/// What tesseract read on one page.
struct Recognition {
    var words: [Word]
    /// In tesseract's reading order: lines separated by newlines, paragraphs by blank lines.
    var text: String

    /// Characters read, weighted by confidence: which of two readings of a page is better.
    var score: Double {
        words.reduce(0) { $0 + $1.confidence * Double($1.text.count) }
    }

    /// Few words, or words read with little confidence: perhaps the page is not upright.
    var looksMisread: Bool {
        words.count < 10 || meanConfidence < 0.6 || looksSideways
    }

    /// Most words are taller than wide: tesseract read lines running up or down the page
    /// (it can), but their boxes would be sideways for tables and fields.
    var looksSideways: Bool {
        let long = words.filter { $0.text.count >= 3 }
        return long.count >= 3 && long.filter { $0.y1 - $0.y0 > $0.x1 - $0.x0 }.count * 2 > long.count
    }

    /// Mean word confidence (0…1), 0 when nothing was read.
    var meanConfidence: Double {
        words.isEmpty ? 0 : words.map(\.confidence).reduce(0, +) / Double(words.count)
    }
}

extension PDFDocument {
    /// Renders a page at `dpi` with cairo and OCRs it; boxes come back in PDF points. A
    /// page larger than A4 is rendered at a lower resolution, so that it has no more pixels
    /// than an image page is read at (`ImagePages.ocrPixelLimit`): a poster-sized page
    /// cannot make the worker balloon.
    public func ocrPage(_ index: Int, engine: OCREngine, dpi: Int = 300) throws -> PageModel {
        guard let page = poppler_document_get_page(documentHandle, Int32(index)) else {
            throw DocumentProblem("corrupt_document", "page \(index + 1) cannot be read")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        defer { TessBaseAPIClear(engine.api) }
        var width = 0.0, height = 0.0
        poppler_page_get_size(page, &width, &height)
        guard width > 0, height > 0 else { throw DocumentProblem("corrupt_document", "page \(index + 1) has no size") }
        let scale = min(Double(dpi) / 72, (Double(ImagePages.ocrPixelLimit) / (width * height)).squareRoot())
        let pixelWidth = Int((width * scale).rounded()), pixelHeight = Int((height * scale).rounded())
        guard pixelWidth > 0, pixelHeight > 0 else {
            throw DocumentProblem("image_too_large", "page \(index + 1) is too large to render")
        }
        // The rendered page lives only while it is first read; a page that gave no words keeps
        // a grey copy (a quarter of the size) for the other ways of reading it.
        let rendered: (Recognition, Image?)? = try PDFDocument.withRenderedPage(page, scale: scale, width: pixelWidth,
                                                                             height: pixelHeight) { data, stride in
            let result = try engine.recognize(pixels: data, width: pixelWidth, height: pixelHeight,
                                              bytesPerLine: stride, ppi: Int((scale * 72).rounded()), scale: 1 / scale)
            guard result.words.isEmpty else { return (result, nil) }
            TessBaseAPIClear(engine.api)
            return (result, Image(greyFromCairoRGB24: data, width: pixelWidth, height: pixelHeight, stride: stride))
        }
        guard var (result, grey) = rendered else { throw DocumentProblem("ocr_failed", "the page did not render") }
        if let image = grey, let again = try engine.readAgain(image, scale: 1 / scale) { result = again }
        grey = nil
        return PageModel(number: index + 1, width: width, height: height, source: result.words.isEmpty ? .none : .ocr,
                         words: result.words, text: result.text)
    }
}
