import Data
import Documents
import Foundation
import JSONValues
import Jobs
import Logging

/// Field extraction: the `document.fields` job, and the parts the request path shares
/// with it (choosing the extractor, configuration snapshots, presenting values).
public enum FieldExtraction {
    public static func register(on registry: JobRegistry, uploadsDirectory: String, settings: ExtractionSettings) {
        registry.register(.documentFields) { context in try run(context, uploadsDirectory: uploadsDirectory, settings: settings) }
    }

    public struct Outcome {
        public let extractor: String
        public let fallbackReason: String?
        public let fields: [ExtractedField]
    }

    /// The LLM when one is configured, falling back to the rule-based extractor when it
    /// fails; the rule-based extractor otherwise (which may read a region of an OCR'd page
    /// again through `rereader`).
    public static func extract(pages: [PageModel], specs: [FieldSpec], settings: ExtractionSettings, logger: Logger,
                               rereader: PageRereader? = nil) throws -> Outcome {
        if let llm = settings.llm {
            do {
                return Outcome(extractor: "llm", fallbackReason: nil,
                               fields: try LLMFieldExtractor(settings: llm).extract(pages: pages, fields: specs))
            } catch {
                logger.warning("LLM extraction failed; using the rule-based extractor", metadata: ["error": "\(error)"])
                return Outcome(extractor: "rules", fallbackReason: "llm: \(error)",
                               fields: try RuleBasedExtractor(rereader: rereader).extract(pages: pages, fields: specs))
            }
        }
        return Outcome(extractor: "rules", fallbackReason: nil,
                       fields: try RuleBasedExtractor(rereader: rereader).extract(pages: pages, fields: specs))
    }

    public static func run(_ context: JobContext, uploadsDirectory: String, settings: ExtractionSettings) throws -> JSON {
        let id = try context.payloadID("result_id")
        let results = DocumentResultRepository(context.database)
        do {
            guard let result = try results.find(id: id, team: nil) else {
                throw PermanentJobError("the result was deleted before it was processed")
            }
            guard let document = try DocumentRepository(context.database).find(id: result.documentID, team: nil) else {
                throw PermanentJobError("the document was deleted before it was processed")
            }
            try results.markProcessing(id: id)
            let pages: [PageModel]
            switch document.status {
            case .done:
                pages = try DocumentExtraction.storedPages(document: document.id, database: context.database)
            case .failed:
                throw PermanentJobError(document.error ?? "the document could not be read")
            case .queued, .processing:
                guard document.jobID == nil || document.jobID == context.job.id else {
                    // Its own extraction job has not finished; this attempt is retried later.
                    throw DocumentBusy()
                }
                pages = try DocumentExtraction.process(document, database: context.database, uploadsDirectory: uploadsDirectory,
                                                       logger: context.logger) {
                    context.progress(done: $0, total: $1 + 1, note: "page \($0) of \($1)")
                }.pages
            }
            let rereader = DocumentExtraction.rereader(for: document, uploadsDirectory: uploadsDirectory, pages: pages)
            let outcome = try extract(pages: pages, specs: specs(fromConfig: result.config), settings: settings,
                                      logger: context.logger, rereader: rereader)
            try results.complete(id: id, extractor: outcome.extractor, fallbackReason: outcome.fallbackReason,
                                 fields: present(outcome.fields).serializedText)
            return ["result_id": .string(id.lower), "extractor": .string(outcome.extractor),
                    "found": .int(Int64(outcome.fields.filter { $0.value != nil }.count))]
        } catch {
            if error is PermanentJobError || context.job.attempts >= context.job.maxAttempts {
                try? results.fail(id: id, error: "\(error)")
            }
            throw error
        }
    }

    struct DocumentBusy: Error, CustomStringConvertible {
        public var description: String { "the document is still being read by its own job" }
    }

    // MARK: Configurations

    /// The snapshot of a configuration's fields stored with each result.
    public static func configJSON(_ fields: [FieldRow]) -> JSON {
        .array(fields.map { field in
            [
                "field_id": .string(field.fieldID), "name": .string(field.name), "field_type": .string(field.fieldType),
                "synonyms": .array(field.synonyms.map(JSON.string)), "description": JSON(field.description),
                "required": .bool(field.required),
            ]
        })
    }

    public static func specs(fromConfig text: String) throws -> [FieldSpec] {
        guard case .array(let items)? = try? JSON.parse(Array(text.utf8)) else {
            throw PermanentJobError("the stored configuration is damaged")
        }
        return try fieldRows(items).map(spec)
    }

    public static func fieldRows(_ items: [JSON]) throws -> [FieldRow] {
        try items.map { item in
            var reader = FieldReader(item)
            let row = FieldRow(
                fieldID: reader.string("field_id") ?? "", name: reader.string("name") ?? "",
                fieldType: reader.string("field_type") ?? "text",
                synonyms: (reader.array("synonyms", required: false) ?? []).compactMap { if case .string(let s) = $0 { s } else { nil } },
                description: reader.string("description", required: false), required: reader.bool("required", required: false) ?? false)
            try reader.finish()
            return row
        }
    }

    public static func spec(_ row: FieldRow) -> FieldSpec {
        FieldSpec(id: row.fieldID, name: row.name, type: FieldType(rawValue: row.fieldType) ?? .text,
                  synonyms: row.synonyms, description: row.description)
    }

    // MARK: Presenting

    public static func present(_ fields: [ExtractedField]) -> JSON {
        .array(fields.map { field in
            [
                "field_id": .string(field.fieldID), "name": .string(field.name), "field_type": .string(field.type.rawValue),
                "value": JSON(field.value), "raw": JSON(field.raw), "currency": JSON(field.currency),
                "confidence": .double((field.confidence * 1000).rounded() / 1000), "page": JSON(field.page),
                "box": field.box.map { box in
                    ["x0": .double(round2(box.x0)), "y0": .double(round2(box.y0)),
                     "x1": .double(round2(box.x1)), "y1": .double(round2(box.y1))]
                } ?? .null,
            ]
        })
    }

    static func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }

}
