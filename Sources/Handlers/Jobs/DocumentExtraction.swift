import Data
import Documents
import Foundation

/// The `document.extract` job: reads every page into the page model and stores it.
///
/// Text PDFs are read through poppler with word boxes; pages without a usable text
/// layer are rendered at 300 dpi and OCR'd with tesseract, and so are images.
enum DocumentExtraction {
    static let kind = "document.extract"

    static func register(on registry: JobRegistry, uploadsDirectory: String) {
        registry.register(kind) { context in try run(context, uploadsDirectory: uploadsDirectory) }
    }

    static func run(_ context: JobContext, uploadsDirectory: String) throws -> JSON {
        var payload = FieldReader(context.payload)
        guard let idText = payload.string("document_id"), let id = UUID(uuidString: idText) else {
            throw PermanentJobError("the job has no document_id")
        }
        let documents = DocumentRepository(context.database)
        guard let document = try documents.find(id: id, team: nil) else {
            throw PermanentJobError("the document was deleted before it was processed")
        }
        try documents.markProcessing(id: id)
        let path = "\(uploadsDirectory)/\(document.sha256)"
        var counts: [String: Int] = ["text": 0, "ocr": 0, "none": 0]
        do {
            if document.contentType == FileType.pdf.contentType {
                let pdf = try PDFDocument(path: path)
                for index in 0..<pdf.pageCount {
                    var page = try pdf.page(index)
                    if page.source == .none { page = try pdf.ocrPage(index, engine: try OCREngine.forThisProcess()) }
                    try save(page, document: id, in: documents)
                    counts[page.source.rawValue, default: 0] += 1
                    context.progress(done: index + 1, total: pdf.pageCount, note: "page \(index + 1) of \(pdf.pageCount)")
                }
            } else {
                let page = try OCREngine.forThisProcess().recognize(imageAt: path)
                try save(page, document: id, in: documents)
                counts[page.source.rawValue, default: 0] += 1
                context.progress(done: 1, total: 1, note: "image read")
            }
        } catch let problem as DocumentProblem {
            try documents.finish(id: id, error: problem.description)
            throw PermanentJobError(problem.description)
        }
        try documents.finish(id: id, error: nil)
        return [
            "document_id": .string(id.lower),
            "pages": .int(Int64(document.pageCount)),
            "pages_by_source": .object(counts.sorted { $0.key < $1.key }.map { ($0.key, .int(Int64($0.value))) }),
        ]
    }

    static func save(_ page: PageModel, document: UUID, in documents: DocumentRepository) throws {
        let words = JSON.array(page.words.map { word in
            .array([.string(word.text), .double(round2(word.x0)), .double(round2(word.y0)), .double(round2(word.x1)),
                    .double(round2(word.y1)), .double(round2(word.confidence))])
        })
        try documents.savePage(document: document, page: page.number, width: page.width, height: page.height,
                               source: page.source.rawValue, text: page.text,
                               wordsJSON: String(decoding: words.serialized(), as: UTF8.self),
                               wordCount: page.words.count, confidence: page.meanConfidence)
    }

    static func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }
}
