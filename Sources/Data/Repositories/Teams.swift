import Foundation

public struct TeamRecord: Sendable {
    public let id: UUID
    public let name: String
    public let personal: Bool
}

public struct MembershipRecord: Sendable {
    public let teamID: UUID
    public let teamName: String
    public let userID: UUID
    public let email: String
    public let username: String
    public let fullName: String
    public let role: String
    public let joinedAt: Date

    init(_ row: Row) throws {
        teamID = try row.decode("team_id")
        teamName = try row.decode("team_name")
        userID = try row.decode("user_id")
        email = try row.decode("email")
        username = try row.decode("username")
        fullName = try row.decode("full_name")
        role = try row.decode("role")
        joinedAt = try row.decode("joined_at")
    }
}

public struct InviteRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let email: String
    public let role: String
    public let createdAt: Date
    public let expiresAt: Date
    public let acceptedAt: Date?
    public let revokedAt: Date?

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        email = try row.decode("email")
        role = try row.decode("role")
        createdAt = try row.decode("created_at")
        expiresAt = try row.decode("expires_at")
        acceptedAt = try row.decode("accepted_at", as: Date?.self)
        revokedAt = try row.decode("revoked_at", as: Date?.self)
    }
}

/// Teams, memberships and invitations.
public struct TeamRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    public func create(name: String, personal: Bool) throws -> TeamRecord {
        let row = try db.query("INSERT INTO teams (name, personal) VALUES (\(name), \(personal)) RETURNING id")[0]
        return TeamRecord(id: try row.decode("id"), name: name, personal: personal)
    }

    static let memberColumns = SQL(unsafeSQL: """
        m.team_id, t.name AS team_name, m.user_id, u.email, u.username, u.full_name, m.role, m.joined_at
        FROM team_members m JOIN teams t ON t.id = m.team_id JOIN users u ON u.id = m.user_id
        """)

    public func membership(team: UUID, user: UUID) throws -> MembershipRecord? {
        try db.query("SELECT \(TeamRepository.memberColumns) WHERE m.team_id = \(team) AND m.user_id = \(user)")
            .first.map(MembershipRecord.init)
    }

    /// Every team the user belongs to, personal team first.
    public func memberships(user: UUID) throws -> [MembershipRecord] {
        try db.query("""
            SELECT \(TeamRepository.memberColumns) WHERE m.user_id = \(user) ORDER BY t.personal DESC, m.joined_at
            """).map(MembershipRecord.init)
    }

    public func members(team: UUID) throws -> [MembershipRecord] {
        try db.query("SELECT \(TeamRepository.memberColumns) WHERE m.team_id = \(team) ORDER BY m.joined_at, u.username")
            .map(MembershipRecord.init)
    }

    public func ownerCount(team: UUID) throws -> Int {
        try db.query("SELECT count(*) AS n FROM team_members WHERE team_id = \(team) AND role = 'owner'")[0].decode("n")
    }

    public func addMember(team: UUID, user: UUID, role: String) throws {
        try db.query("""
            INSERT INTO team_members (team_id, user_id, role) VALUES (\(team), \(user), \(role))
            ON CONFLICT (team_id, user_id) DO NOTHING
            """)
    }

    public func setRole(team: UUID, user: UUID, role: String) throws {
        try db.query("UPDATE team_members SET role = \(role) WHERE team_id = \(team) AND user_id = \(user)")
    }

    public func removeMember(team: UUID, user: UUID) throws {
        try db.query("DELETE FROM team_members WHERE team_id = \(team) AND user_id = \(user)")
    }

    /// Locks the team's membership rows so owner counts stay true until commit.
    public func lockMembers(team: UUID) throws {
        try db.query("SELECT 1 FROM team_members WHERE team_id = \(team) FOR UPDATE")
    }

    static let inviteColumns = SQL(unsafeSQL: "id, team_id, email, role, created_at, expires_at, accepted_at, revoked_at")

    public func createInvite(team: UUID, email: String, role: String, tokenHash: [UInt8], invitedBy: UUID, expiresAt: Date) throws -> InviteRecord {
        try InviteRecord(db.query("""
            INSERT INTO team_invites (team_id, email, role, token_hash, invited_by, expires_at)
            VALUES (\(team), \(email), \(role), \(ByteA(tokenHash)), \(invitedBy), \(expiresAt))
            RETURNING \(TeamRepository.inviteColumns)
            """)[0])
    }

    public func pendingInvites(team: UUID) throws -> [InviteRecord] {
        try db.query("""
            SELECT \(TeamRepository.inviteColumns) FROM team_invites
            WHERE team_id = \(team) AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC
            """).map(InviteRecord.init)
    }

    public func hasPendingInvite(team: UUID, email: String) throws -> Bool {
        try db.query("""
            SELECT 1 FROM team_invites WHERE team_id = \(team) AND lower(email) = lower(\(email))
              AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()
            """).count > 0
    }

    /// Revokes a pending invite; false when there is none with that id in the team.
    public func revokeInvite(team: UUID, id: UUID) throws -> Bool {
        try db.query("""
            UPDATE team_invites SET revoked_at = now()
            WHERE id = \(id) AND team_id = \(team) AND accepted_at IS NULL AND revoked_at IS NULL
            """).affectedRows == 1
    }

    /// Clears expired pending invites for an email so a fresh one can be sent.
    public func expireStaleInvites(team: UUID, email: String) throws {
        try db.query("""
            UPDATE team_invites SET revoked_at = now()
            WHERE team_id = \(team) AND lower(email) = lower(\(email)) AND accepted_at IS NULL
              AND revoked_at IS NULL AND expires_at <= now()
            """)
    }

    /// The invite with this token hash, locked for update.
    public func inviteForUpdate(tokenHash: [UInt8]) throws -> InviteRecord? {
        try db.query("""
            SELECT \(TeamRepository.inviteColumns) FROM team_invites WHERE token_hash = \(ByteA(tokenHash)) FOR UPDATE
            """).first.map(InviteRecord.init)
    }

    public func markAccepted(invite: UUID, by user: UUID) throws {
        try db.query("UPDATE team_invites SET accepted_at = now(), accepted_by = \(user) WHERE id = \(invite)")
    }

    public func teamName(_ id: UUID) throws -> String? {
        try db.query("SELECT name FROM teams WHERE id = \(id)").first?.decode("name")
    }

    public func enqueueEmail(recipient: String, subject: String, body: String) throws -> Int64 {
        try db.query("""
            INSERT INTO email_outbox (recipient, subject, body) VALUES (\(recipient), \(subject), \(body)) RETURNING id
            """)[0].decode("id")
    }

    public func markEmail(id: Int64, sent: Bool, error: String?) throws {
        try db.query("""
            UPDATE email_outbox SET status = \(sent ? "sent" : "failed"), error = \(error),
                sent_at = CASE WHEN \(sent) THEN now() END
            WHERE id = \(id)
            """)
    }
}
