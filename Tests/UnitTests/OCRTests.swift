import CPoppler
import CTesseract
import Documents
import Extraction
import JSONValues
import Foundation
import XCTest

/// OCR of images: multi-page TIFFs, turned pages, and the upload checks on TIFFs. The
/// images are drawn by the tests (cairo text, leptonica TIFF writing).
final class OCRTests: TemporaryFolderTestCase {
    // MARK: - Drawing test images

    /// A white page with black text lines, written as PNG.
    private func drawPage(_ lines: [String], width: Int = 1200, height: Int = 500, fontSize: Double = 40,
                          ink: Double = 0, darkFrame: Int = 0, skewDegrees: Double = 0, scale: Double = 1,
                          name: String) throws -> String {
        let path = "\(folder!)/\(name).png"
        let surface = try XCTUnwrap(cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)))
        defer { cairo_surface_destroy(surface) }
        let cr = cairo_create(surface)
        cairo_set_source_rgb(cr, 0, 0, 0)
        cairo_paint(cr)
        cairo_set_source_rgb(cr, 1, 1, 1)
        cairo_rectangle(cr, Double(darkFrame), Double(darkFrame), Double(width - 2 * darkFrame), Double(height - 2 * darkFrame))
        cairo_fill(cr)
        cairo_set_source_rgb(cr, ink, ink, ink)
        cairo_scale(cr, scale, scale)
        cairo_rotate(cr, skewDegrees * .pi / 180)
        cairo_select_font_face(cr, "DejaVu Sans", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(cr, fontSize)
        for (index, line) in lines.enumerated() {
            cairo_move_to(cr, Double(60 + darkFrame), Double(80 + darkFrame) + Double(index) * fontSize * 1.6)
            cairo_show_text(cr, line)
        }
        cairo_destroy(cr)
        cairo_surface_flush(surface)
        XCTAssertEqual(cairo_surface_write_to_png(surface, path), CAIRO_STATUS_SUCCESS)
        return path
    }

    /// Rewrites an image with leptonica after `transform` (e.g. a rotation).
    private func transform(_ path: String, to name: String,
                           _ body: (UnsafeMutablePointer<PIX>) -> UnsafeMutablePointer<PIX>?) throws -> String {
        var pix: UnsafeMutablePointer<PIX>? = pixRead(path)
        defer { pixDestroy(&pix) }
        var result: UnsafeMutablePointer<PIX>? = try XCTUnwrap(body(try XCTUnwrap(pix)))
        defer { pixDestroy(&result) }
        let out = "\(folder!)/\(name).png"
        XCTAssertEqual(pixWrite(out, result, Int32(IFF_PNG)), 0)
        return out
    }

    /// A multi-page TIFF from PNG pages (leptonica appends a directory per page with "a").
    private func writeTIFF(_ pages: [String], name: String) throws -> String {
        let path = "\(folder!)/\(name).tif"
        for (index, page) in pages.enumerated() {
            var pix: UnsafeMutablePointer<PIX>? = pixRead(page)
            defer { pixDestroy(&pix) }
            XCTAssertEqual(pixWriteTiff(path, try XCTUnwrap(pix), Int32(IFF_TIFF_ZIP), index == 0 ? "w" : "a"), 0)
        }
        return path
    }

    private func threePageTIFF() throws -> String {
        let pages = try [("one", "ALPHA"), ("two", "BRAVO"), ("three", "CHARLIE")].map { number, word in
            try drawPage(["Page \(number) of the report", "Keyword \(word) 2024"], name: "page-\(number)")
        }
        return try writeTIFF(pages, name: "three-pages")
    }

    private func problemCode(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch let problem as DocumentProblem {
            return problem.code
        } catch {
            XCTFail("expected a DocumentProblem, got \(error)")
            return nil
        }
    }

    // MARK: - Reading

    func testMultiPageTIFFYieldsEveryPageWithItsNumber() throws {
        let tiff = try threePageTIFF()
        XCTAssertEqual(DocumentReader.detectType(path: tiff), .tiff)

        var totals: [Int] = []
        var pages: [PageModel] = []
        try DocumentReader.read(path: tiff, type: .tiff) { page, _, total in
            pages.append(page)
            totals.append(total)
        }

        XCTAssertEqual(pages.map(\.number), [1, 2, 3])
        XCTAssertEqual(totals, [3, 3, 3])
        for (page, word) in zip(pages, ["ALPHA", "BRAVO", "CHARLIE"]) {
            XCTAssertTrue(page.text.contains("Keyword \(word)"), "page \(page.number): \(page.text)")
            XCTAssertEqual(page.source, .ocr)
            XCTAssertEqual(page.width, 1200)
            XCTAssertFalse(page.words.isEmpty)
        }
    }

    func testPageTextKeepsTesseractLinesAndWordBoxes() throws {
        let png = try drawPage(["Invoice number 4711", "Total amount 99.50"], name: "lines")

        let page = try XCTUnwrap(DocumentReader.pages(path: png, type: .png).first)

        XCTAssertEqual(page.text.split(separator: "\n").map(String.init), ["Invoice number 4711", "Total amount 99.50"])
        let total = try XCTUnwrap(page.words.first { $0.text == "99.50" })
        XCTAssertGreaterThan(total.y0, try XCTUnwrap(page.words.first { $0.text == "4711" }).y1)
        XCTAssertLessThanOrEqual(total.x1, 1200)
    }

    func testSmallPrintIsReadAtTheSizeTesseractReadsBest() throws {
        // A page scanned at a low resolution: capitals ~6 px high, on a page too large for the
        // plain 2× upscale of tiny images. Read at its own size, this page gave "‘CASH RM
        // 50.00," and "Invoice number 4712 dated 22.03.2028"; read at the size its text asks for.
        let lines = ["TOTAL RM 49.40", "CASH RM 50.00", "CHANGE RM 0.60", "Invoice number 4711 dated 12.03.2018"]
        let png = try drawPage(lines, width: 1000, height: 700, fontSize: 9, name: "small-print")

        let page = try XCTUnwrap(DocumentReader.pages(path: png, type: .png).first)

        for line in lines { XCTAssertTrue(page.text.contains(line), page.text) }
        // Boxes stay in the file's pixels: drawn from x = 60, the first baseline at y = 80.
        XCTAssertEqual(page.width, 1000)
        let total = try XCTUnwrap(page.words.first { $0.text == "TOTAL" })
        XCTAssertEqual(total.x0, 60, accuracy: 2)
        XCTAssertEqual(total.y1, 80, accuracy: 2)
    }

    func testLargePrintIsReadSmallerWithBoxesInTheFilesPixels() throws {
        // Capitals ~100 px high (the test page drawn 3.5 times as large): read at about a third of the size.
        let png = try drawPage(["Invoice 4711", "Total 99.50"], width: 1400, height: 700, scale: 3.5, name: "large-print")

        let page = try XCTUnwrap(DocumentReader.pages(path: png, type: .png).first)

        XCTAssertTrue(page.text.contains("Invoice 4711"), page.text)
        XCTAssertTrue(page.text.contains("Total 99.50"), page.text)
        let total = try XCTUnwrap(page.words.first { $0.text == "Total" })
        // Drawn from x = 60 × 3.5, the second baseline at (80 + 1.6 × 40) × 3.5.
        XCTAssertEqual(total.x0, 210, accuracy: 12)
        XCTAssertEqual(total.y1, 504, accuracy: 12)
    }

    private func turnedPage(clockwiseQuarters quarters: Int32) throws -> String {
        let upright = try drawPage(["The quick brown fox jumps over the lazy dog",
                                    "Pack my box with five dozen liquor jugs",
                                    "Sphinx of black quartz judge my vow",
                                    "How vexingly quick daft zebras jump"], height: 600, name: "upright")
        return try transform(upright, to: "turned-\(quarters)") { pixRotateOrth($0, quarters) }
    }

    func testSidewaysPageIsReadUpright() throws {
        let page = try XCTUnwrap(DocumentReader.pages(path: try turnedPage(clockwiseQuarters: 1), type: .png).first)

        XCTAssertTrue(page.text.contains("quick brown fox"), page.text)
        XCTAssertTrue(page.text.contains("liquor jugs"), page.text)
        // The page model describes the upright page: words run left to right.
        XCTAssertEqual(page.width, 1200)
        XCTAssertEqual(page.height, 600)
        let fox = try XCTUnwrap(page.words.first { $0.text == "fox" }), dog = try XCTUnwrap(page.words.first { $0.text == "dog" })
        XCTAssertLessThan(fox.x1, dog.x0)
    }

    func testUpsideDownPageIsReadUpright() throws {
        let page = try XCTUnwrap(DocumentReader.pages(path: try turnedPage(clockwiseQuarters: 2), type: .png).first)

        XCTAssertTrue(page.text.contains("quick brown fox"), page.text)
        XCTAssertTrue(page.text.contains("quartz judge"), page.text)
    }

    func testFaintPrintInsideADarkFrameIsRead() throws {
        // A photographed or scanned receipt: light grey print, black surroundings. One
        // global threshold between black and white would lose the print.
        let png = try drawPage(["THANK YOU PLEASE COME AGAIN", "TOTAL RM 49.40", "CASH RM 50.00"],
                               width: 1000, height: 700, ink: 0.62, darkFrame: 60, name: "framed")

        let page = try XCTUnwrap(DocumentReader.pages(path: png, type: .png).first)

        XCTAssertTrue(page.text.contains("TOTAL RM 49.40"), page.text)
        XCTAssertTrue(page.text.contains("PLEASE COME AGAIN"), page.text)
    }

    func testABlankPageGivesNoWordsAndAWarningAfterTheRetries() throws {
        let png = try drawPage([], width: 1000, height: 1400, darkFrame: 0, name: "blank")
        let text = try drawPage(["Invoice number 4711"], name: "text")

        let blank = try XCTUnwrap(DocumentReader.pages(path: png, type: .png).first)
        let page = try XCTUnwrap(DocumentReader.pages(path: text, type: .png).first)

        XCTAssertTrue(blank.words.isEmpty, blank.text)
        let warnings = DocumentExtraction.warnings([page, blank])
        XCTAssertEqual(warnings.count, 1)
        XCTAssertEqual(warnings.first?["code"], "no_text_found")
        XCTAssertEqual(warnings.first?["page"], .int(Int64(blank.number)))
    }

    func testSkewedPageIsStraightened() throws {
        let png = try drawPage(["Invoice number 4711 dated 12 March 2024",
                                "Total amount due 1,234.56 EUR",
                                "Payable within thirty days of receipt"],
                               height: 600, skewDegrees: 3, name: "skewed")

        let page = try XCTUnwrap(DocumentReader.pages(path: png, type: .png).first)

        XCTAssertTrue(page.text.contains("Total amount due 1,234.56 EUR"), page.text)
        // Straightened: the words of one line share a baseline.
        let total = try XCTUnwrap(page.words.first { $0.text == "Total" }), eur = try XCTUnwrap(page.words.first { $0.text == "EUR" })
        XCTAssertLessThan(abs(total.y1 - eur.y1), 12)
    }

    func testCorruptTIFFIsADocumentProblemWhenRead() throws {
        let tiff = try threePageTIFF()
        let bytes = try Data(contentsOf: URL(fileURLWithPath: tiff))
        let truncated = "\(folder!)/truncated.tif"
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: truncated))

        XCTAssertEqual(problemCode { _ = try DocumentReader.pages(path: truncated, type: .tiff) }, "truncated_document")
    }

    // MARK: - Upload checks

    func testInspectorCountsTIFFPages() throws {
        let tiff = try threePageTIFF()

        let facts = try FileInspector.inspect(path: tiff, type: .tiff, maxPages: 10, maxPixels: 10_000_000)

        XCTAssertEqual(facts.pages, 3)
        XCTAssertEqual(facts.width, 1200)
        XCTAssertEqual(facts.height, 500)
    }

    func testInspectorRefusesTIFFWithTooManyPages() throws {
        let tiff = try threePageTIFF()

        XCTAssertEqual(problemCode { _ = try FileInspector.inspect(path: tiff, type: .tiff, maxPages: 2, maxPixels: 10_000_000) },
                       "too_many_pages")
    }

    func testInspectorChecksEveryTIFFPageAgainstThePixelLimit() throws {
        let small = try drawPage(["small page"], width: 400, height: 300, name: "small")
        let large = try drawPage(["large page"], width: 2000, height: 1500, name: "large")
        let tiff = try writeTIFF([small, large], name: "mixed")

        do {
            _ = try FileInspector.inspect(path: tiff, type: .tiff, maxPages: 10, maxPixels: 1_000_000)
            XCTFail("the second page is over the limit")
        } catch let problem as DocumentProblem {
            XCTAssertEqual(problem.code, "image_too_large")
            XCTAssertTrue(problem.description.contains("page 2"), problem.description)
        }
        XCTAssertEqual(try FileInspector.inspect(path: tiff, type: .tiff, maxPages: 10, maxPixels: 3_000_000).pages, 2)
    }

    func testInspectorRefusesTruncatedAndMalformedTIFFs() throws {
        let tiff = try threePageTIFF()
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: tiff)))
        func inspect(_ bytes: [UInt8], name: String) -> String? {
            let path = "\(folder!)/\(name).tif"
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            return problemCode { _ = try FileInspector.inspect(path: path, type: .tiff, maxPages: 10, maxPixels: 10_000_000) }
        }

        // Pixel data cut off at the end.
        XCTAssertEqual(inspect(Array(bytes.prefix(bytes.count - 100)), name: "cut-end"), "truncated_document")
        // Only the header: the first directory is missing.
        XCTAssertEqual(inspect(Array(bytes.prefix(8)), name: "header-only"), "truncated_document")
        // A directory that points back to itself.
        var loop: [UInt8] = [0x49, 0x49, 0x2A, 0x00, 8, 0, 0, 0, 0, 0] // header, IFD at 8 with no entries
        loop += [8, 0, 0, 0] // next IFD: itself
        XCTAssertNotNil(inspect(loop, name: "loop"))
    }

    // MARK: - Large images

    /// A page `factor` times the test page's size with its text `textFactor` times as large, saved as `type`.
    private func largePage(_ type: FileType, factor: Double, textFactor: Double, name: String) throws -> String {
        let png = try drawPage(["Invoice number 4711", "Total amount 99.50"], width: Int(1200 * factor),
                               height: Int(500 * factor), scale: textFactor, name: name)
        guard type == .jpeg else { return png }
        var pix: UnsafeMutablePointer<PIX>? = pixRead(png)
        defer { pixDestroy(&pix) }
        let path = "\(folder!)/\(name).jpg"
        XCTAssertEqual(pixWrite(path, try XCTUnwrap(pix), Int32(IFF_JFIF_JPEG)), 0)
        return path
    }

    func testLargeImagesAreReadReducedWithBoxesInTheFilesPixels() throws {
        // Six times the test page's size, the text three times: 7200 × 3000 = 21.6 MP, over the
        // 12 MP pages are read at (the JPEG is decoded at half size, the PNG decoded to grey
        // and scaled down).
        for type in [FileType.jpeg, .png] {
            let path = try largePage(type, factor: 6, textFactor: 3, name: "large-\(type.rawValue)")
            let page = try XCTUnwrap(DocumentReader.pages(path: path, type: type).first)

            XCTAssertTrue(page.text.contains("Invoice number 4711"), "\(type): \(page.text)")
            XCTAssertTrue(page.text.contains("Total amount 99.50"), "\(type): \(page.text)")
            XCTAssertEqual(page.width, 7200, "\(type)")
            XCTAssertEqual(page.height, 3000, "\(type)")
            // Drawn from x = 60 × 3, the second baseline at (80 + 1.6 × 40) × 3.
            let total = try XCTUnwrap(page.words.first { $0.text == "Total" })
            XCTAssertEqual(total.x0, 180, accuracy: 20, "\(type)")
            XCTAssertEqual(total.y1, 432, accuracy: 20, "\(type)")
        }
    }

    /// A TIFF of one page that only claims its size and samples per pixel (one byte of pixels).
    private func tiffClaiming(width: Int, height: Int, samples: Int, name: String) -> String {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: Int) -> [UInt8] { u16(v & 0xFFFF) + u16(v >> 16) }
        func entry(_ tag: Int, _ type: Int, _ value: Int) -> [UInt8] {
            u16(tag) + u16(type) + u32(1) + (type == 3 ? u16(value) + [0, 0] : u32(value))
        }
        let entries = [entry(256, 4, width), entry(257, 4, height), entry(273, 4, 8 + 2 + 5 * 12 + 4),
                       entry(277, 3, samples), entry(279, 4, 1)]
        let bytes: [UInt8] = [0x49, 0x49, 0x2A, 0x00] + u32(8) + u16(entries.count) + entries.flatMap { $0 } + u32(0) + [0]
        let path = "\(folder!)/\(name).tif"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    func testInspectorLimitsColourTIFFPagesThatAreDecodedWhole() throws {
        let colour = tiffClaiming(width: 5000, height: 4000, samples: 3, name: "colour")
        let grey = tiffClaiming(width: 5000, height: 4000, samples: 1, name: "grey")

        XCTAssertEqual(problemCode { _ = try FileInspector.inspect(path: colour, type: .tiff, maxPages: 10, maxPixels: 100_000_000) },
                       "image_too_large")
        XCTAssertEqual(try FileInspector.inspect(path: grey, type: .tiff, maxPages: 10, maxPixels: 100_000_000).width, 5000)
    }
}
