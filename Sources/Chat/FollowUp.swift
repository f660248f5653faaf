import Data
import Foundation
import JSONValues

/// Follow-up questions ("and by month?", "what about Germany?", "only last year"): what the
/// previous turn understood, kept as column names, fills in what the new question leaves out.
enum FollowUp {
    static let openers = ["and", "what about", "how about", "same", "now", "only", "just", "also", "but", "then", "ok", "okay",
                          "by", "per", "for", "in", "excluding", "without"]

    /// Whether `question` leans on the previous one: it opens like a follow-up, or it is short
    /// and names no column of its own.
    static func leansOnPrevious(_ question: String, reading: Interpretation) -> Bool {
        let words = Words.tokens(question)
        let opening = words.prefix(2).joined(separator: " ")
        if openers.contains(where: { opening == $0 || opening.hasPrefix($0 + " ") }) { return true }
        return words.count <= 5 && !reading.selectNamed
    }

    static func merge(_ reading: Interpretation, previous: JSON, table: TableVocabulary, question: String) -> Interpretation {
        guard leansOnPrevious(question, reading: reading), let before = previous["understood"] else { return reading }
        func column(_ json: JSON?) -> Int? {
            guard case .string(let name)? = json else { return nil }
            return table.columns.firstIndex { $0.name == name }
        }
        var merged = reading
        if !reading.selectNamed, let select = column(before["column"]) {
            merged.select = select
            merged.selectNamed = true
            if !reading.aggregateStated, case .string(let name)? = before["aggregate"] {
                merged.aggregate = Interpretation.Aggregate(rawValue: name)
                merged.aggregateStated = merged.aggregate != nil
            }
        } else if !reading.aggregateStated, !reading.selectNamed, case .string(let name)? = before["aggregate"] {
            merged.aggregate = Interpretation.Aggregate(rawValue: name)
        }
        // Earlier conditions stay unless the new question constrains the same column.
        let constrained = Set(reading.conditions.map(\.column))
        if case .array(let kept)? = before["conditions"] {
            for item in kept {
                guard let index = column(item["column"]), !constrained.contains(index), let condition = condition(item, column: index)
                else { continue }
                merged.conditions.append(condition)
            }
        }
        if merged.grouping == nil, let group = before["group_by"], let index = column(group["column"]) {
            let bucket: WarehouseQuery.Bucket? = if case .string(let text)? = group["bucket"] { WarehouseQuery.Bucket(rawValue: text) } else { nil }
            merged.grouping = Interpretation.Grouping(column: index, bucket: bucket)
        }
        if merged.limit == nil, case .int(let limit)? = before["limit"] {
            merged.limit = Int(limit)
            if case .bool(let descending)? = before["descending"] { merged.descending = descending }
        }
        if merged.select != nil || merged.aggregate == .count || merged.grouping != nil || !merged.conditions.isEmpty {
            merged.problem = nil
        }
        merged.notes.append("read as a follow-up to the previous question")
        return merged
    }

    static func condition(_ item: JSON, column: Int) -> Interpretation.Condition? {
        guard case .string(let op)? = item["op"], let parsed = Interpretation.Operator(rawValue: op) else { return nil }
        let words: String = if case .string(let text)? = item["words"] { text } else { "" }
        var relative: String?
        if case .string(let text)? = item["relative"] { relative = text }
        let value: Interpretation.Value
        switch item["value"] {
        case .int(let n)?: value = .number(Double(n))
        case .double(let d)?: value = .number(d)
        case .string(let text)?:
            if case .string("date")? = item["kind"] { value = .date(text) } else { value = .text([text]) }
        case .array(let items)?: value = .text(items.compactMap { if case .string(let s) = $0 { s } else { nil } })
        default: return nil
        }
        return Interpretation.Condition(column: column, op: parsed, value: value, relative: relative, words: words)
    }

    /// What was understood, by column names and headers: shown to the user, kept for follow-ups.
    static func understood(_ reading: Interpretation, table: TableVocabulary) -> JSON {
        var members: [(String, JSON)] = []
        members.append(("column", reading.select.map { .string(table.columns[$0].name) } ?? .null))
        members.append(("column_header", reading.select.map { .string(table.columns[$0].header) } ?? .null))
        members.append(("aggregate", reading.aggregate.map { .string($0.rawValue) } ?? .null))
        members.append(("conditions", .array(reading.conditions.map { condition in
            var item: [(String, JSON)] = [("column", .string(table.columns[condition.column].name)),
                                          ("header", .string(table.columns[condition.column].header)),
                                          ("op", .string(condition.op.rawValue))]
            switch condition.value {
            case .number(let number): item.append(("value", ChatQuery.jsonNumber(number)))
            case .date(let iso): item.append(("value", .string(iso))); item.append(("kind", "date"))
            case .text(let spellings): item.append(("value", spellings.count == 1 ? .string(spellings[0]) : .array(spellings.map { .string($0) })))
            }
            if let relative = condition.relative { item.append(("relative", .string(relative))) }
            item.append(("words", .string(condition.words)))
            return .object(item)
        })))
        if let grouping = reading.grouping {
            members.append(("group_by", .object([("column", .string(table.columns[grouping.column].name)),
                                                 ("bucket", grouping.bucket.map { .string($0.rawValue) } ?? .null)])))
        }
        if let limit = reading.limit {
            members.append(("limit", .int(Int64(limit))))
            members.append(("descending", .bool(reading.descending ?? true)))
        }
        if !reading.notes.isEmpty { members.append(("notes", .array(reading.notes.map { .string($0) }))) }
        if let problem = reading.problem { members.append(("problem", .string(problem))) }
        return .object(members)
    }
}
