import Foundation

/// One widget of a dashboard as a file a viewer downloads (share pages with `export`): its
/// data as CSV, or the widget alone as an Excel workbook or a PDF, through the same writers
/// as dashboard exports. The export holds just that widget, its data already run.
public enum WidgetDownload {
    public enum Format: String, CaseIterable, Sendable {
        case csv, xlsx, pdf

        public var contentType: String {
            switch self {
            case .csv: "text/csv; charset=utf-8"
            case .xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            case .pdf: "application/pdf"
            }
        }
    }

    /// Writes the export's first widget into the file at `path`.
    public static func write(_ export: DashboardExport, format: Format, to path: String, tempDirectory: String) throws {
        switch format {
        case .csv:
            let file = try FileSink(path: path)
            try file.write(csv(export.widgets.first?.table))
            try file.close()
        case .xlsx:
            try export.write(DashboardExportSpec(format: .excel), to: path, tempDirectory: tempDirectory)
        case .pdf:
            try export.write(DashboardExportSpec(format: .pdf), to: path, tempDirectory: tempDirectory)
        }
    }

    /// The widget's rows with a header row, RFC 4180 (CRLF), text that would start a
    /// spreadsheet formula quoted as text, as table exports write CSV.
    static func csv(_ table: WidgetTable?) -> [UInt8] {
        guard let table else { return [] }
        // Numbers keep their sign: only text cells are protected.
        let text = table.columns.map { $0.kind == .text }
        func line(_ fields: [String], protect: [Bool]) -> String {
            zip(fields, protect).map { TableExport.csvField($0, delimiter: ",", protect: $1) }.joined(separator: ",") + "\r\n"
        }
        var out = line(table.columns.map(\.header), protect: text.map { _ in true })
        for row in table.rows { out += line(row.map { $0 ?? "" }, protect: text) }
        return Array(out.utf8)
    }
}
