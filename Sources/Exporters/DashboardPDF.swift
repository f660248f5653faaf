/// A dashboard as a PDF report: the title and a header (sources, filters, export time), the
/// widgets in their grid — charts and KPI cards drawn from their SVG as vectors, band by band
/// so no widget is cut by a page break — then, with `includeData`, each widget's data as a
/// table whose header repeats on every page it runs to.
enum DashboardPDF {
    /// Writes the report; returns the data rows written. It is drawn twice, first only to
    /// count its pages for the "Page N of M" footers.
    static func write(_ export: DashboardExport, options: PDFOptions, includeData: Bool, to path: String) throws -> Int {
        let pages = try draw(export, options: options, includeData: includeData, to: "/dev/null", totalPages: nil).pages
        return try draw(export, options: options, includeData: includeData, to: path, totalPages: pages).rows
    }

    private static func draw(_ export: DashboardExport, options: PDFOptions, includeData: Bool, to path: String,
                             totalPages: Int?) throws -> (rows: Int, pages: Int) {
        let report = try PDFReport(path: path, options: options, totalPages: totalPages)
        report.title(export.record.title)
        report.keyValues(export.metadata)
        // A dashboard is wide: its charts go on landscape pages unless portrait is asked for.
        let page = PDFPage(options.pageSize, landscape: options.orientation != .portrait)
        let layout = DashboardLayout(export.widgets.map(\.place), width: page.contentWidth, maxHeight: page.contentHeight)
        for band in layout.bands {
            try report.band(height: band.height, on: page,
                            figures: band.cells.map { (export.figure($0.widget, box: $0.box), $0.box) })
        }
        var rows = 0
        if includeData {
            for widget in export.widgets {
                report.heading("Data: \(widget.title)")
                guard let table = widget.table else {
                    report.keyValues([("Not available", widget.error ?? "no data")])
                    continue
                }
                if table.truncated {
                    report.keyValues([("Rows", "the first \(table.rows.count), as the widget's query limits them")])
                }
                let columns = ExportTable(title: widget.title, columns: table.columns, rowCount: table.rows.count)
                rows += try report.table(columns, rows: table.rowStream, progress: nil)
            }
        }
        try report.close()
        return (rows, report.pageCount)
    }
}
