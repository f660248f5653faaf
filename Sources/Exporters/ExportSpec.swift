import Data
import Foundation
import JSONValues

/// A validated export request: the format and its options, checked before any work starts.
public struct ExportSpec {
    /// How the result reaches the caller: `auto` streams what is cheap (CSV, JSON, small
    /// Excel/PDF) and makes a job of the rest; `download` always streams; `job` always queues.
    public enum Delivery: String, CaseIterable, Sendable {
        case auto, download, job
    }

    struct CSVOptions {
        public var delimiter = ","
        var bom = false
        public var header = true
        var formulaProtection = true
    }

    public var format: ExportFormat
    public var delivery = Delivery.auto
    var csv = CSVOptions()
    var ndjson = false
    public var xlsx = XLSXOptions()
    public var pdf = PDFOptions()
    /// PDF only: the heading above the table (default: the table's name).
    public var title: String?
    /// The options as given (stored with a job export).
    public var options: JSON = [:]

    /// Every option of every format, for the 422 that lists the valid ones.
    static let optionNames: [ExportFormat: [String]] = [
        .csv: ["delimiter", "bom", "header", "formula_protection"],
        .json: ["ndjson"],
        .excel: ["rows_per_sheet", "low_confidence", "metadata_sheet"],
        .pdf: ["page_size", "orientation", "font_size", "title"],
    ]
    static let delimiters = [",", ";", "\t", "|"]

    public var fileExtension: String {
        switch format {
        case .csv: "csv"
        case .json: ndjson ? "ndjson" : "json"
        case .excel: "xlsx"
        case .pdf: "pdf"
        }
    }

    public var contentType: String {
        switch format {
        case .csv: "text/csv; charset=utf-8"
        case .json: ndjson ? "application/x-ndjson" : "application/json"
        case .excel: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case .pdf: "application/pdf"
        }
    }

    /// CSV and JSON come straight out of COPY; Excel and PDF are rendered into a file first.
    public var streamsFromCopy: Bool { format == .csv || format == .json }

    /// Reads `format`, `options` and `delivery`, adding every problem to the reader so one
    /// 422 names them all (unknown options are listed with the valid ones). The spec is the
    /// request's only when the reader has no errors: the caller's `finish()` decides.
    public static func read(_ reader: inout FieldReader) -> ExportSpec {
        let format = reader.choice("format", as: ExportFormat.self)
        let delivery = reader.choice("delivery", as: Delivery.self, required: false)
        var spec = ExportSpec(format: format ?? .csv)
        spec.delivery = delivery ?? .auto
        // Options are checked against a format that was given and valid.
        guard let format, var options = reader.object("options", required: false) else { return spec }
        spec.options = options.value
        options.rejectUnknown(allowed: optionNames[format] ?? [], of: format.rawValue)
        switch format {
        case .csv:
            if let delimiter = options.choice("delimiter", delimiters, required: false) { spec.csv.delimiter = delimiter }
            spec.csv.bom = options.bool("bom", required: false) ?? false
            spec.csv.header = options.bool("header", required: false) ?? true
            spec.csv.formulaProtection = options.bool("formula_protection", required: false) ?? true
        case .json:
            spec.ndjson = options.bool("ndjson", required: false) ?? false
        case .excel:
            if let rows = options.int("rows_per_sheet", required: false, range: 1...1_048_575) { spec.xlsx.rowsPerSheet = rows }
            if let threshold = options.double("low_confidence", required: false, range: 0...1) { spec.xlsx.lowConfidence = threshold }
            spec.xlsx.metadataSheet = options.bool("metadata_sheet", required: false) ?? true
        case .pdf:
            spec.pdf.readPage(&options)
            if let size = options.double("font_size", required: false, range: 5...14) { spec.pdf.fontSize = size }
            spec.title = options.string("title", required: false, maxLength: 200)
        }
        reader.absorb(options, prefix: "options")
        return spec
    }

    /// Cells below this confidence are marked in Excel and PDF.
    var lowConfidence: Double { format == .excel ? xlsx.lowConfidence : 0.6 }
}

extension FieldReader {
    /// Names every member of this options object that is not in `allowed`, listing the valid
    /// ones, so a misspelt option is never ignored silently.
    mutating func rejectUnknown(allowed: [String], of format: String) {
        guard case .object(let members) = value else { return }
        for (name, _) in members where !allowed.contains(name) {
            let valid = allowed.isEmpty ? "it takes none" : "valid: \(allowed.joined(separator: ", "))"
            fail(name, "is not an option of \(format); \(valid)")
        }
    }
}

extension PDFOptions {
    /// Reads `page_size` and `orientation` from an export's options, where given.
    mutating func readPage(_ options: inout FieldReader) {
        if let size = options.choice("page_size", as: PageSize.self, required: false) { pageSize = size }
        if let orientation = options.choice("orientation", as: Orientation.self, required: false) { self.orientation = orientation }
    }
}
