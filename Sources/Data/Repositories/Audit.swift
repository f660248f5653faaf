import Foundation

/// One audit event as written.
public struct AuditEntry: Sendable {
    public var teamID: UUID?
    public var userID: UUID?
    public var apiKeyID: UUID?
    public var action: String
    public var resourceType: String?
    public var resourceID: String?
    public var ipAddress: String?
    public var userAgent: String?
    public var requestID: String?
    /// A JSON object as text; never contains secrets.
    public var detail: String

    public init(teamID: UUID?, userID: UUID?, apiKeyID: UUID?, action: String, resourceType: String?, resourceID: String?,
                ipAddress: String?, userAgent: String?, requestID: String?, detail: String) {
        self.teamID = teamID
        self.userID = userID
        self.apiKeyID = apiKeyID
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.ipAddress = ipAddress
        self.userAgent = userAgent
        self.requestID = requestID
        self.detail = detail
    }
}

public struct AuditRow: Sendable {
    public let id: Int64
    public let createdAt: Date
    public let entry: AuditEntry
}

public struct AuditFilter: Sendable {
    public var team: UUID
    public var user: UUID?
    public var action: String?
    public var resourceType: String?
    public var resourceID: String?
    public var since: Date?
    public var until: Date?
    public var beforeID: Int64?
    public var limit: Int

    public init(team: UUID, user: UUID? = nil, action: String? = nil, resourceType: String? = nil, resourceID: String? = nil,
                since: Date? = nil, until: Date? = nil, beforeID: Int64? = nil, limit: Int = 50) {
        self.team = team
        self.user = user
        self.action = action
        self.resourceType = resourceType
        self.resourceID = resourceID
        self.since = since
        self.until = until
        self.beforeID = beforeID
        self.limit = limit
    }
}

public struct AuditRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    public func record(_ e: AuditEntry) throws {
        try db.query("""
            INSERT INTO audit_logs (team_id, user_id, api_key_id, action, resource_type, resource_id,
                                    ip_address, user_agent, request_id, detail)
            VALUES (\(e.teamID), \(e.userID), \(e.apiKeyID), \(e.action), \(e.resourceType), \(e.resourceID),
                    \(e.ipAddress), \(e.userAgent), \(e.requestID), \(JSONText(e.detail))::jsonb)
            """)
    }

    /// Newest first; `beforeID` is the keyset cursor.
    public func list(_ f: AuditFilter) throws -> [AuditRow] {
        var sql: SQL = """
            SELECT id, created_at, team_id, user_id, api_key_id, action, resource_type, resource_id,
                   ip_address, user_agent, request_id, detail::text AS detail
            FROM audit_logs WHERE team_id = \(f.team)
            """
        if let user = f.user { sql.append(" AND user_id = \(user)") }
        if let action = f.action { sql.append(" AND action = \(action)") }
        if let type = f.resourceType { sql.append(" AND resource_type = \(type)") }
        if let id = f.resourceID { sql.append(" AND resource_id = \(id)") }
        if let since = f.since { sql.append(" AND created_at >= \(since)") }
        if let until = f.until { sql.append(" AND created_at < \(until)") }
        if let before = f.beforeID { sql.append(" AND id < \(before)") }
        sql.append(" ORDER BY id DESC LIMIT \(f.limit)")
        return try db.query(sql).map { row in
            AuditRow(id: try row.decode("id"), createdAt: try row.decode("created_at"), entry: AuditEntry(
                teamID: try row.decode("team_id", as: UUID?.self), userID: try row.decode("user_id", as: UUID?.self),
                apiKeyID: try row.decode("api_key_id", as: UUID?.self), action: try row.decode("action"),
                resourceType: try row.decode("resource_type", as: String?.self),
                resourceID: try row.decode("resource_id", as: String?.self),
                ipAddress: try row.decode("ip_address", as: String?.self), userAgent: try row.decode("user_agent", as: String?.self),
                requestID: try row.decode("request_id", as: String?.self), detail: try row.decode("detail")))
        }
    }
}
