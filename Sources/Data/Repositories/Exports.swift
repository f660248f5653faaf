import Foundation


/// The file formats tables are exported as (`exports.format` of table and batch exports).
public enum ExportFormat: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case csv, excel, json, pdf
}

/// Where an export job is (`exports.status`); a succeeded export's file expires.
public enum ExportStatus: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case queued, running, succeeded, failed, expired
}

/// An export that runs as a job: the request, its progress and the file it produced.
public struct ExportRecord: Sendable {
    /// One table's file, a zip of several tables, or a dashboard's file (`exports.kind`).
    public enum Kind: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
        case table, batch, dashboard
    }

    public let id: UUID
    public let teamID: UUID
    public let createdBy: UUID?
    public let kind: Kind
    /// As requested: an `ExportFormat` for tables, a dashboard format (`pdf`, `excel`,
    /// `json`, `png`) for dashboards. The job reads it back through the kind's spec.
    public let format: String
    /// The options as given, as JSON.
    public let options: String
    public let tableIDs: [UUID]
    /// The dashboard a dashboard export draws; nil for tables (and once it is deleted).
    public let dashboardID: UUID?
    public let jobID: UUID?
    public let status: ExportStatus
    public let rowsDone: Int64
    public let rowsTotal: Int64?
    public let tablesDone: Int
    public let fileName: String?
    /// Relative to the exports directory.
    public let filePath: String?
    public let contentType: String?
    public let bytes: Int64?
    public let error: String?
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?
    public let expiresAt: Date?

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        createdBy = try row.decode("created_by", as: UUID?.self)
        kind = try row.decode("kind")
        format = try row.decode("format")
        options = try row.decode("options")
        tableIDs = try (row.decode("table_ids") as [String]).compactMap(UUID.init(uuidString:))
        dashboardID = try row.decode("dashboard_id", as: UUID?.self)
        jobID = try row.decode("job_id", as: UUID?.self)
        status = try row.decode("status")
        rowsDone = try row.decode("rows_done")
        rowsTotal = try row.decode("rows_total", as: Int64?.self)
        tablesDone = try row.decode("tables_done")
        fileName = try row.decode("file_name", as: String?.self)
        filePath = try row.decode("file_path", as: String?.self)
        contentType = try row.decode("content_type", as: String?.self)
        bytes = try row.decode("bytes", as: Int64?.self)
        error = try row.decode("error", as: String?.self)
        createdAt = try row.decode("created_at")
        startedAt = try row.decode("started_at", as: Date?.self)
        finishedAt = try row.decode("finished_at", as: Date?.self)
        expiresAt = try row.decode("expires_at", as: Date?.self)
    }
}

public struct ExportRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// `[[text, confidence], …]` per row of a document table, as JSON; nil for other tables.
    public func cells(tableID: UUID) throws -> String? {
        try db.query("SELECT cells::text AS cells FROM extracted_tables WHERE id = \(tableID)").first
            .flatMap { try $0.decode("cells", as: String?.self) }
    }

    static let columns = SQL(unsafeSQL: """
        id, team_id, created_by, kind, format, options::text AS options, table_ids::text[] AS table_ids, dashboard_id, job_id, status,
        rows_done, rows_total, tables_done, file_name, file_path, content_type, bytes, error, created_at, started_at,
        finished_at, expires_at
        """)

    public func create(id: UUID, team: UUID, user: UUID?, kind: ExportRecord.Kind, format: String, options: String, tables: [UUID],
                       dashboard: UUID? = nil, rowsTotal: Int64, job: UUID) throws -> ExportRecord {
        try ExportRecord(db.query("""
            INSERT INTO exports (id, team_id, created_by, kind, format, options, table_ids, dashboard_id, job_id, rows_total)
            VALUES (\(id), \(team), \(user), \(kind), \(format), \(JSONText(options))::jsonb, \(tables.map { $0.uuidString.lowercased() })::uuid[],
                    \(dashboard), \(job), \(rowsTotal))
            RETURNING \(ExportRepository.columns)
            """)[0])
    }

    public func find(id: UUID, team: UUID?) throws -> ExportRecord? {
        var sql: SQL = "SELECT \(ExportRepository.columns) FROM exports WHERE id = \(id)"
        if let team { sql.append(" AND team_id = \(team)") }
        return try db.query(sql).first.map(ExportRecord.init)
    }

    /// Newest first, keyset-paginated on (created_at, id).
    public func list(team: UUID, status: ExportStatus?, limit: Int, after cursor: (Date, UUID)?) throws -> [ExportRecord] {
        var sql: SQL = "SELECT \(ExportRepository.columns) FROM exports WHERE team_id = \(team)"
        if let status { sql.append(" AND status = \(status)") }
        if let (time, id) = cursor { sql.append(" AND (created_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(ExportRecord.init)
    }

    /// A (re)started attempt: progress back to zero.
    public func markRunning(id: UUID) throws {
        try db.query("""
            UPDATE exports SET status = 'running', rows_done = 0, tables_done = 0, error = NULL,
                started_at = coalesce(started_at, now()) WHERE id = \(id)
            """)
    }

    public func progress(id: UUID, rowsDone: Int64, tablesDone: Int) throws {
        try db.query("UPDATE exports SET rows_done = \(rowsDone), tables_done = \(tablesDone) WHERE id = \(id)")
    }

    public func succeed(id: UUID, rows: Int64, tables: Int, fileName: String, filePath: String, contentType: String,
                        bytes: Int64, ttlSeconds: Int) throws {
        try db.query("""
            UPDATE exports SET status = 'succeeded', rows_done = \(rows), tables_done = \(tables), file_name = \(fileName),
                file_path = \(filePath), content_type = \(contentType), bytes = \(bytes), finished_at = now(),
                expires_at = now() + make_interval(secs => \(ttlSeconds))
            WHERE id = \(id)
            """)
    }

    public func fail(id: UUID, error: String) throws {
        try db.query("UPDATE exports SET status = 'failed', error = \(error), finished_at = now() WHERE id = \(id)")
    }

    /// Marks finished exports past their expiry as expired and returns their files to delete.
    public func expireDue(limit: Int = 100) throws -> [String] {
        try db.query("""
            UPDATE exports SET status = 'expired' WHERE id IN (
                SELECT id FROM exports WHERE status = 'succeeded' AND expires_at <= now() ORDER BY expires_at LIMIT \(limit)
                FOR UPDATE SKIP LOCKED)
            RETURNING file_path
            """).compactMap { try $0.decode("file_path", as: String?.self) }
    }
}
