import Charts
import Dashboards
import Data
import Foundation
import JSONValues
import Query

/// Dashboards: generated from a document's, a connection's or given tables (the seed's
/// `POST /dashboards/generate`), read with each widget's data, edited, deleted.
struct DashboardRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    private enum DataFlag: String, CaseIterable { case `true`, `false` }

    func register(on router: Router) {
        router.post("/api/dashboards/generate", access.protect(scope: .dashboardsWrite, quota: .dashboard, generate))
        router.get("/api/dashboards", access.protect(scope: .dashboardsRead, list))
        router.get("/api/dashboards/{id}", access.protect(scope: .dashboardsRead, show))
        router.put("/api/dashboards/{id}", access.protect(scope: .dashboardsWrite, update))
        router.delete("/api/dashboards/{id}", access.protect(scope: .dashboardsWrite, remove))
        router.get("/api/dashboards/{id}/widgets/{file}", access.protect(scope: .dashboardsRead, widgetSVG))
    }

    /// `GET /api/dashboards/{id}/widgets/{widget_id}.svg`: one widget drawn as SVG, in the
    /// dashboard's theme, with the dashboard's filters applied.
    func widgetSVG(_ request: Request, _ principal: Principal) throws -> Response {
        let file = request.pathParameters["file"] ?? ""
        guard file.hasSuffix(".svg") else { throw APIError.notFound("widgets are served as <widget id>.svg") }
        let widgetID = String(file.dropLast(4))
        let record = try dashboard(request, principal)
        let key = DashboardRoutes.cacheKey(record, "svg|\(widgetID)")
        let headers = [("Content-Type", "image/svg+xml; charset=utf-8"), ("Cache-Control", "private, max-age=60")]
        if let kept = try DerivedResultCache.value(key, team: principal.teamID, db: db) {
            return Response(status: 200, headers: headers, body: .bytes(kept))
        }
        let config = (try? JSON.parse(Array(record.config.utf8))) ?? .null
        let widgets: [JSON] = if case .array(let items)? = config["widgets"] { items } else { [] }
        guard let index = widgets.firstIndex(where: { $0["id"] == .string(widgetID) }) else {
            throw APIError.notFound("this dashboard has no widget \(widgetID)")
        }
        let one: JSON = ["widgets": .array([widgets[index]]), "filters": config["filters"] ?? .array([])]
        let data = try Dashboards(db).data(config: one, team: principal.teamID).first ?? .null
        let chart = WidgetChart.chart(widget: widgets[index], data: data)
        let svg = Array(SVGRenderer.render(chart, theme: .named(record.theme)).utf8)
        if data["error"] == nil { DerivedResultCache.store(svg, key: key, team: principal.teamID, tables: DashboardRoutes.tables(of: record), db: db) }
        return Response(status: 200, headers: headers, body: .bytes(svg))
    }

    func generate(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "create dashboards")
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        func uuid(_ field: String) -> UUID? {
            guard let raw = body.string(field, required: false, maxLength: 64) else { return nil }
            guard let id = UUID(uuidString: raw) else { body.fail(field, "must be a UUID"); return nil }
            return id
        }
        let documentID = uuid("document_id"), connectionID = uuid("connection_id")
        var tableIDs: [UUID]?
        if let items = body.array("table_ids", required: false, maxCount: 20) {
            tableIDs = []
            for (index, item) in items.enumerated() {
                if case .string(let raw) = item, let id = UUID(uuidString: raw) { tableIDs?.append(id) } else {
                    body.fail("table_ids[\(index)]", "must be a table id")
                }
            }
            if items.isEmpty { body.fail("table_ids", "must name at least one table") }
        }
        var title: String?, maxWidgets: Int?, theme: String?
        if var options = body.object("options", required: false) {
            title = options.string("title", required: false, minLength: 1, maxLength: 200)
            maxWidgets = options.int("max_widgets", required: false, range: 1...Dashboards.maxWidgets)
            theme = options.choice("theme", Dashboards.themes, required: false)
            body.absorb(options, prefix: "options")
        }
        let given = [body.has("document_id"), body.has("table_ids"), body.has("connection_id")].filter { $0 }.count
        if given != 1 { body.fail("document_id", "give exactly one of document_id, table_ids or connection_id") }
        try body.finish()

        let catalog = WarehouseCatalogRepository(db)
        var tables: [WarehouseTableRef]
        var sources: JSON
        if let documentID {
            guard let document = try DocumentRepository(db).find(id: documentID, team: principal.teamID) else {
                throw APIError(status: 404, code: "not_found", message: "no such document", fields: [("document_id", "names no document")])
            }
            tables = try catalog.tables(from: documentID, team: principal.teamID)
            if tables.isEmpty {
                throw APIError.validation([("document_id", document.status == .done
                    ? "has no tables to chart" : "has no tables yet (the document is \(document.status.rawValue)): try again when it is done")])
            }
            sources = ["document_id": .string(documentID.lower)]
        } else if let connectionID {
            guard try ConnectionRepository(db).find(id: connectionID, team: principal.teamID) != nil else {
                throw APIError(status: 404, code: "not_found", message: "no such connection", fields: [("connection_id", "names no connection")])
            }
            tables = try catalog.tables(from: connectionID, team: principal.teamID)
            if tables.isEmpty { throw APIError.validation([("connection_id", "has no synced tables: run an ETL job first")]) }
            sources = ["connection_id": .string(connectionID.lower)]
        } else {
            let ids = tableIDs ?? []
            tables = try catalog.tables(ids: ids, team: principal.teamID)
            if let missing = ids.firstIndex(where: { id in !tables.contains { $0.id == id } }) {
                throw APIError(status: 404, code: "not_found", message: "no such table", fields: [("table_ids[\(missing)]", "names no table of your team")])
            }
            sources = ["table_ids": .array(ids.map { .string($0.lower) })]
        }
        tables = Array(tables.prefix(Dashboards.maxWidgets))
        let profiler = TableProfiler(db)
        let inputs = try tables.compactMap { table in
            try profiler.profile(table: table.id, team: principal.teamID).map { DashboardGenerator.Input(table: table, profile: $0.profile) }
        }
        let widgets = DashboardGenerator.widgets(for: inputs, maxWidgets: maxWidgets ?? DashboardGenerator.defaultMaxWidgets)
        let config: JSON = ["widgets": .array(widgets), "filters": .array([])]
        let record = try DashboardRepository(db).create(
            team: principal.teamID, user: principal.userID, title: title ?? DashboardGenerator.title(for: inputs),
            theme: theme ?? "light", config: config.serializedText, sources: sources.serializedText)
        access.audit(request, principal: principal, action: "dashboard.generated", resourceType: "dashboard", resourceID: record.id.lower,
                     detail: ["widgets": .int(Int64(widgets.count))])
        return .json(try present(record, team: principal.teamID, data: true), status: 201,
                     headers: [("Location", "/api/dashboards/\(record.id.lower)")])
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, problems: &problems)
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try DashboardRepository(db).list(team: principal.teamID, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(page.map { record in
            let config = (try? JSON.parse(Array(record.config.utf8))) ?? .null
            let count: Int = if case .array(let widgets)? = config["widgets"] { widgets.count } else { 0 }
            return ["id": .string(record.id.lower), "title": .string(record.title), "theme": .string(record.theme),
                    "widget_count": .int(Int64(count)), "created_at": Present.time(record.createdAt),
                    "updated_at": Present.time(record.updatedAt)]
        }), "next_cursor": next])
    }

    func show(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let flag = request.query("data", as: DataFlag.self, problems: &problems)
        if !problems.isEmpty { throw APIError.validation(problems) }
        let record = try dashboard(request, principal)
        guard flag != .false else { return .json(try present(record, team: principal.teamID, data: false)) }
        // With its data, the document is kept until a table of its widgets changes or the dashboard does.
        let key = DashboardRoutes.cacheKey(record, "document")
        if let kept = try DerivedResultCache.value(key, team: principal.teamID, db: db) { return .json(bytes: kept) }
        let document = try present(record, team: principal.teamID, data: true)
        let bytes = document.serialized()
        // A widget that failed (a slow query) is asked again next time.
        let widgets: [JSON] = if case .array(let items)? = document["widgets"] { items } else { [] }
        if !widgets.contains(where: { $0["data"]?["error"] != nil }) {
            DerivedResultCache.store(bytes, key: key, team: principal.teamID, tables: DashboardRoutes.tables(of: record), db: db)
        }
        return .json(bytes: bytes)
    }

    /// What a dashboard's derived documents depend on besides its tables: its version, and the
    /// day (relative date filters).
    static func cacheKey(_ record: DashboardRecord, _ what: String) -> String {
        "dashboard|\(record.id.lower)|\(record.updatedAt.timeIntervalSince1970)|\(Int(Date().timeIntervalSince1970 / 86_400))|\(what)"
    }

    static func tables(of record: DashboardRecord) -> Set<UUID> {
        guard case .array(let widgets)? = (try? JSON.parse(Array(record.config.utf8)))?["widgets"] else { return [] }
        return Set(widgets.compactMap { widget in if case .string(let id)? = widget["table"] { UUID(uuidString: id) } else { nil } })
    }

    func update(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "change dashboards")
        let record = try dashboard(request, principal)
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let title = body.string("title", required: false, minLength: 1, maxLength: 200)
        let theme = body.choice("theme", Dashboards.themes, required: false)
        let widgets = body.array("widgets", required: false, maxCount: Dashboards.maxWidgets)
        let filters = body.array("filters", required: false, maxCount: 20)
        try body.finish()
        let current = (try? JSON.parse(Array(record.config.utf8))) ?? ["widgets": .array([]), "filters": .array([])]
        let currentWidgets: [JSON] = if case .array(let items)? = current["widgets"] { items } else { [] }
        let currentFilters: [JSON] = if case .array(let items)? = current["filters"] { items } else { [] }
        let config = try Dashboards(db).checkedConfig(widgets: widgets ?? currentWidgets, filters: filters ?? currentFilters,
                                                      team: principal.teamID)
        guard let updated = try DashboardRepository(db).update(id: record.id, team: principal.teamID, title: title ?? record.title,
                                                               theme: theme ?? record.theme, config: config.serializedText) else {
            throw APIError.notFound("no such dashboard")
        }
        access.audit(request, principal: principal, action: "dashboard.updated", resourceType: "dashboard", resourceID: record.id.lower)
        return .json(try present(updated, team: principal.teamID, data: true))
    }

    func remove(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "delete dashboards")
        let id = try request.uuidParameter("id")
        guard try DashboardRepository(db).delete(id: id, team: principal.teamID) else { throw APIError.notFound("no such dashboard") }
        access.audit(request, principal: principal, action: "dashboard.deleted", resourceType: "dashboard", resourceID: id.lower)
        return .json(["id": .string(id.lower), "status": "deleted"])
    }

    private func dashboard(_ request: Request, _ principal: Principal) throws -> DashboardRecord {
        guard let record = try DashboardRepository(db).find(id: try request.uuidParameter("id"), team: principal.teamID) else {
            throw APIError.notFound("no such dashboard")
        }
        return record
    }

    /// The configuration, and with `data` each widget's result.
    private func present(_ record: DashboardRecord, team: UUID, data: Bool) throws -> JSON {
        try Dashboards(db).document(record, team: team, data: data)
    }
}
