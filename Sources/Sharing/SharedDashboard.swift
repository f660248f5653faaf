import Charts
import Dashboards
import Data
import Exporters
import Foundation
import JSONValues
import Query

/// A dashboard as a share link or an embed shows it: the widgets it may show, the filters in
/// force — the dashboard's own, values a signed embed token locks, and values the viewer
/// chose (links with `interact`) — and each widget's data. A viewer can change only the
/// values of the dashboard's own filters, never their columns or operators, and never reach
/// another dashboard: widgets are looked up in this one's configuration.
public struct SharedDashboard {
    /// What the viewer and the embedding site asked for.
    public struct Choices: Sendable {
        /// Query parameters (`f0`, `f1`, …: new values for the dashboard's filters).
        public var values: [String: String]
        /// Whether the viewer may change filters.
        public var interact: Bool
        /// Column → value, fixed by a signed embed token; not shown, not changeable.
        public var locked: [(column: String, value: JSON)]
        /// Only this widget (an embedded chart or KPI).
        public var widgetID: String?

        public init(values: [String: String] = [:], interact: Bool = false, locked: [(column: String, value: JSON)] = [],
                    widgetID: String? = nil) {
            self.values = values
            self.interact = interact
            self.locked = locked
            self.widgetID = widgetID
        }
    }

    /// A dashboard filter with the value in force.
    public struct Filter: Sendable {
        /// Its position in the dashboard's filters (the query parameter is `f<index>`).
        public let index: Int?
        public let condition: JSON
        /// The viewer may change its value (a single-value filter the token does not lock).
        public let changeable: Bool
        /// The viewer's value was refused: why.
        public let problem: String?
    }

    /// The locked values or the widget asked for do not fit this dashboard.
    public struct Unfit: Error, CustomStringConvertible {
        public let description: String
    }

    public let record: DashboardRecord
    public let widgets: [JSON]
    public let filters: [Filter]
    /// Each widget's data (`Dashboards.data`), in widget order.
    public let results: [JSON]

    public init(_ record: DashboardRecord, choices: Choices, db: Database) throws {
        self.record = record
        let config = (try? JSON.parse(Array(record.config.utf8))) ?? .null
        var widgets: [JSON] = if case .array(let items)? = config["widgets"] { items } else { [] }
        if let id = choices.widgetID {
            widgets = widgets.filter { $0["id"] == .string(id) }
            guard !widgets.isEmpty else { throw Unfit(description: "the dashboard no longer has the widget this embed shows") }
        }
        self.widgets = widgets
        let stored: [JSON] = if case .array(let items)? = config["filters"] { items } else { [] }
        let dashboards = Dashboards(db)
        /// The problem a filter has against the widgets' tables, or nil when it fits.
        func problem(_ condition: JSON) throws -> String? {
            do {
                _ = try dashboards.checkedConfig(widgets: widgets, filters: [condition], team: record.teamID)
                return nil
            } catch let failure as ValidationFailure {
                return failure.fields.first.map { $0.1 } ?? "does not fit this dashboard"
            }
        }
        var filters: [Filter] = []
        var lockedColumns = Set<String>()
        for (column, value) in choices.locked {
            lockedColumns.insert(column)
            let condition: JSON = ["column": .string(column), "op": "=", "value": value]
            if let problem = try problem(condition) {
                throw Unfit(description: "the token's value for \(column) \(problem)")
            }
            filters.append(Filter(index: nil, condition: condition, changeable: false, problem: nil))
        }
        for (index, condition) in stored.enumerated() {
            guard case .string(let column)? = condition["column"], !lockedColumns.contains(column) else { continue }
            let single = condition["value"] != nil && condition["values"] == nil
            let changeable = choices.interact && single
            guard changeable, let raw = choices.values["f\(index)"], case .object(var members) = condition,
                  condition["value"].map(SharedDashboard.text) != raw else {
                filters.append(Filter(index: index, condition: condition, changeable: changeable, problem: nil))
                continue
            }
            members.removeAll { $0.0 == "value" }
            members.append(("value", raw == "true" || raw == "false" ? .bool(raw == "true") : .string(raw)))
            let changed = JSON.object(members)
            if raw.count > 500 {
                filters.append(Filter(index: index, condition: condition, changeable: true, problem: "is longer than 500 characters"))
            } else if let problem = try problem(changed) {
                filters.append(Filter(index: index, condition: condition, changeable: true, problem: problem))
            } else {
                filters.append(Filter(index: index, condition: changed, changeable: true, problem: nil))
            }
        }
        self.filters = filters
        results = try dashboards.data(config: ["widgets": .array(widgets), "filters": .array(filters.map(\.condition))],
                                      team: record.teamID)
    }

    /// The query string that keeps the viewer's accepted filter values (for downloads and links).
    public var query: String {
        filters.compactMap { filter -> String? in
            guard let index = filter.index, filter.changeable, filter.problem == nil,
                  let value = filter.condition["value"].map(SharedDashboard.text) else { return nil }
            return "f\(index)=" + (value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        }.joined(separator: "&")
    }

    /// The dashboard as JSON for a viewer: title, theme, widgets with their data, filters in
    /// force; not where it came from nor the tables it reads.
    public func json(permissions: Set<SharePermission>) -> JSON {
        let items: [JSON] = zip(widgets, results).map { widget, data in
            ["id": widget["id"] ?? .null, "type": widget["type"] ?? .null, "title": widget["title"] ?? .null,
             "layout": widget["layout"] ?? .null, "data": data]
        }
        return [
            "title": .string(record.title), "theme": .string(record.theme), "widgets": .array(items),
            "filters": .array(filters.filter { $0.index != nil }.map { filter in
                guard case .object(var members) = filter.condition else { return filter.condition }
                members.removeAll { $0.0 == "table" }
                members.append(("parameter", .string("f\(filter.index ?? 0)")))
                members.append(("changeable", .bool(filter.changeable)))
                if let problem = filter.problem { members.append(("problem", .string(problem))) }
                return .object(members)
            }),
            "permissions": .array(SharePermission.allCases.filter(permissions.contains).map { .string($0.rawValue) }),
            "updated_at": .string(PostgresTime.format(record.updatedAt)),
        ]
    }

    /// The widgets as a page draws them; downloads under `downloadBase` (`/share/ID/widgets`)
    /// when exporting is allowed.
    /// `carry`: parameters the links keep besides the filters (an embed's token).
    public func pageWidgets(downloadBase: String?, carry: [(name: String, value: String)] = []) -> [PageWidget] {
        let query = ([self.query] + carry.map { "\($0.name)=" + ($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") })
            .filter { !$0.isEmpty }.joined(separator: "&")
        return zip(widgets, results).enumerated().map { index, pair in
            let (widget, data) = pair
            let id: String = if case .string(let text)? = widget["id"] { text } else { "w\(index + 1)" }
            let title: String = if case .string(let text)? = widget["title"] { text } else { "Widget \(index + 1)" }
            let type: String = if case .string(let text)? = widget["type"] { text } else { "table" }
            func int(_ key: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
                guard case .int(let value)? = widget["layout"]?[key] else { return fallback }
                return min(max(Int(value), range.lowerBound), range.upperBound)
            }
            let x = int("x", 0, 0...11)
            let error: String? = if case .string(let message)? = data["error"]?["message"] { message } else { nil }
            let downloads: [PageLink] = downloadBase.map { base in
                let escaped = id.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? id
                return WidgetDownload.Format.allCases.map { format in
                    PageLink(label: SharedDashboard.label(format), href: "\(base)/\(escaped).\(format.rawValue)" + (query.isEmpty ? "" : "?\(query)"))
                }
            } ?? []
            return PageWidget(id: id, title: title, type: type, chart: error == nil ? WidgetChart.chart(widget: widget, data: data) : nil,
                              error: error, x: x, y: int("y", index * 4, 0...1000), w: min(int("w", 12, 1...12), 12 - x),
                              h: int("h", 4, 1...40), downloads: error == nil ? downloads : [])
        }
    }

    /// The filters a viewer may change, as the page's form shows them. An equality filter on
    /// a text column of few values (at most `maxChoices`) offers them in a list.
    public func pageFilters(db: Database, maxChoices: Int = 50) throws -> [PageFilter] {
        let ids = Set(widgets.compactMap { widget -> UUID? in if case .string(let text)? = widget["table"] { UUID(uuidString: text) } else { nil } })
        let tables = try WarehouseCatalogRepository(db).tables(ids: ids.sorted { $0.uuidString < $1.uuidString }, team: record.teamID)
        return try filters.compactMap { filter in
            guard filter.changeable, let index = filter.index, case .string(let column)? = filter.condition["column"] else { return nil }
            let op: String = if case .string(let text)? = filter.condition["op"] { text } else { "=" }
            let value = filter.condition["value"].map(SharedDashboard.text) ?? ""
            var choices: [String] = []
            if ["=", "!="].contains(op), let table = tables.first(where: { table in
                QueryColumn.list(fromCatalog: table.columns).contains { $0.name == column && $0.type == .text }
            }), let found = try WarehouseValuesRepository(db).distinctValues(tableName: table.tableName, columns: [column], limit: maxChoices).first,
               found.complete {
                choices = found.values.sorted()
                if !value.isEmpty && !choices.contains(value) { choices.insert(value, at: 0) }
            }
            return PageFilter(name: "f\(index)", label: "\(column) \(SharedDashboard.words(op))", value: value, choices: choices,
                              problem: filter.problem)
        }
    }

    /// The filters in force that the viewer cannot change, in words (for the page's note).
    public var fixedFilters: [String] {
        filters.filter { !$0.changeable && $0.index != nil }.map { DashboardExport.describe(filter: $0.condition) }
    }

    /// The export of one widget (for a download): this dashboard with just that widget and the
    /// filters in force, its data already run.
    public func export(widget id: String, db: Database) throws -> DashboardExport? {
        guard let index = widgets.firstIndex(where: { $0["id"] == .string(id) }) else { return nil }
        let one = DashboardRecord(id: record.id, teamID: record.teamID, title: record.title, theme: record.theme,
                                  config: (["widgets": .array([widgets[index]]), "filters": .array(filters.map(\.condition))] as JSON).serializedText,
                                  sources: "{}", createdAt: record.createdAt, updatedAt: record.updatedAt)
        let tableIDs: [UUID] = if case .string(let text)? = widgets[index]["table"], let table = UUID(uuidString: text) { [table] } else { [] }
        let tables = try WarehouseCatalogRepository(db).tables(ids: tableIDs, team: record.teamID)
        return DashboardExport(one, results: [results[index]], tables: tables)
    }

    static func label(_ format: WidgetDownload.Format) -> String {
        switch format {
        case .csv: "CSV"
        case .xlsx: "Excel"
        case .pdf: "PDF"
        }
    }

    static func words(_ op: String) -> String {
        switch op {
        case "=": "is"
        case "!=": "is not"
        case "<": "below"
        case "<=": "at most"
        case ">": "above"
        case ">=": "at least"
        default: op.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// A filter value as text: a form field's value.
    static func text(_ value: JSON) -> String {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): flag ? "true" : "false"
        case .null: ""
        default: value.serializedText
        }
    }
}
