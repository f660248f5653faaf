import Data
import Documents
import Foundation
import JSONValues
import Jobs
import Logging
import Observability

/// The `document.extract` job: reads every page into the page model and stores it.
///
/// Text PDFs are read through poppler with word boxes; pages without a usable text
/// layer are rendered at 300 dpi and OCR'd with tesseract, and so are images.
public enum DocumentExtraction {
    public static func register(on registry: JobRegistry, uploadsDirectory: String) {
        registry.register(.documentExtract) { context in try run(context, uploadsDirectory: uploadsDirectory) }
    }

    public static func run(_ context: JobContext, uploadsDirectory: String) throws -> JSON {
        do {
            return try extract(context, uploadsDirectory: uploadsDirectory)
        } catch {
            // The document must never stay "processing" once its job has given up.
            let final = error is PermanentJobError || context.job.attempts >= context.job.maxAttempts
            if final, let id = try? context.payloadID("document_id") {
                try? DocumentRepository(context.database).finish(id: id, error: "processing failed: \(error)")
            }
            throw error
        }
    }

    public static func extract(_ context: JobContext, uploadsDirectory: String) throws -> JSON {
        let id = try context.payloadID("document_id")
        guard let document = try DocumentRepository(context.database).find(id: id, team: nil) else {
            throw PermanentJobError("the document was deleted before it was processed")
        }
        return try process(document, database: context.database, uploadsDirectory: uploadsDirectory, logger: context.logger) {
            context.progress(done: $0, total: $1, note: "page \($0) of \($1)")
        }.summary
    }

    /// Reads every page, stores the pages and the tables found, and marks the document
    /// done. A document the reader refuses is marked failed and `PermanentJobError` thrown.
    public static func process(_ document: DocumentRecord, database: Database, uploadsDirectory: String, logger: Logger,
                        progress: (Int, Int) -> Void) throws -> (pages: [PageModel], summary: JSON) {
        let documents = DocumentRepository(database)
        let id = document.id
        let started = Date()
        try documents.markProcessing(id: id)
        let (path, type) = upload(of: document, in: uploadsDirectory)
        var counts: [String: Int] = ["text": 0, "ocr": 0, "none": 0]
        var models: [PageModel] = []
        do {
            try DocumentReader.read(path: path, type: type) { page, done, total in
                try save(page, document: id, in: documents)
                models.append(page)
                counts[page.source.rawValue, default: 0] += 1
                Metrics.counter(.extractionPages, ["source": page.source.rawValue]).add()
                progress(done, total)
            }
        } catch let problem as DocumentProblem {
            try documents.finish(id: id, error: problem.description)
            throw PermanentJobError(problem.description)
        }
        let tables = try storeTables(path: path, type: type, pages: models, document: document, database: database, logger: logger)
        let warnings = DocumentExtraction.warnings(models)
        try documents.finish(id: id, error: nil, warningsJSON: JSON.array(warnings).serializedText)
        Metrics.histogram(.extractionDuration).observe(seconds: Date().timeIntervalSince(started))
        return (models, [
            "document_id": .string(id.lower),
            "tables": .int(Int64(tables)),
            "pages": .int(Int64(models.count)),
            "pages_by_source": .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }),
            "warnings": .array(warnings),
        ])
    }

    /// What the reading of `pages` should tell the user although the document is done: each
    /// page that gave no text, not even after OCR tried again (`no_text_found`).
    public static func warnings(_ pages: [PageModel]) -> [JSON] {
        pages.filter { $0.words.isEmpty && $0.text.allSatisfy(\.isWhitespace) }.map { page in
            ["code": "no_text_found", "page": .int(Int64(page.number)),
             "message": .string("page \(page.number) gave no text, also after OCR was tried again with other preprocessing: a blank page, or too faint or blurred to read")]
        }
    }

    /// The stored page model of a processed document.
    public static func storedPages(document: UUID, database: Database) throws -> [PageModel] {
        try DocumentRepository(database).storedPages(document: document).map { stored in
            var words: [Word] = []
            if case .array(let items)? = try? JSON.parse(Array(stored.wordsJSON.utf8)) {
                for case .array(let parts) in items where parts.count == 6 {
                    guard case .string(let text) = parts[0] else { continue }
                    let numbers = parts.dropFirst().map { part -> Double in
                        switch part {
                        case .double(let value): value
                        case .int(let value): Double(value)
                        default: 0
                        }
                    }
                    words.append(Word(text: text, x0: numbers[0], y0: numbers[1], x1: numbers[2], y1: numbers[3], confidence: numbers[4]))
                }
            }
            return PageModel(number: stored.page, width: stored.width, height: stored.height,
                             source: PageModel.Source(rawValue: stored.source) ?? .none, words: words, text: stored.text)
        }
    }

    public static func save(_ page: PageModel, document: UUID, in documents: DocumentRepository) throws {
        let words = JSON.array(page.words.map { word in
            .array([.string(word.text), .double(round2(word.x0)), .double(round2(word.y0)), .double(round2(word.x1)),
                    .double(round2(word.y1)), .double(round2(word.confidence))])
        })
        try documents.savePage(document: document, page: page.number, width: page.width, height: page.height,
                               source: page.source.rawValue, text: page.text,
                               wordsJSON: words.serializedText,
                               wordCount: page.words.count, confidence: page.meanConfidence)
    }

    /// What reads regions of the document's OCR'd pages again for the field extractor (a
    /// total its arithmetic disagrees with), from the uploaded file; nil when no page was OCR'd.
    public static func rereader(for document: DocumentRecord, uploadsDirectory: String, pages: [PageModel]) -> PageRereader? {
        let (path, type) = upload(of: document, in: uploadsDirectory)
        return ScannedPageRereader(path: path, type: type, pages: pages)
    }

    /// Where the document's uploaded file is, and what kind of file it is.
    static func upload(of document: DocumentRecord, in uploadsDirectory: String) -> (path: String, type: FileType) {
        ("\(uploadsDirectory)/\(document.sha256)", FileType.allCases.first { $0.contentType == document.contentType } ?? .pdf)
    }

    /// Most rows a spreadsheet upload may have (per sheet of a workbook).
    static let spreadsheetMaxRows = 1_000_000

    /// The tables of a document, the one path for the job and `assay extract`: delimited text
    /// is one table and a workbook one per sheet holding values, confidence 1; anything else
    /// is detected on its pages.
    public static func tables(path: String, type: FileType, pages: [PageModel]) throws -> [ExtractedTable] {
        switch type {
        case .csv:
            return [TableExtraction.table(rows: try DelimitedText.rows(path: path, maxRows: spreadsheetMaxRows).rows)]
        case .xlsx:
            var limits = WorkbookLimits()
            limits.maxRowsPerSheet = spreadsheetMaxRows
            var tables: [ExtractedTable] = []
            try WorkbookReader(path: path, limits: limits).forEachSheet { sheet, rows in
                tables.append(TableExtraction.table(rows: rows, sheet: sheet.name, page: sheet.position))
            }
            return tables
        case .pdf, .png, .jpeg, .tiff:
            return TableExtraction.tables(pages)
        }
    }

    /// Finds the document's tables and stores each as a typed warehouse table.
    static func storeTables(path: String, type: FileType, pages: [PageModel], document: DocumentRecord, database: Database,
                            logger: Logger) throws -> Int {
        let tables: [ExtractedTable]
        do {
            tables = try self.tables(path: path, type: type, pages: pages)
        } catch let problem as DocumentProblem {
            try DocumentRepository(database).finish(id: document.id, error: problem.description)
            throw PermanentJobError(problem.description)
        }
        return try store(tables, document: document, database: database, logger: logger)
    }

    static func store(_ tables: [ExtractedTable], document: DocumentRecord, database: Database, logger: Logger) throws -> Int {
        let warehouse = WarehouseRepository(database)
        try warehouse.dropTables(document: document.id)
        var stored = 0
        var perPage: [Int: Int] = [:]
        var sheetNames: Set<String> = []
        let prefix = "doc_\(document.id.lower.prefix(8))"
        for table in tables {
            perPage[table.firstPage, default: 0] += 1
            // A workbook's tables are named after their sheets (`doc_1a2b3c4d_sales_2024`; a sheet
            // name cut to Excel's 31 characters keeps it within PostgreSQL's 63), others by page.
            let name = table.sheet.map { "\(prefix)_\(ValueParser.columnName(String($0.prefix(31)), taken: &sheetNames))" }
                ?? "\(prefix)_p\(table.firstPage)_t\(perPage[table.firstPage]!)"
            let cellsJSON = JSON.array(table.cells.map { row in
                .array(row.map { .array([.string($0.text), .double(round2($0.confidence))]) })
            })
            let bbox: JSON = ["x0": .double(round2(table.bbox.x0)), "y0": .double(round2(table.bbox.y0)),
                              "x1": .double(round2(table.bbox.x1)), "y1": .double(round2(table.bbox.y1))]
            do {
                try warehouse.storeExtractedTable(
                    id: UUID(), team: document.teamID, document: document.id, tableName: name,
                    pageFrom: table.firstPage, pageTo: table.lastPage,
                    bboxJSON: bbox.serializedText, columnsJSON: table.columnsJSON.serializedText, cellsJSON: cellsJSON.serializedText,
                    confidence: table.confidence, columns: table.columns, rows: table.values)
                stored += 1
            } catch let error as DataError {
                if case .unavailable = error { throw error }
                // One table the warehouse refuses must not lose the rest of the document.
                logger.warning("table not stored", metadata: [
                    "document.id": "\(document.id)", "table": "\(name)", "error": "\(String(reflecting: error))",
                ])
            }
        }
        return stored
    }


    static func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}
