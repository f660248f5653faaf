import Foundation

/// The kinds of upload Assay accepts, recognised by their content, never by name: PDFs
/// and images by their first bytes, workbooks (.xlsx) by the parts of their zip
/// (`WorkbookReader`), delimited text (CSV, TSV) by its rows (`DelimitedText`).
public enum FileType: String, Sendable, CaseIterable {
    case pdf, png, jpeg, tiff, csv, xlsx

    public var contentType: String {
        switch self {
        case .pdf: "application/pdf"
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .tiff: "image/tiff"
        case .csv: "text/csv"
        case .xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        }
    }

    public var isImage: Bool { [.png, .jpeg, .tiff].contains(self) }

    /// The type of the file at `path` whose first bytes are `head`.
    public static func recognize(path: String, head: [UInt8]) -> FileType? {
        detect(head) ?? (WorkbookReader.recognizes(path: path, head: head) ? .xlsx : nil)
            ?? (DelimitedText.sniff(path: path) ? .csv : nil)
    }

    /// Recognises a file from its first bytes (at least 8 are needed).
    public static func detect(_ head: [UInt8]) -> FileType? {
        func starts(_ magic: [UInt8]) -> Bool { head.count >= magic.count && Array(head.prefix(magic.count)) == magic }
        if starts(Array("%PDF-".utf8)) { return .pdf }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .tiff }
        return nil
    }
}

/// Why an upload cannot be processed, found before any work starts.
public struct DocumentProblem: Error, CustomStringConvertible, Sendable {
    public let code: String
    public let description: String

    public init(_ code: String, _ description: String) {
        self.code = code
        self.description = description
    }
}

/// What was learnt about a file when it was checked at upload.
public struct FileFacts: Sendable {
    public let type: FileType
    public let pages: Int
    public let width: Int?
    public let height: Int?
}

/// Cheap structural checks at upload: truncated images, encrypted or damaged PDFs,
/// and the configured limits on pages and pixels.
public enum FileInspector {
    /// Most pixels in a colour TIFF page. JPEGs are decoded reduced and large PNGs straight
    /// to grey (`ImagePages`), but leptonica decodes a TIFF page whole, and at eight bytes a
    /// pixel 16 MP (A4 at 400 dpi) is what keeps a job worker under 250 MB.
    public static let maxColourTIFFPixels = 16_000_000

    public static func inspect(path: String, type: FileType, maxPages: Int, maxPixels: Int) throws -> FileFacts {
        switch type {
        case .csv:
            // Recognising it read its beginning; the rows are parsed by the job.
            return FileFacts(type: .csv, pages: 1, width: nil, height: nil)
        case .xlsx:
            // Every sheet is read here, keeping nothing, so that a damaged or oversized workbook
            // is refused at upload rather than failing its job; a sheet is a page.
            let workbook = try WorkbookReader(path: path)
            _ = try workbook.check()
            return FileFacts(type: .xlsx, pages: workbook.sheets.count, width: nil, height: nil)
        case .pdf:
            let document = try PDFDocument(path: path)
            let pages = document.pageCount
            guard pages > 0 else { throw DocumentProblem("corrupt_document", "the PDF has no pages") }
            guard pages <= maxPages else {
                throw DocumentProblem("too_many_pages", "the PDF has \(pages) pages; the limit is \(maxPages)")
            }
            return FileFacts(type: .pdf, pages: pages, width: nil, height: nil)
        case .tiff:
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DocumentProblem("corrupt_document", "the file cannot be read")
            }
            // Count every directory (a hostile chain is cut off just past the limit), then
            // check every page's size: each page is decoded and OCR'd on its own.
            let pages = try TIFFStructure(bytes: [UInt8](data), limit: maxPages + 1).pages
            guard pages.count <= maxPages else {
                throw DocumentProblem("too_many_pages", "the TIFF has more than \(maxPages) pages, the limit")
            }
            for (index, page) in pages.enumerated() {
                // A colour page is decoded whole at four bytes a pixel (eight for YCbCr, read
                // through an RGBA raster) before it is reduced for OCR.
                let limit = page.samples >= 3 ? min(maxPixels, maxColourTIFFPixels) : maxPixels
                guard page.width * page.height > limit else { continue }
                throw DocumentProblem("image_too_large", "page \(index + 1) of the TIFF has \(page.width)×\(page.height) "
                                      + "\(page.samples >= 3 ? "colour " : "")pixels; the limit is \(limit)")
            }
            return FileFacts(type: .tiff, pages: pages.count, width: pages[0].width, height: pages[0].height)
        case .png, .jpeg:
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DocumentProblem("corrupt_document", "the file cannot be read")
            }
            let bytes = [UInt8](data)
            let size = try imageSize(bytes, type: type)
            if let (width, height) = size, width * height > maxPixels {
                throw DocumentProblem("image_too_large", "the image has \(width)×\(height) pixels; the limit is \(maxPixels)")
            }
            return FileFacts(type: type, pages: 1, width: size?.0, height: size?.1)
        }
    }

    /// Width and height from the header; throws for a truncated or malformed image.
    static func imageSize(_ b: [UInt8], type: FileType) throws -> (Int, Int)? {
        func be32(_ i: Int) -> Int { Int(b[i]) << 24 | Int(b[i + 1]) << 16 | Int(b[i + 2]) << 8 | Int(b[i + 3]) }
        func be16(_ i: Int) -> Int { Int(b[i]) << 8 | Int(b[i + 1]) }
        switch type {
        case .png:
            guard b.count >= 45, Array(b[12..<16]) == Array("IHDR".utf8) else {
                throw DocumentProblem("corrupt_document", "the PNG header is damaged")
            }
            guard Array(b.suffix(12).prefix(8).suffix(4)) == Array("IEND".utf8) else {
                throw DocumentProblem("truncated_document", "the PNG is truncated (no IEND chunk)")
            }
            let size = (be32(16), be32(20))
            guard size.0 > 0, size.1 > 0 else { throw DocumentProblem("corrupt_document", "the PNG has no pixels") }
            return size
        case .jpeg:
            guard b.count >= 4, b[b.count - 2] == 0xFF, b[b.count - 1] == 0xD9 else {
                throw DocumentProblem("truncated_document", "the JPEG is truncated (no end-of-image marker)")
            }
            var i = 2
            while i + 9 < b.count {
                guard b[i] == 0xFF else { throw DocumentProblem("corrupt_document", "the JPEG structure is damaged") }
                let marker = b[i + 1]
                if marker == 0xFF { i += 1; continue }
                let length = be16(i + 2)
                // SOF0…SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
                if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                    let size = (be16(i + 7), be16(i + 5))
                    guard size.0 > 0, size.1 > 0 else { throw DocumentProblem("corrupt_document", "the JPEG has no pixels") }
                    return size
                }
                i += 2 + length
            }
            throw DocumentProblem("corrupt_document", "the JPEG has no frame header")
        case .tiff:
            let first = try TIFFStructure(bytes: b, limit: 1).pages[0]
            return (first.width, first.height)
        case .pdf, .csv, .xlsx:
            return nil
        }
    }
}
