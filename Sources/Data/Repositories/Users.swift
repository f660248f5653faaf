import Foundation

public struct UserRecord: Sendable {
    public let id: UUID
    public let email: String
    public let username: String
    public let fullName: String
    public let passwordHash: String
    public let isActive: Bool
    public let personalTeamID: UUID?
    public let createdAt: Date
    public let updatedAt: Date
    public let lastLoginAt: Date?

    init(_ row: Row) throws {
        id = try row.decode("id")
        email = try row.decode("email")
        username = try row.decode("username")
        fullName = try row.decode("full_name")
        passwordHash = try row.decode("password_hash")
        isActive = try row.decode("is_active")
        personalTeamID = try row.decode("personal_team_id", as: UUID?.self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
        lastLoginAt = try row.decode("last_login_at", as: Date?.self)
    }
}

/// Accounts and their settings.
public struct UserRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: """
        id, email, username, full_name, password_hash, is_active, personal_team_id,
        created_at, updated_at, last_login_at
        """)

    /// Creates the user, their personal team (as owner) and settings in one transaction.
    public func create(email: String, username: String, fullName: String, passwordHash: String) throws -> (UserRecord, TeamRecord) {
        try db.transaction { db in
            let team = try TeamRepository(db).create(name: "\(username)'s team", personal: true)
            let rows = try db.query("""
                INSERT INTO users (email, username, full_name, password_hash, personal_team_id)
                VALUES (\(email), \(username), \(fullName), \(passwordHash), \(team.id))
                RETURNING \(UserRepository.columns)
                """)
            let user = try UserRecord(rows[0])
            try db.query("INSERT INTO team_members (team_id, user_id, role) VALUES (\(team.id), \(user.id), 'owner')")
            try db.query("INSERT INTO user_settings (user_id) VALUES (\(user.id))")
            return (user, team)
        }
    }

    public func find(id: UUID) throws -> UserRecord? {
        try db.query("SELECT \(UserRepository.columns) FROM users WHERE id = \(id)").first.map(UserRecord.init)
    }

    /// The user and every team they belong to (personal team first), in one round trip: what
    /// `GET /api/auth/me` shows.
    public func findWithMemberships(id: UUID) throws -> (user: UserRecord, memberships: [MembershipRecord])? {
        let rows = try db.query("""
            SELECT u.id, u.email, u.username, u.full_name, u.password_hash, u.is_active, u.personal_team_id,
                   u.created_at, u.updated_at, u.last_login_at, m.team_id, t.name AS team_name, m.user_id, m.role, m.joined_at
            FROM users u LEFT JOIN team_members m ON m.user_id = u.id LEFT JOIN teams t ON t.id = m.team_id
            WHERE u.id = \(id) ORDER BY t.personal DESC, m.joined_at
            """, prepared: true)
        guard let first = rows.first else { return nil }
        let memberships = try rows.filter { try $0.decode("team_id", as: UUID?.self) != nil }.map(MembershipRecord.init)
        return (try UserRecord(first), memberships)
    }

    public func find(email: String) throws -> UserRecord? {
        try db.query("SELECT \(UserRepository.columns) FROM users WHERE lower(email) = lower(\(email))").first.map(UserRecord.init)
    }

    public func emailTaken(_ email: String, except id: UUID? = nil) throws -> Bool {
        try db.query("SELECT 1 FROM users WHERE lower(email) = lower(\(email)) AND id IS DISTINCT FROM \(id)").count > 0
    }

    public func usernameTaken(_ username: String, except id: UUID? = nil) throws -> Bool {
        try db.query("SELECT 1 FROM users WHERE lower(username) = lower(\(username)) AND id IS DISTINCT FROM \(id)").count > 0
    }

    public func recordLogin(id: UUID) throws {
        try db.query("UPDATE users SET last_login_at = now() WHERE id = \(id)")
    }

    public func updateProfile(id: UUID, email: String?, username: String?, fullName: String?) throws -> UserRecord {
        let rows = try db.query("""
            UPDATE users SET email = coalesce(\(email), email), username = coalesce(\(username), username),
                full_name = coalesce(\(fullName), full_name), updated_at = now()
            WHERE id = \(id) RETURNING \(UserRepository.columns)
            """)
        return try UserRecord(rows[0])
    }

    public func updatePassword(id: UUID, passwordHash: String) throws {
        try db.query("""
            UPDATE users SET password_hash = \(passwordHash), password_changed_at = now(), updated_at = now()
            WHERE id = \(id)
            """)
    }

    /// The user's settings document as JSON text.
    public func settings(userID: UUID) throws -> String {
        let rows = try db.query("SELECT settings::text AS settings FROM user_settings WHERE user_id = \(userID)")
        return try rows.first?.decode("settings", as: String.self) ?? "{}"
    }

    /// Merges `patch` (a JSON object as text) into the settings; returns the result.
    public func mergeSettings(userID: UUID, patch: String) throws -> String {
        let rows = try db.query("""
            INSERT INTO user_settings (user_id, settings) VALUES (\(userID), \(JSONText(patch))::jsonb)
            ON CONFLICT (user_id) DO UPDATE SET settings = user_settings.settings || EXCLUDED.settings, updated_at = now()
            RETURNING settings::text AS settings
            """)
        return try rows[0].decode("settings")
    }
}
