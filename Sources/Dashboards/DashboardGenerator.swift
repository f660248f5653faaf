import Data
import Foundation
import JSONValues
import Query

/// Chooses a dashboard's widgets from the profiles of its tables, as an analyst would start:
/// KPIs (the row count, the total and average of the main amount, the total of the next), a
/// time series when a date and a measure exist, bars of a measure by a low-cardinality
/// category, the spread of the main amount as a histogram, and the rows as a table. Titles
/// are plain words made of the columns' headers ("Total Amount by month").
public enum DashboardGenerator {
    public static let defaultMaxWidgets = 8
    /// Tables read from a document with less confidence than this carry a note on each widget.
    public static let confidenceNote = 0.8

    /// A table with its profile (`TableProfiler`).
    public struct Input {
        public let table: WarehouseTableRef
        public let profile: JSON
        public init(table: WarehouseTableRef, profile: JSON) {
            self.table = table
            self.profile = profile
        }
    }

    struct Column {
        let name: String
        let header: String
        let role: String
        let type: String
        let distinct: Int64
        let min: String?
        let max: String?

        init?(_ json: JSON) {
            guard case .string(let name)? = json["name"] else { return nil }
            self.name = name
            header = if case .string(let text)? = json["header"] { text } else { name }
            role = if case .string(let text)? = json["role"] { text } else { "free_text" }
            type = if case .string(let text)? = json["type"] { text } else { "text" }
            distinct = if case .int(let n)? = json["distinct_estimate"] { n } else { 0 }
            min = if case .string(let text)? = json["min"] { text } else { nil }
            max = if case .string(let text)? = json["max"] { text } else { nil }
        }
    }

    /// The widgets (stored form, ids `w1`…), at most `maxWidgets`, laid out in 12 columns.
    public static func widgets(for inputs: [Input], maxWidgets: Int = defaultMaxWidgets) -> [JSON] {
        // The biggest table leads; the others add their rows as tables.
        let ordered = inputs.sorted { $0.table.rowCount > $1.table.rowCount }
        guard let main = ordered.first else { return [] }
        var widgets: [(type: WidgetType, title: String, table: WarehouseTableRef, query: JSON)] = []
        let columns: [Column] = if case .array(let items)? = main.profile["columns"] { items.compactMap(Column.init) } else { [] }
        let amounts = columns.filter { $0.role == "currency_amount" } + columns.filter { $0.role == "measure" }
        let date = columns.first { $0.role == "date" && $0.min != nil }
        let category = columns.filter { $0.role == "category" && (2...20).contains($0.distinct) }
            .sorted { ($0.type == "text" ? 0 : 1, $0.distinct) < ($1.type == "text" ? 0 : 1, $1.distinct) }.first

        widgets.append((.kpi, "Number of rows", main.table, ["measures": [["op": "count"]]]))
        if let first = amounts.first {
            widgets.append((.kpi, "Total \(first.header)", main.table, ["measures": [["op": "sum", "column": .string(first.name)]]]))
            widgets.append((.kpi, "Average \(first.header)", main.table, ["measures": [["op": "avg", "column": .string(first.name)]]]))
        }
        if amounts.count > 1 {
            let second = amounts[1]
            widgets.append((.kpi, "Total \(second.header)", main.table, ["measures": [["op": "sum", "column": .string(second.name)]]]))
        }
        let measure: JSON = amounts.first.map { ["op": "sum", "column": .string($0.name)] } ?? ["op": "count"]
        let measureWords = amounts.first.map { "Total \($0.header)" } ?? "Number of rows"
        if let date {
            let bucket = bucket(from: date.min, to: date.max)
            widgets.append((.line, "\(measureWords) by \(bucket)", main.table,
                            ["dimensions": [["column": .string(date.name), "bucket": .string(bucket)]], "measures": [measure]]))
        }
        if let category {
            widgets.append((.bar, "\(measureWords) by \(category.header)", main.table,
                            ["dimensions": [.string(category.name)], "measures": [measure], "limit": 10]))
        }
        if let first = amounts.first {
            widgets.append((.histogram, "Distribution of \(first.header)", main.table,
                            ["dimensions": [["column": .string(first.name), "bins": 10]], "measures": [["op": "count"]]]))
        }
        for input in ordered {
            let names: [JSON] = if case .array(let items)? = input.profile["columns"] {
                items.compactMap(Column.init).prefix(8).map { .string($0.name) }
            } else { [] }
            widgets.append((.table, label(of: input.table), input.table, ["columns": .array(names), "limit": 100]))
        }

        // Lay out: KPIs three columns wide in the first row, charts half the width, tables whole.
        var laidOut: [JSON] = []
        var x = 0, y = 0, rowHeight = 0
        for (index, widget) in widgets.prefix(max(1, min(maxWidgets, Dashboards.maxWidgets))).enumerated() {
            let (w, h) = switch widget.type {
            case .kpi: (3, 2)
            case .table: (12, 6)
            default: (6, 4)
            }
            if x + w > 12 {
                x = 0
                y += rowHeight
                rowHeight = 0
            }
            var members: [(String, JSON)] = [
                ("id", .string("w\(index + 1)")), ("type", .string(widget.type.rawValue)), ("title", .string(widget.title)),
                ("table", .string(widget.table.id.lower)), ("query", widget.query),
                ("layout", ["x": .int(Int64(x)), "y": .int(Int64(y)), "w": .int(Int64(w)), "h": .int(Int64(h))]),
            ]
            if let confidence = widget.table.confidence, confidence < confidenceNote {
                members.append(("note", .string("Read from the document with \(Int((confidence * 100).rounded()))% confidence: check these values against it.")))
            }
            laidOut.append(.object(members))
            x += w
            rowHeight = max(rowHeight, h)
        }
        return laidOut
    }

    /// A dashboard title for tables: the document's or connection's name.
    public static func title(for inputs: [Input]) -> String {
        let names = Array(Set(inputs.compactMap(\.table.sourceName))).sorted()
        return names.isEmpty ? "Dashboard" : names.prefix(3).joined(separator: ", ")
    }

    /// A table's name for readers: its source and where in it.
    static func label(of table: WarehouseTableRef) -> String {
        switch table.source {
        case .document:
            let pages = table.pageFrom.map { from in table.pageTo.map { $0 == from ? "page \(from)" : "pages \(from)–\($0)" } ?? "page \(from)" }
            return [table.sourceName, pages].compactMap { $0 }.joined(separator: ", ")
        case .connection:
            return table.sourceTable ?? table.tableName
        }
    }

    /// Days for a few weeks of dates, months for a few years, years beyond.
    static func bucket(from min: String?, to max: String?) -> String {
        guard let min, let max, let start = day(min), let end = day(max) else { return "month" }
        let days = end.timeIntervalSince(start) / 86_400
        return days <= 62 ? "day" : days <= 366 * 3 ? "month" : "year"
    }

    static func day(_ text: String) -> Date? {
        let parts = text.prefix(10).split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
    }
}
