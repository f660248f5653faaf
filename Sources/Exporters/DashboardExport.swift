import Charts
import Dashboards
import Data
import Foundation
import JSONValues

/// A dashboard on its way out: each widget with its data (the dashboard's filters applied, as
/// the API shows it) and its chart, the warehouse tables the data came from, and when. Every
/// format is written from here, by the request that asked (streamed) or by the export job.
public struct DashboardExport {
    public struct Widget {
        public let title: String
        public let type: WidgetType
        let place: DashboardLayout.Place
        /// `{"columns", "rows", "truncated"}`, or `{"error": {code, message}}`; null when the
        /// export was made without data.
        let data: JSON
        let chart: ChartData
        /// The data as the renderers take a table; nil when the widget could not run.
        let table: WidgetTable?
        /// Why the widget has no data, for people.
        var error: String? {
            guard table == nil else { return nil }
            if case .string(let message)? = data["error"]?["message"] { return message }
            return "no data"
        }
    }

    /// A chart is drawn at this many points per SVG pixel: its 11-pixel labels print at about
    /// 8 points, and a half-width chart on a landscape page gets the web's 640-pixel layout.
    static let pointsPerPixel = 0.6

    let record: DashboardRecord
    let config: JSON
    public let widgets: [Widget]
    /// The warehouse tables the widgets read, in the order the catalog gave them.
    let tables: [WarehouseTableRef]
    let exportedAt: Date
    /// Whether the widgets' queries were run.
    let includesData: Bool

    /// Loads the widgets' tables and, with `data`, runs every widget's query (a widget that
    /// cannot run carries its error, as on the API).
    public init(_ record: DashboardRecord, db: Database, data: Bool = true, exportedAt: Date = Date()) throws {
        let config = Self.config(record)
        let results = data ? try Dashboards(db).data(config: config, team: record.teamID) : nil
        let tables = try WarehouseCatalogRepository(db).tables(ids: Self.tableIDs(config), team: record.teamID)
        self.init(record, results: results, tables: tables, exportedAt: exportedAt)
    }

    /// A dashboard whose widgets' `results` (`Dashboards.data`, in widget order) were run
    /// already; nil when it is exported without data.
    public init(_ record: DashboardRecord, results: [JSON]?, tables: [WarehouseTableRef], exportedAt: Date = Date()) {
        self.record = record
        self.tables = tables
        self.exportedAt = exportedAt
        config = Self.config(record)
        let items: [JSON] = if case .array(let items)? = config["widgets"] { items } else { [] }
        let data = results ?? items.map { _ in JSON.null }
        widgets = zip(items, data).enumerated().map { index, pair in
            let (widget, result) = pair
            let title: String = if case .string(let text)? = widget["title"] { text } else { "Widget \(index + 1)" }
            let type: WidgetType = if case .string(let text)? = widget["type"], let type = WidgetType(rawValue: text) { type } else { .table }
            return Widget(title: title, type: type, place: Self.place(widget["layout"], index: index), data: result,
                          chart: WidgetChart.chart(widget: widget, data: result), table: WidgetTable(data: result))
        }
        includesData = results != nil
    }

    private static func config(_ record: DashboardRecord) -> JSON {
        (try? JSON.parse(Array(record.config.utf8))) ?? ["widgets": .array([]), "filters": .array([])]
    }

    /// What an export of `record` will read, known before any query runs: the widgets' tables
    /// and at most how many data rows they give (`Dashboards.rowBound`).
    public static func plan(_ record: DashboardRecord, db: Database) throws -> (tables: [UUID], rowBound: Int64) {
        let config = (try? JSON.parse(Array(record.config.utf8))) ?? .null
        let tables = try WarehouseCatalogRepository(db).tables(ids: tableIDs(config), team: record.teamID)
        let counts = Dictionary(tables.map { ($0.id, $0.rowCount) }, uniquingKeysWith: { first, _ in first })
        return (tables.map(\.id), Dashboards.rowBound(config: config, rowCounts: counts))
    }

    /// The file name a download gets (without extension).
    public var baseName: String { record.title }

    /// The data rows every widget holds.
    public var rowCount: Int { widgets.reduce(0) { $0 + ($1.table?.rows.count ?? 0) } }

    var theme: ChartTheme { .named(record.theme) }

    /// Writes the export into the file at `path`; returns the data rows it holds.
    @discardableResult
    public func write(_ spec: DashboardExportSpec, to path: String, tempDirectory: String) throws -> Int {
        switch spec.format {
        case .pdf:
            return try DashboardPDF.write(self, options: spec.pdf, includeData: spec.includeData, to: path)
        case .png:
            try DashboardImage.write(self, width: spec.pngWidth, to: path)
            return 0
        case .excel:
            return try DashboardWorkbook.write(self, to: path, tempDirectory: tempDirectory)
        case .json:
            let file = try FileSink(path: path)
            try file.write(json(includeData: spec.includeData).serialized())
            try file.close()
            return spec.includeData ? rowCount : 0
        }
    }

    // MARK: What the export says about the dashboard

    /// The dashboard as `GET /api/dashboards/{id}` shows it, with when it was exported and
    /// where each table came from.
    func json(includeData: Bool) -> JSON {
        let document = Dashboards.document(record, config: config, results: includeData && includesData ? widgets.map(\.data) : nil)
        guard case .object(var members) = document else { return document }
        members.append(("exported_at", .string(PostgresTime.format(exportedAt))))
        members.append(("tables", .array(tables.map { ref in
            ["id": .string(ref.id.lower), "name": .string(ref.tableName), "row_count": .int(ref.rowCount),
             "source": TableExport(ref).metadataJSON["source"] ?? .null]
        })))
        return .object(members)
    }

    /// The header of the PDF and the PNG: sources, filters, widgets, export time.
    var metadata: [(label: String, value: String)] {
        var pairs: [(label: String, value: String)] = []
        let documents = Self.sourceNames(tables.filter { $0.source == .document })
        let connections = Self.sourceNames(tables.filter { $0.source == .connection })
        if !documents.isEmpty { pairs.append(("Source documents", documents.joined(separator: "; "))) }
        if !connections.isEmpty { pairs.append(("Source connections", connections.joined(separator: "; "))) }
        let filters: [JSON] = if case .array(let items)? = config["filters"] { items } else { [] }
        pairs.append(("Filters", filters.isEmpty ? "none" : filters.map(Self.describe(filter:)).joined(separator: "; ")))
        pairs.append(("Widgets", String(widgets.count)))
        pairs.append(("Exported at", PostgresTime.format(exportedAt)))
        return pairs
    }

    /// The figure drawn in a widget's box: its chart at `pointsPerPixel` (colours resolved,
    /// since librsvg knows no CSS variables), or why it has none.
    func figure(_ index: Int, box: PDFBox) -> ReportCanvas.Figure {
        let widget = widgets[index]
        if let error = widget.error {
            return .message(title: widget.title, text: "This widget could not be read: \(error)")
        }
        let width = max(Int((box.width / Self.pointsPerPixel).rounded()), 120)
        let height = max(Int((box.height / Self.pointsPerPixel).rounded()), 80)
        return .svg(SVGRenderer.render(widget.chart, theme: theme, width: width, height: height, colours: .resolved))
    }

    // MARK: Helpers

    /// A widget's stored `layout`, or the full-width slot a widget without one gets on the API.
    static func place(_ layout: JSON?, index: Int) -> DashboardLayout.Place {
        func int(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
            guard case .int(let value)? = layout?[key] else { return fallback }
            return min(max(Int(value), range.lowerBound), range.upperBound)
        }
        let x = int("x", 0, 0...11)
        return DashboardLayout.Place(x: x, y: int("y", index * 4, 0...1000), w: min(int("w", 12, 1...12), 12 - x), h: int("h", 4, 1...40))
    }

    /// Every table the widgets read, once each.
    static func tableIDs(_ config: JSON) -> [UUID] {
        guard case .array(let widgets)? = config["widgets"] else { return [] }
        var seen = Set<UUID>()
        return widgets.compactMap { widget in
            guard case .string(let text)? = widget["table"], let id = UUID(uuidString: text), seen.insert(id).inserted else { return nil }
            return id
        }
    }

    /// One name per document or connection: a document with its pages, a connection with the
    /// source tables read from it.
    static func sourceNames(_ tables: [WarehouseTableRef]) -> [String] {
        var order: [UUID] = []
        var details: [UUID: (name: String, parts: [String])] = [:]
        for ref in tables {
            if details[ref.sourceID] == nil {
                order.append(ref.sourceID)
                details[ref.sourceID] = (ref.sourceName ?? ref.sourceID.lower, [])
            }
            let part: String? = switch ref.source {
            case .document: ref.pageFrom.map { from in ref.pageTo.map { $0 == from ? "page \(from)" : "pages \(from)–\($0)" } ?? "page \(from)" }
            case .connection: ref.sourceTable ?? ref.tableName
            }
            if let part, !(details[ref.sourceID]?.parts.contains(part) ?? true) { details[ref.sourceID]?.parts.append(part) }
        }
        return order.compactMap { id in
            details[id].map { $0.parts.isEmpty ? $0.name : "\($0.name) (\($0.parts.joined(separator: ", ")))" }
        }
    }

    /// A dashboard filter as a reader would say it: `customer = Acme`, `amount between 10 and
    /// 20`, `customer in (A, B)`, `day last 30 days`, `note is null`. The filter was checked
    /// when it was saved; this only words it.
    public static func describe(filter: JSON) -> String {
        let column: String = if case .string(let text)? = filter["column"] { text } else { "?" }
        let op: String = if case .string(let text)? = filter["op"] { text } else { "=" }
        let values: [String] = if case .array(let items)? = filter["values"] { items.map { WidgetTable.text($0) ?? "null" } } else { [] }
        switch op {
        case "in":
            return "\(column) in (\(values.joined(separator: ", ")))"
        case "between" where values.count == 2:
            return "\(column) between \(values[0]) and \(values[1])"
        case _ where filter["value"] == nil && values.isEmpty:
            // is_null, is_not_null and the relative dates (last_30_days…) take no value.
            return "\(column) \(op.replacingOccurrences(of: "_", with: " "))"
        default:
            let value = filter["value"].map { WidgetTable.text($0) ?? "null" } ?? values.joined(separator: ", ")
            return "\(column) \(op) \(value)"
        }
    }
}
