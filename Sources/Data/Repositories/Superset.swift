import Foundation

/// A Superset database a team made: a customer connection's, or the team's warehouse.
public struct SupersetDatabaseRecord: Sendable {
    public enum Kind: String, Sendable, SQLDecodable, SQLBindable { case connection, warehouse }
    public let id: UUID
    public let teamID: UUID
    public let kind: Kind
    public let connectionID: UUID?
    public let warehouseRole: String?
    public let supersetDatabaseID: Int
    public let databaseName: String
    public let datasetCount: Int
    public let createdAt: Date
    public let updatedAt: Date

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        kind = try row.decode("kind")
        connectionID = try row.decode("connection_id", as: UUID?.self)
        warehouseRole = try row.decode("warehouse_role", as: String?.self)
        supersetDatabaseID = try row.decode("superset_database_id")
        databaseName = try row.decode("database_name")
        datasetCount = try row.decode("dataset_count")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

/// A Superset dataset a team made, with the Superset database it belongs to.
public struct SupersetDatasetRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let databaseID: UUID
    public let supersetDatabaseID: Int
    public let supersetDatasetID: Int
    public let schemaName: String
    public let tableName: String
    public let createdAt: Date

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        databaseID = try row.decode("database_id")
        supersetDatabaseID = try row.decode("superset_database_id")
        supersetDatasetID = try row.decode("superset_dataset_id")
        schemaName = try row.decode("schema_name")
        tableName = try row.decode("table_name")
        createdAt = try row.decode("created_at")
    }
}

/// An Assay dashboard pushed to Superset: the Superset dashboard and each widget's chart.
public struct SupersetDashboardRecord: Sendable {
    public let dashboardID: UUID
    public let supersetDashboardID: Int
    /// `{"widget id": chart id}` as JSON.
    public let charts: String

    init(_ row: Row) throws {
        dashboardID = try row.decode("dashboard_id")
        supersetDashboardID = try row.decode("superset_dashboard_id")
        charts = try row.decode("charts")
    }
}

/// The `superset_*` tables, and the read-only login role a team's warehouse is shown to Superset through.
public struct SupersetRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let databaseColumns = SQL(unsafeSQL: """
        d.id, d.team_id, d.kind, d.connection_id, d.warehouse_role, d.superset_database_id, d.database_name,
        (SELECT count(*) FROM superset_datasets s WHERE s.database_id = d.id)::int AS dataset_count, d.created_at, d.updated_at
        """)
    static let datasetColumns = SQL(unsafeSQL: """
        s.id, s.team_id, s.database_id, d.superset_database_id, s.superset_dataset_id, s.schema_name, s.table_name, s.created_at
        """)

    // MARK: Databases

    public func database(connection: UUID, team: UUID) throws -> SupersetDatabaseRecord? {
        try db.query("""
            SELECT \(SupersetRepository.databaseColumns) FROM superset_databases d
            WHERE d.kind = 'connection' AND d.connection_id = \(connection) AND d.team_id = \(team)
            """).first.map(SupersetDatabaseRecord.init)
    }

    public func warehouseDatabase(team: UUID) throws -> SupersetDatabaseRecord? {
        try db.query("""
            SELECT \(SupersetRepository.databaseColumns) FROM superset_databases d WHERE d.kind = 'warehouse' AND d.team_id = \(team)
            """).first.map(SupersetDatabaseRecord.init)
    }

    /// The team's database with this Superset id (nil when another team made it, or nobody did).
    public func database(supersetID: Int, team: UUID) throws -> SupersetDatabaseRecord? {
        try db.query("""
            SELECT \(SupersetRepository.databaseColumns) FROM superset_databases d
            WHERE d.superset_database_id = \(supersetID) AND d.team_id = \(team)
            """).first.map(SupersetDatabaseRecord.init)
    }

    /// Records a synced database, or updates the record of the connection's (or warehouse's) earlier sync.
    public func saveDatabase(team: UUID, user: UUID?, kind: SupersetDatabaseRecord.Kind, connection: UUID?, warehouseRole: String?,
                             supersetID: Int, name: String) throws -> SupersetDatabaseRecord {
        let conflict = kind == .connection
            ? SQL(unsafeSQL: "(connection_id) WHERE kind = 'connection'") : SQL(unsafeSQL: "(team_id) WHERE kind = 'warehouse'")
        let saved = try db.query("""
            INSERT INTO superset_databases (team_id, kind, connection_id, warehouse_role, superset_database_id, database_name, created_by)
            VALUES (\(team), \(kind), \(connection), \(warehouseRole), \(supersetID), \(name), \(user))
            ON CONFLICT \(conflict) DO UPDATE SET superset_database_id = EXCLUDED.superset_database_id,
                database_name = EXCLUDED.database_name, warehouse_role = EXCLUDED.warehouse_role, updated_at = now()
            RETURNING id
            """)
        let id: UUID = try saved[0].decode("id")
        return try db.query("SELECT \(SupersetRepository.databaseColumns) FROM superset_databases d WHERE d.id = \(id)")
            .map(SupersetDatabaseRecord.init)[0]
    }

    /// Forgets the datasets of a database Superset no longer has (it was made anew).
    public func forgetDatasets(database: UUID) throws {
        try db.query("DELETE FROM superset_datasets WHERE database_id = \(database)")
    }

    /// The team's databases, newest first, keyset-paginated on (created_at, id).
    public func listDatabases(team: UUID, limit: Int, after cursor: (Date, UUID)?) throws -> [SupersetDatabaseRecord] {
        var sql: SQL = "SELECT \(SupersetRepository.databaseColumns) FROM superset_databases d WHERE d.team_id = \(team)"
        if let (time, id) = cursor { sql.append(" AND (d.created_at, d.id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY d.created_at DESC, d.id DESC LIMIT \(limit)")
        return try db.query(sql).map(SupersetDatabaseRecord.init)
    }

    // MARK: Datasets

    public func dataset(database: UUID, schema: String, table: String) throws -> SupersetDatasetRecord? {
        try db.query("""
            SELECT \(SupersetRepository.datasetColumns) FROM superset_datasets s JOIN superset_databases d ON d.id = s.database_id
            WHERE s.database_id = \(database) AND s.schema_name = \(schema) AND s.table_name = \(table)
            """).first.map(SupersetDatasetRecord.init)
    }

    public func datasets(database: UUID) throws -> [SupersetDatasetRecord] {
        try db.query("""
            SELECT \(SupersetRepository.datasetColumns) FROM superset_datasets s JOIN superset_databases d ON d.id = s.database_id
            WHERE s.database_id = \(database) ORDER BY s.schema_name, s.table_name
            """).map(SupersetDatasetRecord.init)
    }

    public func saveDataset(team: UUID, database: UUID, supersetID: Int, schema: String, table: String) throws -> SupersetDatasetRecord {
        try db.query("""
            INSERT INTO superset_datasets (team_id, database_id, superset_dataset_id, schema_name, table_name)
            VALUES (\(team), \(database), \(supersetID), \(schema), \(table))
            ON CONFLICT (database_id, schema_name, table_name) DO UPDATE SET superset_dataset_id = EXCLUDED.superset_dataset_id
            """)
        return try dataset(database: database, schema: schema, table: table)!
    }

    public func forgetDataset(id: UUID) throws {
        try db.query("DELETE FROM superset_datasets WHERE id = \(id)")
    }

    /// The team's datasets, newest first, keyset-paginated on (created_at, id); filtered by
    /// Superset database id, schema (exact) and table name (substring, case-insensitive).
    public func listDatasets(team: UUID, supersetDatabaseID: Int?, schema: String?, name: String?, limit: Int,
                             after cursor: (Date, UUID)?) throws -> [SupersetDatasetRecord] {
        var sql: SQL = """
            SELECT \(SupersetRepository.datasetColumns) FROM superset_datasets s JOIN superset_databases d ON d.id = s.database_id
            WHERE s.team_id = \(team)
            """
        if let supersetDatabaseID { sql.append(" AND d.superset_database_id = \(supersetDatabaseID)") }
        if let schema { sql.append(" AND s.schema_name = \(schema)") }
        if let name { sql.append(" AND strpos(lower(s.table_name), lower(\(name))) > 0") }
        if let (time, id) = cursor { sql.append(" AND (s.created_at, s.id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY s.created_at DESC, s.id DESC LIMIT \(limit)")
        return try db.query(sql).map(SupersetDatasetRecord.init)
    }

    // MARK: Dashboards

    public func dashboard(id: UUID, team: UUID) throws -> SupersetDashboardRecord? {
        try db.query("""
            SELECT dashboard_id, superset_dashboard_id, charts::text AS charts FROM superset_dashboards
            WHERE dashboard_id = \(id) AND team_id = \(team)
            """).first.map(SupersetDashboardRecord.init)
    }

    public func saveDashboard(id: UUID, team: UUID, supersetID: Int, charts: String) throws {
        try db.query("""
            INSERT INTO superset_dashboards (dashboard_id, team_id, superset_dashboard_id, charts)
            VALUES (\(id), \(team), \(supersetID), \(JSONText(charts))::jsonb)
            ON CONFLICT (dashboard_id) DO UPDATE SET superset_dashboard_id = EXCLUDED.superset_dashboard_id,
                charts = EXCLUDED.charts, updated_at = now()
            """)
    }

    // MARK: The warehouse's login role

    /// The names of the team's tables in the warehouse schema (extracted and ETL'd), oldest first.
    public func warehouseTableNames(team: UUID) throws -> [String] {
        try db.query("""
            SELECT table_name FROM (
                SELECT table_name, created_at FROM extracted_tables WHERE team_id = \(team)
                UNION ALL
                SELECT warehouse_table, created_at FROM etl_tables WHERE team_id = \(team)
            ) t WHERE to_regclass(format('warehouse.%I', table_name)) IS NOT NULL
            ORDER BY created_at, table_name
            """).map { row -> String in try row.decode("table_name") }
    }

    /// Creates the login role, or gives it a new password, that may read exactly `tables` of
    /// the warehouse schema and nothing else: no other table, no writes (read-only
    /// transactions), a few connections. The password is passed as a bound setting and set
    /// by `format(%L)` inside the server, so it never appears in a statement's text or a log.
    /// Needs Assay's database role to have CREATEROLE.
    public func provisionWarehouseRole(_ role: String, password: String?, tables: [String]) throws {
        try db.transaction { db in
            let exists = try db.query("SELECT 1 FROM pg_roles WHERE rolname = \(role)").count > 0
            if !exists {
                try db.query("CREATE ROLE \(identifier: role) LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT CONNECTION LIMIT 10")
            }
            if let password {
                try db.query("SELECT set_config('assay.role_password', \(password), true)")
                try db.query("""
                    DO $$ BEGIN
                        EXECUTE format('ALTER ROLE %I PASSWORD %L', \(unsafeSQL: SQL.quoteLiteral(role)), current_setting('assay.role_password'));
                    END $$
                    """)
                try db.query("SELECT set_config('assay.role_password', '', true)")
            }
            try db.query("ALTER ROLE \(identifier: role) SET default_transaction_read_only = on")
            try db.query("ALTER ROLE \(identifier: role) SET statement_timeout = '60s'")
            let database: String = try db.query("SELECT current_database() AS name")[0].decode("name")
            try db.query("GRANT CONNECT ON DATABASE \(identifier: database) TO \(identifier: role)")
            try db.query("GRANT USAGE ON SCHEMA warehouse TO \(identifier: role)")
            try db.query("REVOKE ALL ON ALL TABLES IN SCHEMA warehouse FROM \(identifier: role)")
            for table in tables {
                try db.query("GRANT SELECT ON warehouse.\(identifier: table) TO \(identifier: role)")
            }
        }
    }

    /// The database Assay is connected to and the port its server listens on.
    public func serverAddress() throws -> (port: Int, database: String) {
        let row = try db.query("SELECT current_database() AS name, current_setting('port')::int AS port")[0]
        return (try row.decode("port"), try row.decode("name"))
    }
}
