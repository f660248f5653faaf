import Charts
import Dashboards
import Data
import Foundation
import JSONValues
import Query

/// An interpretation as a query spec (the `Query` module's JSON, checked and compiled like any
/// other), and a query result as an answer: a sentence, the flat list of answer values, the
/// table and, when the result has a dimension, a chart.
enum ChatQuery {
    /// Rows listed for a lookup at most.
    static let lookupLimit = 1000

    static func spec(_ reading: Interpretation, table: TableVocabulary) -> JSON {
        var members: [(String, JSON)] = []
        let filters = reading.conditions.map { filter($0, table: table) }
        if !filters.isEmpty { members.append(("filters", .array(filters))) }
        let selected = reading.select.map { table.columns[$0] }
        if let grouping = reading.grouping {
            var dimension: [(String, JSON)] = [("column", .string(table.columns[grouping.column].name)), ("as", "group")]
            if let bucket = grouping.bucket { dimension.append(("bucket", .string(bucket.rawValue))) }
            members.append(("dimensions", .array([.object(dimension)])))
            members.append(("measures", .array([measure(reading.aggregate, selected, grouped: true)])))
            if let descending = reading.descending {
                members.append(("order", [["by": "value", "direction": .string(descending ? "desc" : "asc")]]))
            }
            members.append(("limit", .int(Int64(reading.limit ?? 100))))
        } else if let aggregate = reading.aggregate {
            members.append(("measures", .array([measure(aggregate, aggregate == .count ? nil : selected, grouped: false)])))
        } else {
            // A lookup: the column asked for first, then the ones the conditions are on.
            var names: [String] = []
            if let selected { names.append(selected.name) } else { names = table.columns.map(\.name) }
            for condition in reading.conditions where !names.contains(table.columns[condition.column].name) {
                names.append(table.columns[condition.column].name)
            }
            members.append(("columns", .array(names.map { .string($0) })))
            if let descending = reading.descending, let selected {
                members.append(("order", [["by": .string(selected.name), "direction": .string(descending ? "desc" : "asc")]]))
            }
            members.append(("limit", .int(Int64(reading.limit ?? lookupLimit))))
        }
        return .object(members)
    }

    static func measure(_ aggregate: Interpretation.Aggregate?, _ column: TableVocabulary.Column?, grouped: Bool) -> JSON {
        var op = aggregate?.rawValue ?? "count"
        if grouped, aggregate == nil, let column, column.isNumber, !column.identifierLike { op = "sum" }
        guard op != "count", let column else { return ["op": "count", "as": "value"] }
        return ["op": .string(op), "column": .string(column.name), "as": "value"]
    }

    static func filter(_ condition: Interpretation.Condition, table: TableVocabulary) -> JSON {
        let column: JSON = .string(table.columns[condition.column].name)
        if let relative = condition.relative { return ["column": column, "op": .string(relative)] }
        switch condition.value {
        case .number(let number):
            return ["column": column, "op": .string(condition.op.rawValue), "value": jsonNumber(number)]
        case .date(let iso):
            return ["column": column, "op": .string(condition.op.rawValue), "value": .string(iso)]
        case .text(let spellings):
            if condition.op == .notEqual { return ["column": column, "op": "!=", "value": .string(spellings.first ?? "")] }
            if spellings.count == 1 { return ["column": column, "op": "=", "value": .string(spellings[0])] }
            return ["column": column, "op": "in", "values": .array(spellings.map { .string($0) })]
        }
    }

    static func jsonNumber(_ value: Double) -> JSON {
        value == value.rounded() && abs(value) < 1e15 ? .int(Int64(value)) : .double(value)
    }

    // MARK: Answers

    struct Answer {
        var text: String
        var values: [JSON]
        var columns: [JSON]
        var rows: [[JSON]]
        var chart: JSON?
    }

    /// What `result` answers to `reading`.
    static func answer(_ reading: Interpretation, result: QueryResult, table: TableVocabulary) -> Answer {
        let rows: [[JSON]] = if case .array(let items)? = try? JSON.parse(Array(result.rowsJSON.utf8)) {
            items.compactMap { if case .array(let row) = $0 { row } else { nil } }
        } else { [] }
        let columns: [JSON] = result.outputs.map { output in
            ["name": .string(output.name), "type": .string(output.type.rawValue), "role": .string(output.role.rawValue),
             "label": .string(output.label)]
        }
        // Each output's source column, for showing values as the source writes them.
        let sources: [TableVocabulary.Column?] = result.outputs.map { output in
            if output.role == .measure, reading.aggregate == .min || reading.aggregate == .max, let select = reading.select {
                return table.columns[select]
            }
            guard output.role != .measure else { return nil }
            return table.columns.first { $0.name == output.name }
                ?? reading.grouping.flatMap { $0.bucket == nil ? table.columns[$0.column] : nil }
        }
        func shown(_ value: JSON, _ index: Int) -> JSON {
            guard let column = sources[safe: index] ?? nil else { return value }
            return column.shown(value)
        }
        let conditions = describe(reading.conditions, table: table)
        let scope = conditions.isEmpty ? "" : " where \(conditions)"
        var answer = Answer(text: "", values: [], columns: columns, rows: rows, chart: nil)

        if reading.grouping != nil {
            let labels = rows.map { text(shown($0.first ?? .null, 0)) }
            answer.values = rows.map { shown($0.first ?? .null, 0) }
            let title = "\(result.outputs.last?.label ?? "Value") by \(result.outputs.first?.label ?? "group")"
            if rows.isEmpty {
                answer.text = "No rows match\(scope)."
            } else if reading.limit == 1, let row = rows.first {
                answer.text = "\(labels[0]) has the \(reading.descending == false ? "lowest" : "highest") \(result.outputs.last?.label.lowercased() ?? "value") (\(text(row.last ?? .null)))\(scope)."
            } else {
                let shownRows = zip(labels, rows).prefix(10).map { "\($0): \(text($1.last ?? .null))" }.joined(separator: "; ")
                answer.text = "\(title)\(scope): \(shownRows)\(rows.count > 10 ? "; …" : "")."
            }
            let kind = reading.grouping?.bucket != nil ? "line" : "bar"
            let data: JSON = ["columns": .array(columns), "rows": .array(rows.map { .array($0) })]
            let chart = WidgetChart.chart(widget: ["type": .string(kind), "title": .string(title)], data: data)
            answer.chart = ["type": .string(kind), "title": .string(title), "svg": .string(SVGRenderer.render(chart))]
            return answer
        }
        if reading.aggregate != nil {
            let value = shown(rows.first?.first ?? .null, 0)
            answer.values = value == .null ? [] : [value]
            let label = result.outputs.first?.label ?? "Value"
            if reading.aggregate == .countDistinct, let select = reading.select {
                answer.text = "There are \(text(value)) different values of \(table.columns[select].header)\(scope)."
            } else if reading.aggregate == .count {
                let count = text(value)
                answer.text = conditions.isEmpty ? "The table has \(count) rows." : "\(count) \(count == "1" ? "row matches" : "rows match")\(scope)."
            } else if value == .null {
                answer.text = "No rows match\(scope), so there is no \(label.lowercased())."
            } else {
                answer.text = "\(label) is \(text(value))\(scope)."
            }
            return answer
        }
        // A lookup: the first column's values of the matching rows.
        var values = rows.compactMap { row -> JSON? in
            guard let first = row.first, first != .null else { return nil }
            return shown(first, 0)
        }
        if values.count > 1, Set(values.map(\.serializedText)).count == 1 { values = [values[0]] }
        answer.values = values
        answer.rows = rows.map { row in row.enumerated().map { shown($1, $0) } }
        let label = result.outputs.first?.label ?? "Value"
        if rows.isEmpty {
            answer.text = "No rows match\(scope)."
        } else if reading.select == nil {
            answer.text = "\(rows.count) \(rows.count == 1 ? "row matches" : "rows match")\(scope)."
        } else if values.count == 1 {
            answer.text = "\(label): \(text(values[0]))\(scope)."
        } else {
            let list = values.prefix(10).map(text).joined(separator: "; ")
            answer.text = "\(label) for the \(rows.count) matching rows\(scope): \(list)\(values.count > 10 ? "; …" : "")."
        }
        return answer
    }

    /// "Country is Germany and Year > 2000".
    static func describe(_ conditions: [Interpretation.Condition], table: TableVocabulary) -> String {
        conditions.map { condition in
            let header = table.columns[condition.column].header
            if let relative = condition.relative { return "\(header) is in the \(relative.replacingOccurrences(of: "_", with: " "))" }
            let value: String = switch condition.value {
            case .number(let number): plain(number)
            case .date(let iso): iso
            case .text(let spellings): spellings.first ?? ""
            }
            switch condition.op {
            case .equal: return "\(header) is \(value)"
            case .notEqual: return "\(header) is not \(value)"
            default: return "\(header) \(condition.op.rawValue) \(value)"
            }
        }.joined(separator: " and ")
    }

    static func text(_ value: JSON) -> String {
        switch value {
        case .string(let s): s
        case .int(let n): plain(Double(n))
        case .double(let d): plain(d)
        case .bool(let b): b ? "yes" : "no"
        case .null: "nothing"
        default: value.serializedText
        }
    }
}

/// A number for a sentence (the charts' formatting: thousands grouped, no trailing zeros).
func plain(_ number: Double) -> String { ValueFormat.sentence(number) }

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
