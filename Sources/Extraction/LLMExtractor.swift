import Documents
import Foundation
import Integrations
import JSONValues

/// Field extraction by an OpenAI-compatible chat-completions model.
///
/// The page text goes to the model with the fields to find and a JSON schema for the
/// answer; values are then normalised by type like the rule-based extractor's and
/// located on the page for their box. 429 and 5xx answers and transport failures are
/// retried with backoff (honouring a short `Retry-After`); anything else, or an answer
/// that does not fit the schema, throws `LLMError` so the caller can fall back.
struct LLMFieldExtractor: FieldExtracting {
    public let settings: LLMSettings
    /// Longest page text sent, in characters; longer documents are cut.
    var maxCharacters = 24_000
    public var sleep: @Sendable (Double) -> Void = { usleep(useconds_t($0 * 1_000_000)) }

    public func extract(pages: [PageModel], fields: [FieldSpec]) throws -> [ExtractedField] {
        let answer = try complete(request(pages: pages, fields: fields))
        guard case .object(let members)? = try? JSON.parse(Array(answer.utf8)),
              case .object(let values)? = members.first(where: { $0.0 == "fields" })?.1 else {
            throw LLMError("the model's answer is not the requested JSON object")
        }
        let byID = Dictionary(values, uniquingKeysWith: { first, _ in first })
        return fields.map { spec in
            let (raw, page) = LLMFieldExtractor.valueAndPage(byID[spec.id])
            guard let raw, !raw.isEmpty, let normal = FieldNormalizer.normalize(raw, as: spec.type) else {
                return .missing(spec)
            }
            let located = FieldNormalizer.locate(raw, in: pages, preferring: page)
            return ExtractedField(fieldID: spec.id, name: spec.name, type: spec.type, value: normal.value, raw: raw,
                                  currency: normal.currency, confidence: located == nil ? 0.7 : 0.9,
                                  page: located?.page ?? page, box: located?.box)
        }
    }

    static func valueAndPage(_ json: JSON?) -> (String?, Int?) {
        switch json {
        case .string(let text)?: return (text, nil)
        case .int(let number)?: return (String(number), nil)
        case .double(let number)?: return (String(number), nil)
        case .object(let members)?:
            let map = Dictionary(members, uniquingKeysWith: { first, _ in first })
            let value: String? = switch map["value"] {
            case .string(let text)?: text
            case .int(let number)?: String(number)
            case .double(let number)?: String(number)
            default: nil
            }
            let page: Int? = if case .int(let number)? = map["page"], number > 0, number < 100_000 { Int(number) } else { nil }
            return (value, page)
        default: return (nil, nil)
        }
    }

    public func request(pages: [PageModel], fields: [FieldSpec]) -> JSON {
        var text = ""
        for page in pages {
            text += "--- page \(page.number) ---\n\(page.text)\n"
            if text.count > maxCharacters { text = String(text.prefix(maxCharacters)); break }
        }
        let list = fields.map { spec in
            var line = "- \(spec.id) (\(spec.type.rawValue)): \(spec.name)"
            if let description = spec.description { line += " — \(description)" }
            if !spec.synonyms.isEmpty { line += " (also labelled: \(spec.synonyms.joined(separator: ", ")))" }
            return line
        }.joined(separator: "\n")
        let fieldSchema: JSON = [
            "type": "object",
            "properties": ["value": ["type": .array(["string", "null"])], "page": ["type": .array(["integer", "null"])]],
            "required": ["value", "page"], "additionalProperties": false,
        ]
        let schema: JSON = [
            "type": "object",
            "properties": ["fields": .object([
                ("type", "object"),
                ("properties", .object(fields.map { ($0.id, fieldSchema) })),
                ("required", .array(fields.map { .string($0.id) })),
                ("additionalProperties", false),
            ])],
            "required": ["fields"], "additionalProperties": false,
        ]
        let system = """
            You read documents and return field values as JSON. For each field give the value exactly as \
            printed in the document (or null when it is not there) and the page it is on. Amounts: the \
            number with its currency symbol or code as printed. Dates: as printed. Never invent values.
            """
        return [
            "model": .string(settings.model),
            "temperature": 0,
            "messages": [
                ["role": "system", "content": .string(system)],
                ["role": "user", "content": .string("Fields:\n\(list)\n\nDocument:\n\(text)")],
            ],
            "response_format": ["type": "json_schema", "json_schema": ["name": "fields", "strict": true, "schema": schema]],
        ]
    }

    public func complete(_ body: JSON) throws -> String {
        try ChatCompletions(settings: settings, sleep: sleep).complete(body)
    }
}
