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
                var model = try pdf.pageWithLayout(index)
                if model.source == .none { model = try pdf.ocrPage(index, engine: try OCREngine.forThisProcess()) }
                try page(model, index + 1, total)
            }
        case .csv, .xlsx:
            // No pages: spreadsheets are tables already (`DelimitedText`, `WorkbookReader`).
            break
        case .png, .jpeg, .tiff:
            let images = try ImagePages(path: path, type: type)
            let engine = try OCREngine.forThisProcess()
            try images.forEach { decoded, number in
                try page(try engine.recognize(decoded, number: number), number, images.count)
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
        return FileType.recognize(path: path, head: [UInt8](head))
    }
}

/// Tables of a whole document: every page's tables, optionally with tables that
/// continue on the next page joined when their columns match.
public enum DocumentTables {
    /// Every page's tables; with `joiningPages`, a table that runs to the foot of a page
    /// and one that starts at the head of the next become one table when their columns
    /// match (same count, and a header on the next page repeats the first's header).
    ///
    /// Joining is off by default because the benchmark format (and ICDAR's) wants one
    /// entry per page; a caller storing whole tables (the warehouse job) can ask for it.
    public static func detect(_ pages: [PageModel], joiningPages: Bool = false) -> [DetectedTable] {
        let perPage = pages.map { TableDetector.detect($0) }
        guard joiningPages else { return perPage.flatMap { $0 } }
        var tables: [DetectedTable] = []
        for (index, found) in perPage.enumerated() {
            var found = found
            if index > 0, let last = tables.last, let first = found.first,
               last.pages.last == pages[index - 1].number, continues(last, on: pages[index - 1], with: first, on: pages[index]) {
                tables[tables.count - 1] = last.joined(with: first)
                found.removeFirst()
            }
            tables += found
        }
        return tables
    }

    /// Whether `next`, the first table of `nextPage`, continues `table`, the last table of
    /// `page`: the one ends in the lower third of its page, the other starts in the upper
    /// third of the next, and their columns match.
    static func continues(_ table: DetectedTable, on page: PageModel, with next: DetectedTable, on nextPage: PageModel) -> Bool {
        guard next.page == nextPage.number, table.bbox.y1 >= page.height * 2 / 3, next.bbox.y0 <= nextPage.height / 3,
              table.header.count == next.header.count else { return false }
        return next.headerCells == nil || next.header == table.header
    }
}
