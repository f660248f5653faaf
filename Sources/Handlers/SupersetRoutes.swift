import Connectors
import Data
import ETL
import Foundation
import JSONValues
import Superset

/// `/api/superset`: Superset databases for a team's connections and warehouse, datasets, and
/// dashboards pushed from Assay's. A team sees and uses only what it synced.
struct SupersetRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    func register(on router: Router) {
        router.get("/api/superset/status", access.protect(scope: .dashboardsRead, status))
        router.post("/api/superset/sync/{connection_id}", access.protect(scope: .connections, syncConnection))
        router.post("/api/superset/sync-warehouse", access.protect(scope: .dashboardsWrite, syncWarehouse))
        router.get("/api/superset/databases", access.protect(scope: .dashboardsRead, listDatabases))
        router.get("/api/superset/datasets", access.protect(scope: .dashboardsRead, listDatasets))
        router.post("/api/superset/datasets/create", access.protect(scope: .dashboardsWrite, createDataset))
        router.post("/api/superset/dashboards/{dashboard_id}", access.protect(scope: .dashboardsWrite, quota: .dashboard, pushDashboard))
    }

    // MARK: Errors

    static let notConfigured = APIError(status: 503, code: SupersetError.Kind.notConfigured.rawValue,
                                        message: "Superset is not configured (set SUPERSET_URL, SUPERSET_USERNAME and SUPERSET_PASSWORD)")

    /// Superset's failures as Assay's: 502 when Superset is down, refuses Assay's login or
    /// fails itself; 422 when it refused what the caller asked for (a duplicate, a missing table).
    static func apiError(_ error: SupersetError) -> APIError {
        switch error.kind {
        case .notConfigured: return notConfigured
        case .unreachable, .authFailed: return APIError(status: 502, code: error.kind.rawValue, message: error.message)
        case .warehouseRoleUnavailable: return APIError(status: 503, code: error.kind.rawValue, message: error.message)
        case .rejected:
            return APIError(status: error.isCallersMistake ? 422 : 502, code: error.kind.rawValue,
                            message: "Superset refused the request: \(error.message)")
        }
    }

    func sync() throws -> SupersetSync {
        guard let settings = context.settings.superset else { throw SupersetRoutes.notConfigured }
        return SupersetSync(client: SupersetClient(settings: settings), db: db)
    }

    /// Runs Superset work, mapping its failures (and a connection's unreadable secret) to API errors.
    func calling<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as SupersetError {
            throw SupersetRoutes.apiError(error)
        } catch let failure as SourceOpener.Failure {
            throw APIError(status: 422, code: failure.code, message: failure.message)
        } catch let error as SourceError {
            throw APIError(status: 422, code: error.kind.rawValue, message: error.message)
        }
    }

    // MARK: Status

    func status(_ request: Request, _ principal: Principal) throws -> Response {
        guard let settings = context.settings.superset else {
            return .json(["configured": false, "reachable": false, "logged_in": false, "version": .null, "url": .null, "error": .null])
        }
        let status = SupersetSync(client: SupersetClient(settings: settings), db: db).status()
        let error: JSON = status.error.map { ["code": .string($0.kind.rawValue), "message": .string($0.message)] } ?? .null
        // A URL with credentials in it is shown without them.
        var shown = URLComponents(string: settings.url)
        shown?.user = nil
        shown?.password = nil
        return .json(["configured": true, "reachable": .bool(status.reachable), "logged_in": .bool(status.loggedIn),
                      "version": JSON(status.version), "url": .string(shown?.string ?? "(set)"), "error": error])
    }

    // MARK: Sync

    func syncConnection(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "sync connections to Superset")
        let connectionID = try request.uuidParameter("connection_id")
        var selection = SupersetSync.DatasetSelection.none
        if (request.contentLength ?? 0) > 0 || !(request.header("Content-Type") ?? "").isEmpty {
            var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
            if reader.has("datasets") {
                switch reader.value["datasets"] {
                case .bool(true)?: selection = .all
                case .bool(false)?, .null?: break
                case .array(let items)?:
                    var tables: [(schema: String, table: String)] = []
                    if items.isEmpty || items.count > 200 { reader.fail("datasets", "must list 1 to 200 tables as \"schema.table\"") }
                    for (index, item) in items.enumerated() {
                        guard case .string(let text) = item, let dot = text.firstIndex(of: "."), dot != text.startIndex,
                              text.index(after: dot) != text.endIndex, text.count <= 257 else {
                            reader.fail("datasets[\(index)]", "must be \"schema.table\"")
                            continue
                        }
                        tables.append((String(text[..<dot]), String(text[text.index(after: dot)...])))
                    }
                    selection = .tables(tables)
                default:
                    reader.fail("datasets", "must be true, false or a list of \"schema.table\" names")
                }
            }
            try reader.finish()
        }
        guard let connection = try ConnectionRepository(db).find(id: connectionID, team: principal.teamID) else {
            throw APIError.notFound("no such connection")
        }
        let sync = try sync()
        let result = try calling {
            try sync.syncConnection(connection, settings: context.settings.connections, user: principal.userID, datasets: selection)
        }
        access.audit(request, principal: principal, action: "superset.connection_synced", resourceType: "connection",
                     resourceID: connection.id.lower, detail: ["superset_database_id": .int(Int64(result.database.supersetDatabaseID)),
                                                               "created": .bool(result.created)])
        return .json(SupersetRoutes.present(result), status: result.created ? 201 : 200)
    }

    func syncWarehouse(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "sync the warehouse to Superset")
        if (request.contentLength ?? 0) > 0 {
            let reader = try request.jsonObject(limit: context.settings.maxJSONBody)
            try reader.finish()
        }
        let sync = try sync()
        let result = try calling {
            try sync.syncWarehouse(team: principal.teamID, teamName: principal.teamName, user: principal.userID)
        }
        access.audit(request, principal: principal, action: "superset.warehouse_synced", resourceType: "superset_database",
                     resourceID: String(result.database.supersetDatabaseID),
                     detail: ["tables": .int(Int64(result.datasets.count)), "created": .bool(result.created)])
        return .json(SupersetRoutes.present(result), status: result.created ? 201 : 200)
    }

    // MARK: Listings

    func listDatabases(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, defaultLimit: 20, maxLimit: 100, problems: &problems)
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try SupersetRepository(db).listDatabases(team: principal.teamID, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(page.map(SupersetRoutes.present)), "next_cursor": next])
    }

    func listDatasets(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, defaultLimit: 20, maxLimit: 100, problems: &problems)
        var databaseID: Int?
        if let raw = request.query["database_id"], !raw.isEmpty {
            if let id = Int(raw), id > 0, id <= Int(Int32.max) { databaseID = id } else { problems.append(("database_id", "must be a Superset database id (a positive integer)")) }
        }
        let schema = request.query["schema"].flatMap { $0.isEmpty ? nil : $0 }
        let name = request.query["name"].flatMap { $0.isEmpty ? nil : $0 }
        if (schema?.count ?? 0) > 128 { problems.append(("schema", "must be at most 128 characters")) }
        if (name?.count ?? 0) > 128 { problems.append(("name", "must be at most 128 characters")) }
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try SupersetRepository(db).listDatasets(team: principal.teamID, supersetDatabaseID: databaseID, schema: schema,
                                                           name: name, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(page.map(SupersetRoutes.present)), "next_cursor": next])
    }

    // MARK: Datasets

    func createDataset(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "create Superset datasets")
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let databaseID = reader.has("database_id") ? reader.int("database_id", range: 1...Int(Int32.max)) : nil
        var connectionID: UUID?
        if reader.has("connection_id"), let raw = reader.string("connection_id", maxLength: 64) {
            if let id = UUID(uuidString: raw) { connectionID = id } else { reader.fail("connection_id", "must be a UUID") }
        }
        let schema = reader.string("schema", minLength: 1, maxLength: 128)
        let table = reader.string("table_name", minLength: 1, maxLength: 128)
        if !reader.has("database_id"), !reader.has("connection_id") {
            reader.fail("database_id", "give database_id (a Superset database your team synced) or connection_id")
        } else if reader.has("database_id"), reader.has("connection_id") {
            reader.fail("connection_id", "give database_id or connection_id, not both")
        }
        try reader.finish()
        guard let schema, let table else { throw APIError.validation([("table_name", "is required")]) }
        let repository = SupersetRepository(db)
        let database: SupersetDatabaseRecord?
        if let databaseID {
            database = try repository.database(supersetID: databaseID, team: principal.teamID)
        } else if let connectionID {
            database = try repository.database(connection: connectionID, team: principal.teamID)
        } else {
            database = nil
        }
        guard let database else {
            throw APIError.notFound("no Superset database of your team has this id: sync the connection first (POST /api/superset/sync/{connection_id})")
        }
        let sync = try sync()
        let dataset = try calling { try sync.createDataset(database: database, schema: schema, table: table) }
        access.audit(request, principal: principal, action: "superset.dataset_created", resourceType: "superset_dataset",
                     resourceID: String(dataset.supersetDatasetID), detail: ["schema": .string(schema), "table_name": .string(table)])
        return .json(SupersetRoutes.present(dataset), status: 201)
    }

    // MARK: Dashboards

    func pushDashboard(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "push dashboards to Superset")
        let id = try request.uuidParameter("dashboard_id")
        if (request.contentLength ?? 0) > 0 {
            let reader = try request.jsonObject(limit: context.settings.maxJSONBody)
            try reader.finish()
        }
        guard let dashboard = try DashboardRepository(db).find(id: id, team: principal.teamID) else {
            throw APIError.notFound("no such dashboard")
        }
        let sync = try sync()
        let result = try calling { try sync.pushDashboard(dashboard, teamName: principal.teamName, user: principal.userID) }
        access.audit(request, principal: principal, action: "superset.dashboard_pushed", resourceType: "dashboard",
                     resourceID: dashboard.id.lower, detail: ["superset_dashboard_id": .int(Int64(result.supersetDashboardID)),
                                                              "charts": .int(Int64(result.charts.count))])
        return .json([
            "dashboard_id": .string(dashboard.id.lower), "superset_dashboard_id": .int(Int64(result.supersetDashboardID)),
            "created": .bool(result.created), "url": .string(result.url),
            "charts": .array(result.charts.map { ["widget_id": .string($0.widgetID), "chart_id": .int(Int64($0.chartID)), "viz_type": .string($0.vizType)] }),
        ], status: result.created ? 201 : 200)
    }

    // MARK: Presenting

    static func present(_ d: SupersetDatabaseRecord) -> JSON {
        [
            "id": .int(Int64(d.supersetDatabaseID)), "database_name": .string(d.databaseName), "kind": .string(d.kind.rawValue),
            "connection_id": JSON(d.connectionID?.lower), "datasets": .int(Int64(d.datasetCount)),
            "created_at": Present.time(d.createdAt), "updated_at": Present.time(d.updatedAt),
        ]
    }

    static func present(_ s: SupersetDatasetRecord) -> JSON {
        [
            "id": .int(Int64(s.supersetDatasetID)), "database_id": .int(Int64(s.supersetDatabaseID)), "schema": .string(s.schemaName),
            "table_name": .string(s.tableName), "created_at": Present.time(s.createdAt),
        ]
    }

    static func present(_ r: SupersetSync.SyncResult) -> JSON {
        ["database": present(r.database), "created": .bool(r.created), "datasets": .array(r.datasets.map(present))]
    }
}
