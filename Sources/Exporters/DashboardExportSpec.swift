import JSONValues

/// A validated dashboard export request (`POST /api/export/dashboard/{id}`): the format, whether
/// each widget's data comes along, how it is delivered, and the format's options.
///
///     {"format": "pdf", "include_data": true, "delivery": "auto",
///      "options": {"page_size": "a4", "orientation": "auto"}}
///
/// The dashboard's own filters always apply; a request cannot override them (edit the
/// dashboard, or export its tables with `POST /api/export/table/{id}`).
public struct DashboardExportSpec {
    public enum Format: String, CaseIterable, Sendable {
        case pdf, excel, json, png
    }

    public var format: Format
    public var delivery = ExportSpec.Delivery.auto
    /// PDF: each widget's data as a table after the charts; JSON: each widget's `data`. Excel
    /// always has the data (its charts are drawn from it) and the PNG never does.
    public var includeData = true
    /// PDF: `page_size`; `orientation` is the charts' pages' (`auto` = landscape, as a
    /// dashboard is wide); the data tables choose theirs as table exports do.
    public var pdf = PDFOptions()
    /// PNG: the image's width in pixels; its height follows from the dashboard.
    public var pngWidth = DashboardExportSpec.defaultPNGWidth

    /// What a job export stores (`exports.options`) and reads back: `include_data` and `options`.
    public var stored: JSON = [:]

    public static let defaultPNGWidth = 1600
    static let pngWidths = 400...4000
    static let optionNames: [Format: [String]] = [.pdf: ["page_size", "orientation"], .png: ["width"], .excel: [], .json: []]

    public var fileExtension: String {
        switch format {
        case .pdf: "pdf"
        case .excel: "xlsx"
        case .json: "json"
        case .png: "png"
        }
    }

    public var contentType: String {
        switch format {
        case .pdf: "application/pdf"
        case .excel: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        case .json: "application/json"
        case .png: "image/png"
        }
    }

    /// Reads `format`, `include_data`, `delivery` and `options`, adding every problem to the
    /// reader so one 422 names them all. The spec is the request's only when the reader has
    /// no errors: the caller's `finish()` decides.
    public static func read(_ reader: inout FieldReader) -> DashboardExportSpec {
        let format = reader.choice("format", as: Format.self)
        var spec = DashboardExportSpec(format: format ?? .pdf)
        spec.delivery = reader.choice("delivery", as: ExportSpec.Delivery.self, required: false) ?? .auto
        spec.includeData = reader.bool("include_data", required: false) ?? true
        spec.stored = ["include_data": .bool(spec.includeData)]
        // Options are checked against a format that was given and valid.
        guard let format, var options = reader.object("options", required: false) else { return spec }
        spec.stored = ["include_data": .bool(spec.includeData), "options": options.value]
        options.rejectUnknown(allowed: optionNames[format] ?? [], of: format.rawValue)
        switch format {
        case .pdf: spec.pdf.readPage(&options)
        case .png: spec.pngWidth = options.int("width", required: false, range: pngWidths) ?? defaultPNGWidth
        case .excel, .json: break
        }
        reader.absorb(options, prefix: "options")
        return spec
    }

    /// The spec a job export was validated into, read back from its format and what was
    /// stored; nil if it no longer reads (the job then fails rather than guess).
    public static func stored(format: String, options: JSON) -> DashboardExportSpec? {
        var members: [(String, JSON)] = [("format", .string(format))]
        if case .object(let stored) = options { members += stored }
        var reader = FieldReader(.object(members))
        let spec = read(&reader)
        return reader.errors.isEmpty ? spec : nil
    }
}
