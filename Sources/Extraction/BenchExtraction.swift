import Data
import Documents
import Foundation
import JSONValues

/// What `assay extract` writes for one document, in the neutral format of the benchmark scorers.
public enum BenchExtraction {
    public static func run(path: String) -> JSON {
        let started = Date()
        var pages: [PageModel] = []
        var tables: [ExtractedTable] = []
        var problem: String?
        var rereader: PageRereader?
        do {
            guard let type = DocumentReader.detectType(path: path) else {
                throw DocumentProblem("unsupported_type", "not a PDF, PNG, JPEG, TIFF, XLSX workbook or delimited text file")
            }
            if let cached = PageCache.load(for: path) {
                pages = cached
            } else {
                pages = try DocumentReader.pages(path: path, type: type)
                PageCache.store(pages, for: path)
            }
            tables = try DocumentExtraction.tables(path: path, type: type, pages: pages)
            rereader = ScannedPageRereader(path: path, type: type, pages: pages)
        } catch {
            problem = "\(error)"
        }
        let fields = (try? RuleBasedExtractor(rereader: rereader).extract(pages: pages, fields: InvoiceFields.specs)) ?? []
        let seconds = Date().timeIntervalSince(started)
        var result: [(String, JSON)] = [
            ("tables", .array(present(tables))),
            ("fields", .object(fields.compactMap { field in field.value.map { (field.fieldID, JSON.string($0)) } })),
            ("text", .string(pages.map(\.text).joined(separator: "\n\n"))),
            ("meta", ["seconds": .double((seconds * 1000).rounded() / 1000), "pages": .int(Int64(pages.count))]),
        ]
        if let problem { result.append(("error", .string(problem))) }
        return .object(result)
    }

    /// The document's tables, each as stored and as found on its pages.
    ///
    /// A table's entry holds what the warehouse stores: `columns` (name, header, type) and
    /// `values` (the typed text of each body cell, null for NULL); and what was read off the
    /// page: `header_rows` (the header rows as found, before they were joined into one name per
    /// column) and `rows`, its first page's grid (those header rows, then the body rows there,
    /// a spanning cell's text in its top-left position). A table continuing across pages is one
    /// stored table; each further page gets an entry of its own with `page`, `rows` (as found
    /// there, a repeated header included) and `continues`, the index in `tables` of the entry it
    /// continues. The benchmark's scorer reads `page` and `rows`, so it scores what was found on
    /// each page as ICDAR annotates it; the parity test holds the stored form to the API's.
    /// A spreadsheet keeps no cell text: its `rows` are its header and values, parsed without loss.
    static func present(_ tables: [ExtractedTable]) -> [JSON] {
        var entries: [JSON] = []
        for table in tables {
            let first = entries.count
            let grids = table.pageGrids
            let header = table.headerRows.map { JSON.array($0.map(JSON.string)) }
            let rows: [JSON] = grids.first.map { $0.rows.map { JSON.array($0.map(JSON.string)) } }
                ?? header + (table.cells.isEmpty
                    ? table.values.map { .array($0.map { JSON.string($0 ?? "") }) }
                    : table.cells.map { .array($0.map { JSON.string($0.text) }) })
            var members: [(String, JSON)] = [
                ("page", .int(Int64(table.firstPage))),
                ("pages", .array(table.pages.map { .int(Int64($0)) })),
                ("columns", table.columnsJSON),
                ("header_rows", .array(header)),
                ("rows", .array(rows)),
                ("values", .array(table.values.map { .array($0.map(JSON.init)) })),
            ]
            if let sheet = table.sheet { members.insert(("sheet", .string(sheet)), at: 0) }
            entries.append(.object(members))
            for grid in grids.dropFirst() {
                entries.append(["page": .int(Int64(grid.page)), "continues": .int(Int64(first)),
                                "rows": .array(grid.rows.map { .array($0.map(JSON.string)) })])
            }
        }
        return entries
    }
}

/// A development aid: with `ASSAY_BENCH_PAGE_CACHE=DIR`, `assay extract` keeps the page
/// models of scanned documents and images (OCR output) in DIR and reuses them, so field and
/// table rules can be iterated on OCR corpora without re-running tesseract. Text PDFs are
/// never cached (their layout is not serialised). `meta.seconds` then excludes OCR.
enum PageCache {
    private struct CachedWord: Codable { let t: String; let b: [Double] }
    private struct CachedPage: Codable {
        let number: Int, width: Double, height: Double, source: String, text: String
        let words: [CachedWord]
    }

    private static func file(for path: String) -> String? {
        guard let directory = ProcessInfo.processInfo.environment["ASSAY_BENCH_PAGE_CACHE"], !directory.isEmpty,
              let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int else { return nil }
        return "\(directory)/\((path as NSString).lastPathComponent).\(size).pages.json"
    }

    static func load(for path: String) -> [PageModel]? {
        guard let file = file(for: path), let data = FileManager.default.contents(atPath: file),
              let cached = try? JSONDecoder().decode([CachedPage].self, from: data) else { return nil }
        return cached.map { page in
            PageModel(number: page.number, width: page.width, height: page.height,
                      source: PageModel.Source(rawValue: page.source) ?? .ocr,
                      words: page.words.map { Word(text: $0.t, x0: $0.b[0], y0: $0.b[1], x1: $0.b[2], y1: $0.b[3],
                                                   confidence: $0.b[4]) },
                      text: page.text)
        }
    }

    static func store(_ pages: [PageModel], for path: String) {
        guard let file = file(for: path), !pages.isEmpty, pages.allSatisfy({ $0.layout == nil }) else { return }
        try? FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent,
                                                 withIntermediateDirectories: true)
        let cached = pages.map { page in
            CachedPage(number: page.number, width: page.width, height: page.height, source: page.source.rawValue,
                       text: page.text,
                       words: page.words.map { CachedWord(t: $0.text, b: [$0.x0, $0.y0, $0.x1, $0.y1, $0.confidence]) })
        }
        if let data = try? JSONEncoder().encode(cached) { try? data.write(to: URL(fileURLWithPath: file)) }
    }
}
