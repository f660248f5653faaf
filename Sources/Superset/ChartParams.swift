import Foundation
import JSONValues

/// An Assay dashboard widget as a Superset chart: its viz type and its `params` (form data),
/// which Superset takes as a JSON *string*. Pure: no network.
public struct ChartParams: Sendable {
    public let vizType: String
    public let params: JSON

    /// Superset 6.1's viz type for an Assay widget type (legacy `dist_bar` and `line` are gone
    /// from 6.x; the ECharts plugins take their place).
    public static func vizType(forWidget type: String) -> String {
        switch type {
        case "bar": "echarts_timeseries_bar"
        case "line": "echarts_timeseries_line"
        case "area": "echarts_area"
        case "scatter": "echarts_timeseries_scatter"
        case "pie": "pie"
        case "kpi": "big_number_total"
        case "histogram": "histogram_v2"
        default: "table"
        }
    }

    static let timeGrains = ["day": "P1D", "week": "P1W", "month": "P1M", "quarter": "P3M", "year": "P1Y"]
    static let aggregates = ["count": "COUNT", "count_distinct": "COUNT_DISTINCT", "sum": "SUM", "avg": "AVG", "min": "MIN", "max": "MAX"]

    /// A widget (`{"type", "title", "query": {dimensions, measures, columns, limit}}`) over the
    /// dataset `datasetID`.
    public init(widget: JSON, datasetID: Int) {
        let type: String = if case .string(let text)? = widget["type"] { text } else { "table" }
        let query = widget["query"] ?? [:]
        vizType = ChartParams.vizType(forWidget: type)

        var dimensions: [(column: String, grain: String?)] = []
        if case .array(let items)? = query["dimensions"] {
            for item in items {
                switch item {
                case .string(let name): dimensions.append((name, nil))
                case .object:
                    if case .string(let name)? = item["column"] {
                        var grain: String?
                        if case .string(let bucket)? = item["bucket"] { grain = ChartParams.timeGrains[bucket] }
                        dimensions.append((name, grain))
                    }
                default: break
                }
            }
        }
        var metrics: [JSON] = []
        if case .array(let items)? = query["measures"] {
            for item in items { metrics.append(ChartParams.metric(item)) }
        }
        if metrics.isEmpty, type != "table" { metrics.append(ChartParams.metric(["op": "count"])) }
        var columns: [JSON] = []
        if case .array(let items)? = query["columns"] { columns = items.filter { if case .string = $0 { true } else { false } } }
        var limit: Int64 = 1000
        if case .int(let value)? = query["limit"], value > 0 { limit = min(value, 10_000) }

        var params: [(String, JSON)] = [("datasource", .string("\(datasetID)__table")), ("viz_type", .string(vizType))]
        let dimensionNames = dimensions.map { JSON.string($0.column) }
        switch vizType {
        case "big_number_total":
            params += [("metric", metrics[0]), ("subheader", widget["title"] ?? ""), ("y_axis_format", "SMART_NUMBER")]
        case "pie":
            params += [("metric", metrics[0]), ("groupby", .array(dimensionNames)), ("row_limit", .int(limit)),
                       ("show_labels", true), ("show_legend", true)]
        case "table":
            if metrics.isEmpty {
                params += [("query_mode", "raw"), ("all_columns", .array(columns)), ("row_limit", .int(limit))]
            } else {
                params += [("query_mode", "aggregate"), ("groupby", .array(dimensionNames)), ("metrics", .array(metrics)),
                           ("row_limit", .int(limit))]
            }
        case "histogram_v2":
            params += [("column", dimensionNames.first ?? .null), ("groupby", []), ("row_limit", .int(limit))]
        default: // the ECharts timeseries family: the first dimension on the x axis, further ones as series
            params += [("x_axis", dimensionNames.first ?? .null), ("metrics", .array(metrics)),
                       ("groupby", .array(Array(dimensionNames.dropFirst()))), ("row_limit", .int(limit)),
                       ("show_legend", true), ("rich_tooltip", true)]
            if let grain = dimensions.first?.grain { params.append(("time_grain_sqla", .string(grain))) }
        }
        params.append(("adhoc_filters", []))
        self.params = .object(params)
    }

    /// `params` as Superset stores it: a JSON string.
    public var paramsText: String { params.serializedText }

    /// An Assay measure (`{"op", "column"?, "as"?}`) as a Superset ad-hoc metric.
    static func metric(_ measure: JSON) -> JSON {
        let op: String = if case .string(let text)? = measure["op"] { text } else { "count" }
        let column: String? = if case .string(let text)? = measure["column"] { text } else { nil }
        let label: String = if case .string(let text)? = measure["as"] { text } else { column.map { "\(op)_\($0)" } ?? "count" }
        if let column, let aggregate = aggregates[op] {
            return .object([("expressionType", "SIMPLE"), ("column", ["column_name": .string(column)]),
                            ("aggregate", .string(aggregate)), ("label", .string(label)), ("hasCustomLabel", true)])
        }
        let quoted = column.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        let sql = switch (op, quoted) {
        case ("median", let quoted?): "percentile_cont(0.5) WITHIN GROUP (ORDER BY \(quoted))"
        default: "COUNT(*)"
        }
        return .object([("expressionType", "SQL"), ("sqlExpression", .string(sql)), ("label", .string(label)), ("hasCustomLabel", true)])
    }

    /// The dashboard's `position_json`: Assay's 12-column layout (`{"x","y","w","h"}`) as
    /// Superset's grid of rows, one chart per widget, rows in `y` order and charts in `x` order.
    public static func positionJSON(title: String, charts: [(chartID: Int, name: String, layout: JSON?)]) -> String {
        func number(_ layout: JSON?, _ key: String, _ fallback: Int) -> Int {
            if case .int(let value)? = layout?[key] { return Int(value) }
            return fallback
        }
        let placed = charts.enumerated().map { index, chart in
            (chart, y: number(chart.layout, "y", index * 4), x: number(chart.layout, "x", 0),
             w: max(1, min(12, number(chart.layout, "w", 12))), h: max(1, number(chart.layout, "h", 4)))
        }.sorted { ($0.y, $0.x) < ($1.y, $1.x) }
        var rows: [[(chart: (chartID: Int, name: String, layout: JSON?), w: Int, h: Int)]] = []
        var lastY: Int?
        var width = 0
        for item in placed {
            if rows.isEmpty || item.y != lastY || width + item.w > 12 {
                rows.append([])
                width = 0
            }
            rows[rows.count - 1].append((item.0, item.w, item.h))
            width += item.w
            lastY = item.y
        }
        var members: [(String, JSON)] = [("DASHBOARD_VERSION_KEY", "v2")]
        let rowIDs = rows.indices.map { "ROW-\($0 + 1)" }
        members.append(("ROOT_ID", ["type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]]))
        members.append(("GRID_ID", ["type": "GRID", "id": "GRID_ID", "children": .array(rowIDs.map(JSON.string)), "parents": ["ROOT_ID"]]))
        members.append(("HEADER_ID", ["id": "HEADER_ID", "type": "HEADER", "meta": ["text": .string(title)]]))
        for (rowIndex, row) in rows.enumerated() {
            let rowID = rowIDs[rowIndex]
            let chartIDs = row.map { "CHART-\($0.chart.chartID)" }
            members.append((rowID, ["type": "ROW", "id": .string(rowID), "children": .array(chartIDs.map(JSON.string)),
                                    "parents": ["ROOT_ID", "GRID_ID"], "meta": ["background": "BACKGROUND_TRANSPARENT"]]))
            for item in row {
                let id = "CHART-\(item.chart.chartID)"
                members.append((id, ["type": "CHART", "id": .string(id), "children": [], "parents": ["ROOT_ID", "GRID_ID", .string(rowID)],
                                     "meta": ["width": .int(Int64(item.w)), "height": .int(Int64(item.h * 12)),
                                              "chartId": .int(Int64(item.chart.chartID)), "sliceName": .string(item.chart.name)]]))
            }
        }
        return JSON.object(members).serializedText
    }
}
