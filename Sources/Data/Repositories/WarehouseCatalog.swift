import Foundation

/// A warehouse table as exports, queries (and readers) see it, whichever way it was filled: extracted
/// from a document, or copied from a connection by ETL.
public struct WarehouseTableRef: Sendable {
    public enum Source: String, CaseIterable, Sendable, SQLDecodable { case document, connection }
    public let id: UUID
    public let teamID: UUID
    public let source: Source
    public let tableName: String
    /// `[{"name", "header"?, "type"}]` as JSON.
    public let columns: String
    public let rowCount: Int64
    /// The document or connection it came from, and its file name or connection name.
    public let sourceID: UUID
    public let sourceName: String?
    /// Document tables: pages and overall extraction confidence.
    public let pageFrom: Int?
    public let pageTo: Int?
    public let confidence: Double?
    /// Document tables: the table's place among its document's tables (1 for the first),
    /// in the order extraction found them.
    public let tableNumber: Int?
    /// Connection tables: the source table and when it was last synced.
    public let sourceTable: String?
    public let lastSyncAt: Date?
    /// Columns that give the rows a stable order (`_row` for documents, the key for ETL tables).
    public let orderColumns: [String]
    public let createdAt: Date

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        source = try row.decode("source")
        tableName = try row.decode("table_name")
        columns = try row.decode("columns")
        rowCount = try row.decode("row_count")
        sourceID = try row.decode("source_id")
        sourceName = try row.decode("source_name", as: String?.self)
        pageFrom = try row.decode("page_from", as: Int?.self)
        pageTo = try row.decode("page_to", as: Int?.self)
        confidence = try row.decode("confidence", as: Double?.self)
        tableNumber = try row.decode("table_number", as: Int?.self)
        sourceTable = try row.decode("source_table", as: String?.self)
        lastSyncAt = try row.decode("last_sync_at", as: Date?.self)
        orderColumns = try row.decode("order_columns")
        createdAt = try row.decode("created_at")
    }
}

/// Every warehouse table of a team, whatever made it (an extracted document table, an ETL'd
/// source table), in one shape: what exports, queries and dashboards read tables through.
public struct WarehouseCatalogRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// Document tables and connection tables in one shape.
    static let tablesView = SQL(unsafeSQL: """
        SELECT t.id, t.team_id, 'document' AS source, t.table_name, t.columns::text AS columns, t.row_count::bigint AS row_count,
               t.document_id AS source_id, d.filename AS source_name, t.page_from, t.page_to, t.confidence,
               NULL::text AS source_table, NULL::timestamptz AS last_sync_at, ARRAY['_row'] AS order_columns, t.created_at,
               (SELECT count(*)::int FROM extracted_tables o
                WHERE o.document_id = t.document_id AND (o.created_at, o.id) <= (t.created_at, t.id)) AS table_number
        FROM extracted_tables t JOIN documents d ON d.id = t.document_id
        UNION ALL
        SELECT e.id, e.team_id, 'connection', e.warehouse_table, e.columns::text, e.row_count,
               e.connection_id, c.name, NULL, NULL, NULL,
               e.source_schema || '.' || e.source_table, e.last_sync_at, e.primary_key, e.created_at, NULL
        FROM etl_tables e JOIN connections c ON c.id = e.connection_id
        """)

    public func table(id: UUID, team: UUID) throws -> WarehouseTableRef? {
        try db.query("SELECT * FROM (\(WarehouseCatalogRepository.tablesView)) w WHERE id = \(id) AND team_id = \(team)")
            .first.map(WarehouseTableRef.init)
    }

    /// Several tables at once, in the order asked; unknown or foreign ids are missing.
    public func tables(ids: [UUID], team: UUID) throws -> [WarehouseTableRef] {
        let found = try db.query("""
            SELECT * FROM (\(WarehouseCatalogRepository.tablesView)) w WHERE id = ANY(\(ids.map { $0.uuidString.lowercased() })::uuid[]) AND team_id = \(team)
            """).map(WarehouseTableRef.init)
        let byID = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return ids.compactMap { byID[$0] }
    }

    /// The tables made from one document or copied from one connection, oldest first.
    public func tables(from source: UUID, team: UUID) throws -> [WarehouseTableRef] {
        try db.query("""
            SELECT * FROM (\(WarehouseCatalogRepository.tablesView)) w WHERE source_id = \(source) AND team_id = \(team)
            ORDER BY created_at, id
            """).map(WarehouseTableRef.init)
    }

    /// Every warehouse table of a team, newest first, keyset-paginated on (created_at, id).
    public func listTables(team: UUID, source: WarehouseTableRef.Source?, limit: Int, after cursor: (Date, UUID)?) throws -> [WarehouseTableRef] {
        var sql: SQL = "SELECT * FROM (\(WarehouseCatalogRepository.tablesView)) w WHERE team_id = \(team)"
        if let source { sql.append(" AND source = \(source.rawValue)") }
        if let (time, id) = cursor { sql.append(" AND (created_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(WarehouseTableRef.init)
    }
}
