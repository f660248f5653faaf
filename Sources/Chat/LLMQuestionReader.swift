import Data
import Foundation
import Integrations
import JSONValues
import Query

/// Questions read by an OpenAI-compatible model: it is shown the tables' columns (with a few
/// of their values) and answers a query spec, constrained by a JSON schema. The spec is
/// checked and run like any other; anything wrong (the model unreachable or slow, a 429
/// after retries, an answer that is not the schema, a spec the query layer refuses) throws,
/// and the caller falls back to the `QuestionParser`.
struct LLMQuestionReader {
    /// Chat waits less than field extraction: a person is waiting.
    static let maxSeconds = 10.0
    static let sampleValues = 5

    let settings: LLMSettings

    func answer(_ question: String, tables: [WarehouseTableRef], vocabularies: [TableVocabulary], previous: JSON?,
                db: Database, team: UUID, today: Date) throws -> [(String, JSON)] {
        var bounded = settings
        bounded.timeout = min(settings.timeout, LLMQuestionReader.maxSeconds)
        bounded.maxRetries = min(settings.maxRetries, 1)
        let content = try ChatCompletions(settings: bounded).complete(request(question, tables: tables, vocabularies: vocabularies,
                                                                              previous: previous, today: today))
        guard let reply = try? JSON.parse(Array(content.utf8)), case .object = reply else {
            throw LLMError("the model's answer is not the requested JSON object")
        }
        if case .bool(false)? = reply["answerable"] {
            throw LLMError("the model could not answer: \(LLMQuestionReader.string(reply["explanation"]) ?? "no reason given")")
        }
        let name = LLMQuestionReader.string(reply["table"]) ?? tables[0].tableName
        guard let index = tables.firstIndex(where: { $0.tableName == name }) else { throw LLMError("the model named no table of these (\(name))") }
        guard let raw = reply["spec"], case .object = raw else { throw LLMError("the model's answer has no spec") }
        let spec = LLMQuestionReader.withoutNulls(raw)
        let result: QueryResult
        do {
            result = try QueryRunner(db).run(spec, on: tables[index], team: team, today: today)
        } catch let failure as ValidationFailure {
            throw LLMError("the model's spec is not valid: \(failure.fields.map { "\($0.0) \($0.1)" }.joined(separator: "; "))")
        }
        let vocabulary = vocabularies[index]
        let reading = LLMQuestionReader.reading(of: spec, table: vocabulary)
        let answer = ChatQuery.answer(reading, result: result, table: vocabulary)
        var understood = FollowUp.understood(reading, table: vocabulary)
        if let explanation = LLMQuestionReader.string(reply["explanation"]), case .object(var members) = understood {
            members.append(("explanation", .string(explanation)))
            understood = .object(members)
        }
        return [("method", "llm"), ("table", ["id": .string(tables[index].id.lower), "name": .string(tables[index].tableName)]),
                ("understood", understood)]
            + ChatService.members(answer: answer, spec: spec, result: result, confidence: 0.8)
    }

    func request(_ question: String, tables: [WarehouseTableRef], vocabularies: [TableVocabulary], previous: JSON?, today: Date) -> JSON {
        var described = ""
        for (table, vocabulary) in zip(tables, vocabularies) {
            described += "Table \(table.tableName) (\(table.rowCount) rows):\n"
            for column in vocabulary.columns {
                let samples = LLMQuestionReader.samples(column, vocabulary: vocabulary)
                described += "- \(column.name) (\(column.type.rawValue)) header \"\(column.header)\""
                if !samples.isEmpty { described += ", e.g. \(samples.joined(separator: " | "))" }
                described += "\n"
            }
        }
        if let previous, case .string(let asked)? = previous["question"] {
            described += "\nThe previous question was: \(asked)\nIts spec: \(previous["query"]?.serializedText ?? "none")\n"
        }
        let nullable = { (type: String) -> JSON in ["type": .array([.string(type), "null"])] }
        let filter: JSON = [
            "type": "object",
            "properties": ["column": ["type": "string"], "op": ["type": "string", "enum": .array(QuerySpec.operatorNames.map { .string($0) })],
                           "value": ["type": .array(["string", "number", "null"])],
                           "values": ["type": .array(["array", "null"]), "items": ["type": .array(["string", "number"])]]],
            "required": ["column", "op", "value", "values"], "additionalProperties": false,
        ]
        let spec: JSON = [
            "type": "object",
            "properties": [
                "columns": ["type": .array(["array", "null"]), "items": ["type": "string"]],
                "measures": ["type": .array(["array", "null"]), "items": [
                    "type": "object",
                    "properties": ["op": ["type": "string", "enum": .array(WarehouseQuery.Aggregate.allCases.map { .string($0.rawValue) })],
                                   "column": nullable("string")],
                    "required": ["op", "column"], "additionalProperties": false]],
                "dimensions": ["type": .array(["array", "null"]), "items": [
                    "type": "object",
                    "properties": ["column": ["type": "string"],
                                   "bucket": ["type": .array(["string", "null"]), "enum": .array(WarehouseQuery.Bucket.allCases.map { .string($0.rawValue) } + [.null])]],
                    "required": ["column", "bucket"], "additionalProperties": false]],
                "filters": ["type": .array(["array", "null"]), "items": filter],
                "order": ["type": .array(["array", "null"]), "items": [
                    "type": "object", "properties": ["by": ["type": "string"], "direction": ["type": "string", "enum": ["asc", "desc"]]],
                    "required": ["by", "direction"], "additionalProperties": false]],
                "limit": nullable("integer"),
            ],
            "required": ["columns", "measures", "dimensions", "filters", "order", "limit"], "additionalProperties": false,
        ]
        let schema: JSON = [
            "type": "object",
            "properties": ["answerable": ["type": "boolean"], "table": ["type": "string"], "spec": spec, "explanation": ["type": "string"]],
            "required": ["answerable", "table", "spec", "explanation"], "additionalProperties": false,
        ]
        let system = """
            You turn a question about a table into a query spec (JSON), never SQL. A spec lists rows (columns + \
            filters) or aggregates (measures with op count, count_distinct, sum, avg, min, max or median over a \
            column; dimensions group by a column, dates by day/week/month/quarter/year). Measures are named \
            <op>_<column> (count alone: count) and order.by uses those names. Filter ops: =, !=, <, <=, >, >=, in \
            (values), between (two values), contains, is_null, is_not_null, or a relative date range (last_30_days, \
            this_year, …). Use column names exactly as listed and values exactly as stored. Today is \
            \(Reading.isoDate(today)). If the tables cannot answer the question, set answerable to false and say why.
            """
        return [
            "model": .string(settings.model),
            "temperature": 0,
            "messages": [
                ["role": "system", "content": .string(system)],
                ["role": "user", "content": .string("\(described)\nQuestion: \(question)")],
            ],
            "response_format": ["type": "json_schema", "json_schema": ["name": "query", "strict": true, "schema": schema]],
        ]
    }

    static func samples(_ column: TableVocabulary.Column, vocabulary: TableVocabulary) -> [String] {
        if column.isNumber, let low = column.low, let high = column.high { return ["\(plain(low))…\(plain(high))"] }
        if column.isDate, let first = column.dates.min(), let last = column.dates.max() { return ["\(first)…\(last)"] }
        guard let index = vocabulary.columns.firstIndex(where: { $0.name == column.name }) else { return [] }
        return Array(vocabulary.values.values.compactMap { $0[index]?.first }.sorted().prefix(sampleValues))
    }

    static func string(_ json: JSON?) -> String? {
        if case .string(let text)? = json { text } else { nil }
    }

    /// The spec without the members the schema made null (the query layer wants them absent).
    static func withoutNulls(_ json: JSON) -> JSON {
        switch json {
        case .object(let members): .object(members.filter { $0.1 != .null }.map { ($0.0, withoutNulls($0.1)) })
        case .array(let items): .array(items.map(withoutNulls))
        default: json
        }
    }

    /// A spec read back as an interpretation, for the answer's sentence and for follow-ups.
    static func reading(of spec: JSON, table: TableVocabulary) -> Interpretation {
        func index(_ json: JSON?) -> Int? {
            guard let name = string(json) else { return nil }
            return table.columns.firstIndex { $0.name == name }
        }
        var reading = Interpretation()
        if case .array(let dimensions)? = spec["dimensions"], let first = dimensions.first, let column = index(first["column"]) {
            reading.grouping = Interpretation.Grouping(column: column, bucket: string(first["bucket"]).flatMap(WarehouseQuery.Bucket.init))
        }
        if case .array(let measures)? = spec["measures"], let first = measures.first {
            reading.aggregate = string(first["op"]).flatMap(Interpretation.Aggregate.init) ?? .count
            reading.select = index(first["column"])
        } else if case .array(let columns)? = spec["columns"], let first = columns.first {
            reading.select = index(first)
        }
        reading.selectNamed = reading.select != nil
        reading.aggregateStated = reading.aggregate != nil
        if case .array(let filters)? = spec["filters"] {
            for filter in filters {
                guard let column = index(filter["column"]), let op = string(filter["op"]) else { continue }
                if QuerySpec.relativeRanges.contains(op) {
                    reading.conditions.append(.init(column: column, op: .equal, value: .text([]), relative: op, words: ""))
                    continue
                }
                guard let parsed = Interpretation.Operator(rawValue: op) else { continue }
                let value: Interpretation.Value
                switch filter["value"] {
                case .int(let n)?: value = .number(Double(n))
                case .double(let d)?: value = .number(d)
                case .string(let text)?: value = table.columns[column].isDate ? .date(text) : .text([text])
                default: continue
                }
                reading.conditions.append(.init(column: column, op: parsed, value: value, words: ""))
            }
        }
        if case .int(let limit)? = spec["limit"] { reading.limit = Int(limit) }
        if case .array(let order)? = spec["order"], let first = order.first { reading.descending = string(first["direction"]) == "desc" }
        return reading
    }
}
