import Foundation

public struct SessionRecord: Sendable {
    public let id: UUID
    public let userID: UUID
    public let teamID: UUID
    public let refreshJTI: UUID
    public let expiresAt: Date
    public let revokedAt: Date?

    init(_ row: Row) throws {
        id = try row.decode("id")
        userID = try row.decode("user_id")
        teamID = try row.decode("team_id")
        refreshJTI = try row.decode("refresh_jti")
        expiresAt = try row.decode("expires_at")
        revokedAt = try row.decode("revoked_at", as: Date?.self)
    }
}

/// What an authenticated request needs to know about its access token, in one query.
public struct AccessCheck: Sendable {
    public let sessionActive: Bool
    public let tokenRevoked: Bool
    public let userActive: Bool
    public let role: String?
    public let teamName: String?
}

/// Login sessions (refresh-token families) and revoked access tokens.
public struct SessionRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: "id, user_id, team_id, refresh_jti, expires_at, revoked_at")

    public func create(id: UUID, user: UUID, team: UUID, refreshJTI: UUID, expiresAt: Date, ip: String, userAgent: String?) throws {
        try db.query("""
            INSERT INTO sessions (id, user_id, team_id, refresh_jti, expires_at, ip_address, user_agent)
            VALUES (\(id), \(user), \(team), \(refreshJTI), \(expiresAt), \(ip), \(userAgent))
            """)
    }

    /// True when `user` has signed in from `ip` before (a session, even an ended one, was
    /// opened from it).
    public func hasSignedIn(user: UUID, from ip: String) throws -> Bool {
        try db.query("SELECT EXISTS (SELECT 1 FROM sessions WHERE user_id = \(user) AND ip_address = \(ip)) AS known")[0]
            .decode("known")
    }

    public func find(id: UUID) throws -> SessionRecord? {
        try db.query("SELECT \(SessionRepository.columns) FROM sessions WHERE id = \(id)").first.map(SessionRecord.init)
    }

    /// Swaps the family's refresh token if `presented` is still the current one.
    /// Returns false when it is not (a spent token: the caller revokes the family).
    public func rotate(session: UUID, presented: UUID, next: UUID, team: UUID, expiresAt: Date) throws -> Bool {
        try db.query("""
            UPDATE sessions SET refresh_jti = \(next), team_id = \(team), refreshed_at = now(), expires_at = \(expiresAt)
            WHERE id = \(session) AND refresh_jti = \(presented) AND revoked_at IS NULL AND expires_at > now()
            """).affectedRows == 1
    }

    public func revoke(session: UUID, reason: String) throws {
        try db.query("UPDATE sessions SET revoked_at = now(), revoked_reason = \(reason) WHERE id = \(session) AND revoked_at IS NULL")
    }

    /// Revokes every session of the user except `keep`.
    public func revokeAll(user: UUID, except keep: UUID?, reason: String) throws {
        try db.query("""
            UPDATE sessions SET revoked_at = now(), revoked_reason = \(reason)
            WHERE user_id = \(user) AND revoked_at IS NULL AND id IS DISTINCT FROM \(keep)
            """)
    }

    public func revokeToken(jti: UUID, expiresAt: Date) throws {
        try db.query("INSERT INTO revoked_tokens (jti, expires_at) VALUES (\(jti), \(expiresAt)) ON CONFLICT DO NOTHING")
    }

    /// Session state, token revocation, the user's state and role in the team: one round trip.
    public func check(session: UUID, jti: UUID, user: UUID, team: UUID) throws -> AccessCheck {
        let row = try db.query("""
            SELECT
              EXISTS (SELECT 1 FROM sessions WHERE id = \(session) AND user_id = \(user) AND revoked_at IS NULL) AS session_active,
              EXISTS (SELECT 1 FROM revoked_tokens WHERE jti = \(jti)) AS token_revoked,
              coalesce((SELECT is_active FROM users WHERE id = \(user)), false) AS user_active,
              (SELECT role FROM team_members WHERE team_id = \(team) AND user_id = \(user)) AS role,
              (SELECT name FROM teams WHERE id = \(team)) AS team_name
            """, prepared: true)[0]
        return AccessCheck(
            sessionActive: try row.decode("session_active"), tokenRevoked: try row.decode("token_revoked"),
            userActive: try row.decode("user_active"), role: try row.decode("role", as: String?.self),
            teamName: try row.decode("team_name", as: String?.self))
    }
}

extension SessionRepository {
    /// Makes `jti` the session's only valid refresh token (after a password change or team switch).
    public func replaceRefresh(session: UUID, jti: UUID, team: UUID, expiresAt: Date) throws {
        try db.query("""
            UPDATE sessions SET refresh_jti = \(jti), team_id = \(team), refreshed_at = now(), expires_at = \(expiresAt)
            WHERE id = \(session) AND revoked_at IS NULL
            """)
    }
}
