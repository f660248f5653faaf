import Charts
import Foundation
import JSONValues

/// A widget's data (`Dashboards.data`) as a chart: the first dimension gives the labels,
/// measures give the series; a KPI takes the first value (or, over a dimension, the last with
/// its change against the one before and a sparkline); a table shows the rows as text.
public enum WidgetChart {
    public static func chart(widget: JSON, data: JSON) -> ChartData {
        let type = WidgetType(rawValue: stringValue(widget["type"]) ?? "") ?? .table
        let title = stringValue(widget["title"]) ?? ""
        let columns: [JSON] = if case .array(let items)? = data["columns"] { items } else { [] }
        let rows: [[JSON]] = if case .array(let items)? = data["rows"] {
            items.compactMap { if case .array(let row) = $0 { row } else { nil } }
        } else { [] }
        let roles = columns.map { stringValue($0["role"]) ?? "" }
        let types = columns.map { stringValue($0["type"]) ?? "" }
        let labels = columns.map { stringValue($0["label"]) ?? stringValue($0["name"]) ?? "" }
        let dimension = roles.firstIndex(of: "dimension")
        let measures = roles.indices.filter { roles[$0] == "measure" }
        let valueFormat: ChartData.Format = measures.first.map { labels[$0].lowercased().contains("%") ? .percent : .number } ?? .number

        switch type {
        case .kpi:
            guard let measure = measures.first else { return ChartData(kind: .kpi, title: title, valueFormat: valueFormat) }
            let series = rows.map { $0[safeIndex: measure].flatMap(number) }
            // Over a dimension (a date bucketed by month, say): the latest period's value, its
            // change against the period before, and every period as a sparkline.
            if dimension != nil, rows.count > 1 {
                return ChartData(kind: .kpi, title: title, series: [.init(name: title, values: [series.last ?? nil])],
                                 valueFormat: valueFormat, previous: series[series.count - 2], sparkline: series.compactMap { $0 })
            }
            return ChartData(kind: .kpi, title: title, series: [.init(name: title, values: [series.first ?? nil])], valueFormat: valueFormat)
        case .table:
            return ChartData(kind: .table, title: title, headers: labels,
                             rows: rows.map { $0.map { cell in text(cell) } })
        case .scatter:
            let numbers = types.indices.filter { types[$0] == "number" }
            guard numbers.count >= 2 else { return ChartData(kind: .scatter, title: title) }
            return ChartData(kind: .scatter, title: title, series: [.init(name: labels[numbers[1]], values: rows.map { $0[safeIndex: numbers[1]].flatMap(number) })],
                             xValues: rows.compactMap { $0[safeIndex: numbers[0]].flatMap(number) })
        default:
            let kind: ChartData.Kind = switch type {
            case .line: .line
            case .area: .area
            case .pie: .pie
            case .histogram: .histogram
            default: .bar
            }
            let labelIndex = dimension ?? 0
            return ChartData(
                kind: kind, title: title, labels: rows.map { text($0[safeIndex: labelIndex] ?? .null) },
                series: measures.map { index in .init(name: labels[index], values: rows.map { $0[safeIndex: index].flatMap(number) }) },
                valueFormat: valueFormat, labelFormat: types[safeIndex: labelIndex] == "date" ? .date : .text)
        }
    }

    static func stringValue(_ json: JSON?) -> String? {
        if case .string(let text)? = json { text } else { nil }
    }

    static func number(_ json: JSON) -> Double? {
        switch json {
        case .int(let n): Double(n)
        case .double(let d): d
        case .string(let s): Double(s)
        default: nil
        }
    }

    static func text(_ json: JSON) -> String {
        switch json {
        case .string(let s): s
        case .int(let n): String(n)
        case .double(let d): d.rounded() == d && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): b ? "true" : "false"
        case .null: ""
        default: json.serializedText
        }
    }
}

extension Array {
    subscript(safeIndex index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
