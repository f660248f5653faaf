import Foundation

public struct ApiKeyRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let userID: UUID
    public let name: String
    public let prefix: String
    public let keyHash: [UInt8]
    public let scopes: [String]
    public let hourlyLimit: Int?
    public let expiresAt: Date?
    public let createdAt: Date
    public let lastUsedAt: Date?
    public let revokedAt: Date?

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        userID = try row.decode("user_id")
        name = try row.decode("name")
        prefix = try row.decode("prefix")
        keyHash = try row.decode("key_hash", as: ByteA.self).bytes
        scopes = try row.decode("scopes")
        hourlyLimit = try row.decode("hourly_limit", as: Int?.self)
        expiresAt = try row.decode("expires_at", as: Date?.self)
        createdAt = try row.decode("created_at")
        lastUsedAt = try row.decode("last_used_at", as: Date?.self)
        revokedAt = try row.decode("revoked_at", as: Date?.self)
    }
}

/// The key with its owner's state and role, for authentication.
public struct ApiKeyAuth: Sendable {
    public let key: ApiKeyRecord
    public let userActive: Bool
    public let role: String?
    public let teamName: String?
}

/// API keys: stored as SHA-256 of the secret, looked up by their public prefix.
public struct ApiKeyRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: """
        k.id, k.team_id, k.user_id, k.name, k.prefix, k.key_hash, k.scopes, k.hourly_limit,
        k.expires_at, k.created_at, k.last_used_at, k.revoked_at
        """)

    public func create(team: UUID, user: UUID, name: String, prefix: String, keyHash: [UInt8], scopes: [String],
                       hourlyLimit: Int?, expiresAt: Date?) throws -> ApiKeyRecord {
        try ApiKeyRecord(db.query("""
            INSERT INTO api_keys AS k (team_id, user_id, name, prefix, key_hash, scopes, hourly_limit, expires_at)
            VALUES (\(team), \(user), \(name), \(prefix), \(ByteA(keyHash)), \(scopes)::text[], \(hourlyLimit), \(expiresAt))
            RETURNING \(ApiKeyRepository.columns)
            """)[0])
    }

    public func list(team: UUID) throws -> [ApiKeyRecord] {
        try db.query("""
            SELECT \(ApiKeyRepository.columns) FROM api_keys k WHERE k.team_id = \(team) AND k.revoked_at IS NULL
            ORDER BY k.created_at DESC
            """).map(ApiKeyRecord.init)
    }

    public func revoke(team: UUID, id: UUID) throws -> Bool {
        try db.query("UPDATE api_keys SET revoked_at = now() WHERE id = \(id) AND team_id = \(team) AND revoked_at IS NULL")
            .affectedRows == 1
    }

    public func forAuthentication(prefix: String) throws -> ApiKeyAuth? {
        guard let row = try db.query("""
            SELECT \(ApiKeyRepository.columns), u.is_active AS user_active, m.role, t.name AS team_name
            FROM api_keys k JOIN users u ON u.id = k.user_id JOIN teams t ON t.id = k.team_id
            LEFT JOIN team_members m ON m.team_id = k.team_id AND m.user_id = k.user_id
            WHERE k.prefix = \(prefix)
            """, prepared: true).first else { return nil }
        return ApiKeyAuth(key: try ApiKeyRecord(row), userActive: try row.decode("user_active"),
                          role: try row.decode("role", as: String?.self), teamName: try row.decode("team_name", as: String?.self))
    }

    /// Records use at most once a minute per key, so authentication rarely writes; and then
    /// not durably (`SQL.asynchronousCommit`): a crash may lose the last second's stamps.
    public func touch(id: UUID) throws {
        try db.query("""
            UPDATE api_keys SET last_used_at = now() FROM \(SQL.asynchronousCommit)
            WHERE id = \(id) AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
            """)
    }
}
