import CXlsxWriter
import Dashboards

/// Which native Excel chart a dashboard widget's data sheet gets, and which of its columns
/// feed it — the same choice `WidgetChart` makes for the SVG: the first dimension gives the
/// categories, the measures give the series (a pie takes the first), a scatter plots the
/// second number against the first. KPIs and tables have no chart: their sheet is the data.
struct XLSXChartPlan: Equatable {
    enum Kind: Equatable {
        /// Vertical bars (Excel calls horizontal ones "bar"); `gapless` for a histogram.
        case column(gapless: Bool)
        case line, area, pie, scatter
    }

    let kind: Kind
    /// The column of category labels (of x values for a scatter), 0-based.
    let categories: Int
    /// The columns of each series' values.
    let values: [Int]

    static func plan(for type: WidgetType, columns: [ExportColumn], roles: [String]) -> XLSXChartPlan? {
        let numeric = columns.indices.filter { columns[$0].kind.isNumeric }
        if type == .scatter {
            return numeric.count >= 2 ? XLSXChartPlan(kind: .scatter, categories: numeric[0], values: [numeric[1]]) : nil
        }
        let measures = numeric.filter { roles.indices.contains($0) && roles[$0] == "measure" }
        guard !measures.isEmpty else { return nil }
        let categories = roles.firstIndex(of: "dimension") ?? 0
        let kind: Kind
        switch type {
        case .kpi, .table, .scatter: return nil
        case .bar: kind = .column(gapless: false)
        case .histogram: kind = .column(gapless: true)
        case .line: kind = .line
        case .area: kind = .area
        case .pie: return XLSXChartPlan(kind: .pie, categories: categories, values: [measures[0]])
        }
        return XLSXChartPlan(kind: kind, categories: categories, values: measures)
    }

    var libraryType: lxw_chart_type {
        switch kind {
        case .column: LXW_CHART_COLUMN
        case .line: LXW_CHART_LINE
        case .area: LXW_CHART_AREA
        case .pie: LXW_CHART_PIE
        case .scatter: LXW_CHART_SCATTER
        }
    }
}

extension XLSXWorkbook {
    /// Adds a native chart of `plan` over data rows 1…`rows` of the sheet `name` (row 0 is
    /// the header, which names each series) and places it beside the data, at `column`.
    func insertChart(_ plan: XLSXChartPlan, title: String, sheet: XLSXCells.Sheet, name: String, rows: Int,
                     column: Int) throws {
        guard let workbook else { throw ExportError("xlsx: the workbook is already closed") }
        guard rows > 0 else { return }
        guard let chart = workbook_add_chart(workbook, UInt8(plan.libraryType.rawValue)) else {
            throw ExportError("xlsx: could not add a chart for \"\(title)\"")
        }
        let last = lxw_row_t(rows)
        for value in plan.values {
            guard let series = chart_add_series(chart, nil, nil) else { throw ExportError("xlsx: could not add a series to \"\(title)\"") }
            chart_series_set_categories(series, name, 1, lxw_col_t(plan.categories), last, lxw_col_t(plan.categories))
            chart_series_set_values(series, name, 1, lxw_col_t(value), last, lxw_col_t(value))
            chart_series_set_name_range(series, name, 0, lxw_col_t(value))
        }
        // A title starting with "=" would be read as a reference to a cell.
        chart_title_set_name(chart, title.hasPrefix("=") ? " " + title : title)
        if plan.values.count == 1, plan.kind != .pie { chart_legend_set_position(chart, UInt8(LXW_CHART_LEGEND_NONE.rawValue)) }
        if plan.kind == .column(gapless: true) { chart_set_series_gap(chart, 0) }
        try XLSXWorkbook.check(worksheet_insert_chart(sheet, 1, lxw_col_t(column), chart), "placing the chart of \"\(title)\"")
    }
}
