import Connectors
import Data
import ETL
import Foundation
import JSONValues

/// What Assay makes in Superset for a team: a database per synced connection, one for the
/// team's warehouse tables (through a read-only login role of the team's own), datasets, and
/// dashboards pushed from Assay's. Every id Superset gives is recorded (`SupersetRepository`),
/// so a second sync or push updates what the first made instead of duplicating it.
public struct SupersetSync {
    public let client: SupersetClient
    let db: Database

    public init(client: SupersetClient, db: Database) {
        self.client = client
        self.db = db
    }

    var repository: SupersetRepository { SupersetRepository(db) }

    // MARK: Status

    public struct Status: Sendable {
        public var reachable = false
        public var version: String?
        public var loggedIn = false
        public var error: SupersetError?
    }

    /// Whether Superset answers, its version, and whether Assay's login works. Never throws:
    /// a Superset that is down is a status, not a failure.
    public func status() -> Status {
        var status = Status()
        do {
            let response = try client.send("GET", "/version", headers: ["Accept: application/json"], body: nil, idempotent: true)
            status.reachable = response.status > 0
            if response.status == 200, let json = try? JSON.parse(response.body), case .string(let version)? = json["version_string"] {
                status.version = version
            }
            try client.ensureLogin()
            status.loggedIn = true
        } catch let error as SupersetError {
            status.error = error
        } catch {
            status.error = SupersetError(.unreachable, "Superset did not answer")
        }
        return status
    }

    // MARK: Databases

    /// Creates the Superset database `name`, or updates the one made before (`existing`):
    /// PUT to the id Assay recorded; a database Superset no longer has is made anew; a name
    /// Superset already has (Assay's record was lost) is adopted and updated.
    func upsertDatabase(existing: Int?, name: String, uri: String, extra: [(String, JSON)] = []) throws -> (id: Int, created: Bool) {
        var body: [(String, JSON)] = [("database_name", .string(name)), ("sqlalchemy_uri", .string(uri)), ("expose_in_sqllab", true),
                                      ("allow_run_async", false), ("allow_dml", false), ("allow_file_upload", false)]
        body += extra
        if let existing {
            do {
                _ = try client.put("/api/v1/database/\(existing)", .object(body))
                return (existing, false)
            } catch let error as SupersetError where error.kind == .rejected && error.status == 404 {
                // Deleted in Superset: make it again below.
            }
        }
        do {
            let answer = try client.post("/api/v1/database/", .object(body))
            guard case .int(let id)? = answer.body["id"] else { throw SupersetError(.rejected, "Superset's answer has no database id", status: answer.status) }
            return (Int(id), true)
        } catch let error as SupersetError where error.kind == .rejected && error.status == 422
                    && error.message.localizedCaseInsensitiveContains("already exists") {
            guard let id = try findID("/api/v1/database/", filters: [("database_name", "eq", SupersetURI.risonString(name))]) else { throw error }
            _ = try client.put("/api/v1/database/\(id)", .object(body))
            return (id, false)
        }
    }

    /// The id of the first row of a Superset list matching `filters`.
    func findID(_ collection: String, filters: [(column: String, op: String, value: String)]) throws -> Int? {
        let answer = try client.get("\(collection)?q=\(SupersetURI.listQuery(filters: filters, pageSize: 1))")
        if case .array(let rows)? = answer.body["result"], case .int(let id)? = rows.first?["id"] { return Int(id) }
        return nil
    }

    /// Which tables to make datasets of after a sync.
    public enum DatasetSelection: Sendable {
        case none, all
        case tables([(schema: String, table: String)])
    }

    public struct SyncResult: Sendable {
        public let database: SupersetDatabaseRecord
        public let created: Bool
        public let datasets: [SupersetDatasetRecord]
    }

    /// Creates or updates the Superset database of a customer connection (credentials
    /// decrypted as ETL does), then the datasets asked for.
    public func syncConnection(_ record: ConnectionRecord, settings: ConnectionSettings, user: UUID?,
                               datasets selection: DatasetSelection) throws -> SyncResult {
        let opener = SourceOpener(settings: settings)
        let password = try opener.password(of: record)
        let uri: String
        var extra: [(String, JSON)] = []
        switch record.engine {
        case .postgresql:
            var query: [(String, String)] = []
            if record.sslmode != "prefer" { query.append(("sslmode", record.sslmode)) }
            uri = SupersetURI.make(driver: "postgresql+psycopg2", user: record.username, password: password, host: record.host,
                                   port: record.port, database: record.databaseName, query: query)
            if let ca = record.caCertificate { extra.append(("server_cert", .string(ca))) }
        case .mysql:
            uri = SupersetURI.make(driver: "mysql+pymysql", user: record.username, password: password, host: record.host,
                                   port: record.port, database: record.databaseName, query: [("charset", "utf8mb4")])
        }
        let name = "\(record.name) (Assay \(record.id.uuidString.lowercased().prefix(8)))"
        let existing = try repository.database(connection: record.id, team: record.teamID)
        let (id, created): (Int, Bool)
        do {
            (id, created) = try upsertDatabase(existing: existing?.supersetDatabaseID, name: name, uri: uri, extra: extra)
        } catch let error as SupersetError {
            throw error.redacting(password)
        }
        let saved = try repository.saveDatabase(team: record.teamID, user: user, kind: .connection, connection: record.id,
                                                warehouseRole: nil, supersetID: id, name: name)
        if existing?.supersetDatabaseID != id { try repository.forgetDatasets(database: saved.id) }
        var wanted: [(schema: String, table: String)] = []
        switch selection {
        case .none: break
        case .tables(let list): wanted = list
        case .all:
            // A source that cannot be read is the caller's (422, as in the connection test).
            wanted = try opener.open(record).schema().filter { $0.kind != "view" }.prefix(100).map { ($0.schema, $0.name) }
        }
        let made = try ensureDatasets(database: saved, tables: wanted)
        return SyncResult(database: try repository.database(connection: record.id, team: record.teamID) ?? saved, created: created, datasets: made)
    }

    // MARK: Datasets

    /// Makes a dataset of `schema.table` in the team's Superset database. Superset's 422 for
    /// a duplicate or a missing table is the caller's to see (`superset_rejected`).
    public func createDataset(database: SupersetDatabaseRecord, schema: String, table: String) throws -> SupersetDatasetRecord {
        let answer = try client.post("/api/v1/dataset/", ["database": .int(Int64(database.supersetDatabaseID)),
                                                         "schema": .string(schema), "table_name": .string(table)])
        guard case .int(let id)? = answer.body["id"] else { throw SupersetError(.rejected, "Superset's answer has no dataset id", status: answer.status) }
        return try repository.saveDataset(team: database.teamID, database: database.id, supersetID: Int(id), schema: schema, table: table)
    }

    /// The datasets of `tables`, made where missing (or adopted when Superset already has one).
    func ensureDatasets(database: SupersetDatabaseRecord, tables: [(schema: String, table: String)]) throws -> [SupersetDatasetRecord] {
        var result: [SupersetDatasetRecord] = []
        for (schema, table) in tables {
            if let known = try repository.dataset(database: database.id, schema: schema, table: table) {
                // Still there? (Somebody may have deleted it in Superset.)
                do {
                    _ = try client.get("/api/v1/dataset/\(known.supersetDatasetID)")
                    result.append(known)
                    continue
                } catch let error as SupersetError where error.kind == .rejected && error.status == 404 {
                    try repository.forgetDataset(id: known.id)
                }
            }
            do {
                result.append(try createDataset(database: database, schema: schema, table: table))
            } catch let error as SupersetError where error.kind == .rejected && error.status == 422
                        && error.message.localizedCaseInsensitiveContains("already exists") {
                guard let id = try findID("/api/v1/dataset/", filters: [
                    ("table_name", "eq", SupersetURI.risonString(table)), ("schema", "eq", SupersetURI.risonString(schema)),
                    ("database", "rel_o_m", String(database.supersetDatabaseID)),
                ]) else { throw error }
                result.append(try repository.saveDataset(team: database.teamID, database: database.id, supersetID: id, schema: schema, table: table))
            }
        }
        return result
    }

    // MARK: The warehouse

    /// The login role of a team's warehouse database: one per team, named by its id.
    public static func warehouseRole(team: UUID) -> String {
        "assay_superset_" + team.uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// Makes the team's warehouse tables a Superset database: a read-only login role that may
    /// read exactly the team's tables (a new random password when `rotate` or when it is new),
    /// the database pointing at Assay's PostgreSQL as that role, and a dataset per table
    /// (`only`: just these tables).
    public func syncWarehouse(team: UUID, teamName: String, user: UUID?, rotate: Bool = true, only: [String]? = nil) throws -> SyncResult {
        let role = SupersetSync.warehouseRole(team: team)
        let tables = try repository.warehouseTableNames(team: team)
        let existing = try repository.warehouseDatabase(team: team)
        let newPassword = rotate || existing == nil
        var bytes = [UInt8](repeating: 0, count: 24)
        for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255) }
        let password = bytes.map { String(format: "%02x", $0) }.joined()
        do {
            try repository.provisionWarehouseRole(role, password: newPassword ? password : nil, tables: tables)
        } catch let error as DataError {
            if case .server(let state, _, _) = error, state == "42501" {
                throw SupersetError(.warehouseRoleUnavailable,
                                    "Assay's database role may not create the warehouse's login role for Superset (it needs CREATEROLE)")
            }
            throw error
        }
        let name = "Assay warehouse: \(teamName) (\(team.uuidString.lowercased().prefix(8)))"
        var id = existing?.supersetDatabaseID ?? 0
        var created = false
        if newPassword {
            let address = try repository.serverAddress()
            var host: String
            var port: Int? = address.port
            var query: [(String, String)] = []
            if let override = client.settings.databaseURIHost, !override.isEmpty {
                (host, port) = SupersetURI.splitHost(override)
            } else if let own = SupersetURI.hostOf(databaseURL: client.settings.warehouseURL) {
                host = own.host
            } else {
                host = "127.0.0.1"
            }
            // A unix socket directory (Superset on the same machine): libpq's `host` parameter.
            if host.hasPrefix("/") {
                query = [("host", host), ("port", String(port ?? address.port))]
                host = ""
                port = nil
            }
            let uri = SupersetURI.make(driver: "postgresql+psycopg2", user: role, password: password, host: host, port: port,
                                       database: address.database, query: query)
            do {
                (id, created) = try upsertDatabase(existing: existing?.supersetDatabaseID, name: name, uri: uri,
                                                   extra: [("extra", .string(#"{"schemas_allowed_for_file_upload": []}"#))])
            } catch let error as SupersetError {
                throw error.redacting(password)
            }
        }
        let saved = try repository.saveDatabase(team: team, user: user, kind: .warehouse, connection: nil, warehouseRole: role,
                                                supersetID: id, name: name)
        if existing != nil, existing?.supersetDatabaseID != id { try repository.forgetDatasets(database: saved.id) }
        let wanted = (only ?? tables).filter { tables.contains($0) }.map { (schema: "warehouse", table: $0) }
        let made = try ensureDatasets(database: saved, tables: wanted)
        return SyncResult(database: try repository.warehouseDatabase(team: team) ?? saved, created: created, datasets: made)
    }

    // MARK: Dashboards

    public struct PushResult: Sendable {
        public let supersetDashboardID: Int
        public let created: Bool
        /// Widget id → chart id, in widget order.
        public let charts: [(widgetID: String, chartID: Int, vizType: String)]
        public let url: String
    }

    /// Pushes an Assay dashboard: the team's warehouse database and a dataset per widget table
    /// (made when missing), a Superset dashboard, a chart per widget on it. A second push
    /// updates the same dashboard and charts; charts of removed widgets are deleted.
    public func pushDashboard(_ dashboard: DashboardRecord, teamName: String, user: UUID?) throws -> PushResult {
        let config = (try? JSON.parse(Array(dashboard.config.utf8))) ?? .null
        let widgets: [JSON] = if case .array(let items)? = config["widgets"] { items } else { [] }
        let catalog = WarehouseCatalogRepository(db)
        let tableIDs = widgets.compactMap { widget -> UUID? in if case .string(let text)? = widget["table"] { UUID(uuidString: text) } else { nil } }
        let tables = Dictionary(try catalog.tables(ids: Array(Set(tableIDs)), team: dashboard.teamID).map { ($0.id, $0.tableName) },
                                uniquingKeysWith: { first, _ in first })
        let hasWarehouse = try repository.warehouseDatabase(team: dashboard.teamID) != nil
        let warehouse = try syncWarehouse(team: dashboard.teamID, teamName: teamName, user: user, rotate: !hasWarehouse,
                                          only: Array(Set(tables.values)).sorted())
        let datasets = Dictionary(warehouse.datasets.map { ($0.tableName, $0.supersetDatasetID) }, uniquingKeysWith: { first, _ in first })

        let previous = try repository.dashboard(id: dashboard.id, team: dashboard.teamID)
        var known: [String: Int] = [:]
        if let previous, case .object(let members)? = try? JSON.parse(Array(previous.charts.utf8)) {
            for (widget, value) in members { if case .int(let id) = value { known[widget] = Int(id) } }
        }
        // The dashboard first: charts name it as theirs.
        var dashboardID = previous?.supersetDashboardID
        var created = false
        let head: JSON = ["dashboard_title": .string(dashboard.title), "published": true]
        if let id = dashboardID {
            do { _ = try client.put("/api/v1/dashboard/\(id)", head) } catch let error as SupersetError where error.kind == .rejected && error.status == 404 {
                dashboardID = nil
                known = [:]
            }
        }
        if dashboardID == nil {
            let answer = try client.post("/api/v1/dashboard/", head)
            guard case .int(let id)? = answer.body["id"] else { throw SupersetError(.rejected, "Superset's answer has no dashboard id", status: answer.status) }
            dashboardID = Int(id)
            created = true
        }
        let supersetDashboard = dashboardID!
        var charts: [(widgetID: String, chartID: Int, vizType: String)] = []
        var placed: [(chartID: Int, name: String, layout: JSON?)] = []
        for (index, widget) in widgets.enumerated() {
            let widgetID: String = if case .string(let text)? = widget["id"] { text } else { "w\(index + 1)" }
            let title: String = if case .string(let text)? = widget["title"] { text } else { widgetID }
            guard case .string(let tableText)? = widget["table"], let tableID = UUID(uuidString: tableText),
                  let table = tables[tableID], let dataset = datasets[table] else { continue }
            let chart = ChartParams(widget: widget, datasetID: dataset)
            let body: JSON = ["slice_name": .string(title), "viz_type": .string(chart.vizType), "datasource_id": .int(Int64(dataset)),
                              "datasource_type": "table", "params": .string(chart.paramsText),
                              "dashboards": [.int(Int64(supersetDashboard))]]
            var chartID: Int?
            if let id = known[widgetID] {
                do {
                    _ = try client.put("/api/v1/chart/\(id)", body)
                    chartID = id
                } catch let error as SupersetError where error.kind == .rejected && error.status == 404 {}
            }
            if chartID == nil {
                let answer = try client.post("/api/v1/chart/", body)
                guard case .int(let id)? = answer.body["id"] else { throw SupersetError(.rejected, "Superset's answer has no chart id", status: answer.status) }
                chartID = Int(id)
            }
            charts.append((widgetID, chartID!, chart.vizType))
            placed.append((chartID!, title, widget["layout"]))
            // Saved after every chart: a push that fails half-way still knows what it made.
            try repository.saveDashboard(id: dashboard.id, team: dashboard.teamID, supersetID: supersetDashboard,
                                         charts: JSON.object(charts.map { ($0.widgetID, .int(Int64($0.chartID))) }).serializedText)
        }
        try repository.saveDashboard(id: dashboard.id, team: dashboard.teamID, supersetID: supersetDashboard,
                                     charts: JSON.object(charts.map { ($0.widgetID, .int(Int64($0.chartID))) }).serializedText)
        let kept = Set(charts.map(\.chartID))
        for (_, id) in known where !kept.contains(id) {
            do { _ = try client.delete("/api/v1/chart/\(id)") } catch let error as SupersetError where error.kind == .rejected {}
        }
        _ = try client.put("/api/v1/dashboard/\(supersetDashboard)",
                           ["position_json": .string(ChartParams.positionJSON(title: dashboard.title, charts: placed))])
        return PushResult(supersetDashboardID: supersetDashboard, created: created, charts: charts,
                          url: "\(client.settings.url)/superset/dashboard/\(supersetDashboard)/")
    }
}
