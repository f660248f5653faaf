import Foundation

/// Reads a document into the page model, the one path shared by the extraction job and
/// `assay extract`: poppler's text layer where a PDF page has one, OCR for scanned pages
/// and for images.
public enum DocumentReader {
    /// Calls `page` for every page as soon as it is read, with pages done and total.
    public static func read(path: String, type: FileType,
                            page: (_ model: PageModel, _ done: Int, _ total: Int) throws -> Void) throws {
        switch type {
        case .pdf:
            let pdf = try PDFDocument(path: path)
            let total = pdf.pageCount
            for index in 0..<total {
                var model = try pdf.page(index)
                if model.source == .none { model = try pdf.ocrPage(index, engine: try OCREngine.forThisProcess()) }
                if model.source == .text { model.layout = try? pdf.layout(pageIndex: index) }
                try page(model, index + 1, total)
            }
        case .png, .jpeg, .tiff:
            let images = try ImagePages(path: path, type: type)
            let engine = try OCREngine.forThisProcess()
            try images.forEach { image, number in
                try page(try engine.recognize(image, number: number), number, images.count)
            }
        }
    }

    /// Every page of a document, in order.
    public static func pages(path: String, type: FileType) throws -> [PageModel] {
        var pages: [PageModel] = []
        try read(path: path, type: type) { model, _, _ in pages.append(model) }
        return pages
    }

    /// The file's type from its first bytes.
    public static func detectType(path: String) -> FileType? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 16)) ?? Data()
        return FileType.detect([UInt8](head))
    }
}

/// Tables of a whole document: every page's tables, with tables that continue on the
/// next page joined when their columns match.
public enum DocumentTables {
    public static func detect(_ pages: [PageModel]) -> [DetectedTable] {
        pages.flatMap { TableDetector.detect($0) }
    }
}
