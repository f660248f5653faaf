import Foundation

public struct DashboardRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let title: String
    public let theme: String
    /// `{"widgets": [...], "filters": [...]}` as JSON.
    public let config: String
    /// Where it was generated from (`document_id`, `table_ids`, `connection_id`), as JSON.
    public let sources: String
    public let createdAt: Date
    public let updatedAt: Date

    /// A dashboard not read from the database (an export's tests draw one).
    public init(id: UUID, teamID: UUID, title: String, theme: String, config: String, sources: String = "{}",
                createdAt: Date = Date(), updatedAt: Date = Date()) {
        self.id = id
        self.teamID = teamID
        self.title = title
        self.theme = theme
        self.config = config
        self.sources = sources
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        title = try row.decode("title")
        theme = try row.decode("theme")
        config = try row.decode("config")
        sources = try row.decode("sources")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

public struct DashboardRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: "id, team_id, title, theme, config::text AS config, sources::text AS sources, created_at, updated_at")

    public func create(team: UUID, user: UUID?, title: String, theme: String, config: String, sources: String) throws -> DashboardRecord {
        try DashboardRecord(db.query("""
            INSERT INTO dashboards (team_id, created_by, title, theme, config, sources)
            VALUES (\(team), \(user), \(title), \(theme), \(JSONText(config))::jsonb, \(JSONText(sources))::jsonb)
            RETURNING \(DashboardRepository.columns)
            """)[0])
    }

    public func find(id: UUID, team: UUID) throws -> DashboardRecord? {
        try db.query("SELECT \(DashboardRepository.columns) FROM dashboards WHERE id = \(id) AND team_id = \(team)")
            .first.map(DashboardRecord.init)
    }

    /// Newest first, keyset-paginated on (created_at, id).
    public func list(team: UUID, limit: Int, after cursor: (Date, UUID)?) throws -> [DashboardRecord] {
        var sql: SQL = "SELECT \(DashboardRepository.columns) FROM dashboards WHERE team_id = \(team)"
        if let (time, id) = cursor { sql.append(" AND (created_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(DashboardRecord.init)
    }

    public func update(id: UUID, team: UUID, title: String, theme: String, config: String) throws -> DashboardRecord? {
        try db.query("""
            UPDATE dashboards SET title = \(title), theme = \(theme), config = \(JSONText(config))::jsonb, updated_at = now()
            WHERE id = \(id) AND team_id = \(team)
            RETURNING \(DashboardRepository.columns)
            """).first.map(DashboardRecord.init)
    }

    public func delete(id: UUID, team: UUID) throws -> Bool {
        try db.query("DELETE FROM dashboards WHERE id = \(id) AND team_id = \(team) RETURNING id").count > 0
    }
}
