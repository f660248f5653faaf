/// A dashboard as an .xlsx workbook: an "About" sheet (title, sources, filters, export time,
/// the widgets and where each went), then one sheet per widget with its data typed (numbers
/// as numbers, dates as dates) and, for chart widgets, a native Excel chart drawn from those
/// cells, so it stays live when someone edits the numbers. A KPI's sheet is a small labelled
/// table; a table widget's sheet is its rows.
///
/// The workbook is not in constant-memory mode: charts need their data cached, and a
/// dashboard's data is small (each widget's query returns at most 10,000 rows).
enum DashboardWorkbook {
    /// Writes the workbook; returns the data rows written.
    static func write(_ export: DashboardExport, to path: String, tempDirectory: String) throws -> Int {
        var options = XLSXOptions()
        options.metadataSheet = false
        let book = try XLSXWorkbook(path: path, tempDirectory: tempDirectory, options: options, constantMemory: false)
        // The About sheet comes first and names each widget's sheet: the names the workbook
        // will hand out, since it names sheets the same way in the same order (a widget's at
        // most 10,000 rows always fit one sheet).
        var names = XLSXSheetNames()
        _ = names.next(for: aboutTitle)
        let sheets = export.widgets.map { names.next(for: $0.title) }
        let columns = [ExportColumn(name: "item", header: "Item", kind: .text), ExportColumn(name: "value", header: "Value", kind: .text)]
        try book.addTable(ExportTable(title: aboutTitle, columns: columns), rows: { each in
            try each(["Dashboard", export.record.title])
            for pair in export.metadata { try each([pair.label, pair.value]) }
            for (widget, sheet) in zip(export.widgets, sheets) { try each(["Widget: \(widget.title)", "\(widget.type.rawValue), sheet \(sheet)"]) }
        }, progress: nil)
        var rows = 0
        for widget in export.widgets {
            rows += try add(widget, to: book)
        }
        try book.close()
        return rows
    }

    static let aboutTitle = "About"

    /// One widget's sheet; returns its data rows.
    private static func add(_ widget: DashboardExport.Widget, to book: XLSXWorkbook) throws -> Int {
        guard let table = widget.table else {
            let columns = [ExportColumn(name: "error", header: "Not available", kind: .text)]
            try book.addTable(ExportTable(title: widget.title, columns: columns), rows: { try $0([widget.error]) }, progress: nil)
            return 0
        }
        if widget.type == .kpi {
            // One row per figure: its label and its value (typed as the first figure's kind).
            let columns = [ExportColumn(name: "figure", header: "Figure", kind: .text),
                           ExportColumn(name: "value", header: "Value", kind: table.columns[0].kind)]
            let first = table.rows.first ?? []
            try book.addTable(ExportTable(title: widget.title, columns: columns), rows: { each in
                for (index, column) in table.columns.enumerated() { try each([column.header, index < first.count ? first[index] : nil]) }
            }, progress: nil)
            return table.rows.count
        }
        let added = try book.addTableSheets(ExportTable(title: widget.title, columns: table.columns, rowCount: table.rows.count),
                                            rows: table.rowStream, progress: nil)
        if let plan = XLSXChartPlan.plan(for: widget.type, columns: table.columns, roles: table.roles), let first = added.sheets.first {
            try book.insertChart(plan, title: widget.title, sheet: first.sheet, name: first.name, rows: added.rows,
                                 column: table.columns.count + 1)
        }
        return added.rows
    }
}
