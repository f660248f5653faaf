import Foundation

/// A share link as stored (its password hash stays here: never shown).
public struct ShareLinkRecord: Sendable {
    public let shareID: String
    public let seq: UUID
    public let teamID: UUID
    public let dashboardID: UUID
    public let createdBy: UUID?
    public let shareType: String
    public let permissions: [String]
    public let passwordHash: String?
    public let passwordEpoch: Int
    public let expiresAt: Date?
    public let maxAccess: Int?
    public let accessCount: Int
    public let lastAccessedAt: Date?
    public let revokedAt: Date?
    public let createdAt: Date
    public let updatedAt: Date

    init(_ row: Row) throws {
        shareID = try row.decode("share_id")
        seq = try row.decode("seq")
        teamID = try row.decode("team_id")
        dashboardID = try row.decode("dashboard_id")
        createdBy = try row.decode("created_by", as: UUID?.self)
        shareType = try row.decode("share_type")
        permissions = try row.decode("permissions")
        passwordHash = try row.decode("password_hash", as: String?.self)
        passwordEpoch = try row.decode("password_epoch")
        expiresAt = try row.decode("expires_at", as: Date?.self)
        maxAccess = try row.decode("max_access", as: Int?.self)
        accessCount = try row.decode("access_count")
        lastAccessedAt = try row.decode("last_accessed_at", as: Date?.self)
        revokedAt = try row.decode("revoked_at", as: Date?.self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

/// An embeddable widget as stored (its token secret sealed).
public struct EmbedWidgetRecord: Sendable {
    public let widgetID: String
    public let seq: UUID
    public let teamID: UUID
    public let dashboardID: UUID
    public let createdBy: UUID?
    public let widgetKind: String
    public let chartID: String?
    public let title: String?
    public let theme: String
    /// `{"background", "foreground", "accent"}` as JSON; `{}` unless the theme is custom.
    public let themeColors: String
    public let width: Int
    public let height: Int
    public let allowedOrigins: [String]
    public let permissions: [String]
    public let sealedTokenSecret: String?
    public let requireToken: Bool
    public let expiresAt: Date?
    public let accessCount: Int
    public let lastAccessedAt: Date?
    public let createdAt: Date
    public let updatedAt: Date

    init(_ row: Row) throws {
        widgetID = try row.decode("widget_id")
        seq = try row.decode("seq")
        teamID = try row.decode("team_id")
        dashboardID = try row.decode("dashboard_id")
        createdBy = try row.decode("created_by", as: UUID?.self)
        widgetKind = try row.decode("widget_kind")
        chartID = try row.decode("chart_id", as: String?.self)
        title = try row.decode("title", as: String?.self)
        theme = try row.decode("theme")
        themeColors = try row.decode("theme_colors")
        width = try row.decode("width")
        height = try row.decode("height")
        allowedOrigins = try row.decode("allowed_origins")
        permissions = try row.decode("permissions")
        sealedTokenSecret = try row.decode("token_secret", as: String?.self)
        requireToken = try row.decode("require_token")
        expiresAt = try row.decode("expires_at", as: Date?.self)
        accessCount = try row.decode("access_count")
        lastAccessedAt = try row.decode("last_accessed_at", as: Date?.self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

/// A link or widget read for a viewer, with its dashboard in the same round trip.
public struct SharedView<Subject: Sendable>: Sendable {
    public let subject: Subject
    /// Nil when the dashboard is gone.
    public let dashboard: DashboardRecord?
}

public struct NewShareLink: Sendable {
    public var shareID: String
    public var team: UUID
    public var dashboard: UUID
    public var user: UUID?
    public var shareType: String
    public var permissions: [String]
    public var passwordHash: String?
    public var expiresAt: Date?
    public var maxAccess: Int?

    public init(shareID: String, team: UUID, dashboard: UUID, user: UUID?, shareType: String, permissions: [String],
                passwordHash: String?, expiresAt: Date?, maxAccess: Int?) {
        self.shareID = shareID
        self.team = team
        self.dashboard = dashboard
        self.user = user
        self.shareType = shareType
        self.permissions = permissions
        self.passwordHash = passwordHash
        self.expiresAt = expiresAt
        self.maxAccess = maxAccess
    }
}

public struct NewEmbedWidget: Sendable {
    public var widgetID: String
    public var team: UUID
    public var dashboard: UUID
    public var user: UUID?
    public var kind: String
    public var chartID: String?
    public var title: String?
    public var theme: String
    public var themeColors: String
    public var width: Int
    public var height: Int
    public var allowedOrigins: [String]
    public var permissions: [String]
    public var sealedTokenSecret: String?
    public var requireToken: Bool
    public var expiresAt: Date?

    public init(widgetID: String, team: UUID, dashboard: UUID, user: UUID?, kind: String, chartID: String?, title: String?,
                theme: String, themeColors: String, width: Int, height: Int, allowedOrigins: [String], permissions: [String],
                sealedTokenSecret: String?, requireToken: Bool, expiresAt: Date?) {
        self.widgetID = widgetID
        self.team = team
        self.dashboard = dashboard
        self.user = user
        self.kind = kind
        self.chartID = chartID
        self.title = title
        self.theme = theme
        self.themeColors = themeColors
        self.width = width
        self.height = height
        self.allowedOrigins = allowedOrigins
        self.permissions = permissions
        self.sealedTokenSecret = sealedTokenSecret
        self.requireToken = requireToken
        self.expiresAt = expiresAt
    }
}

/// One view of a share page or an embed, as the access log keeps it.
public struct AccessLogEntry: Sendable {
    public var team: UUID
    public var shareID: String?
    public var widgetID: String?
    public var clientAddress: String?
    public var userAgent: String?
    public var referrer: String?
    public var user: UUID?
    public var viewerHash: String
    /// Whether the view still has to be counted on the link or widget (views of links with
    /// `max_access` were counted before the page was drawn).
    public var count: Bool

    public init(team: UUID, shareID: String?, widgetID: String?, clientAddress: String?, userAgent: String?, referrer: String?,
                user: UUID?, viewerHash: String, count: Bool) {
        self.team = team
        self.shareID = shareID
        self.widgetID = widgetID
        self.clientAddress = clientAddress
        self.userAgent = userAgent
        self.referrer = referrer
        self.user = user
        self.viewerHash = viewerHash
        self.count = count
    }
}

/// What the analytics of a link or widget say.
public struct AccessSummary: Sendable {
    public let views: Int
    public let uniqueViewers: Int
    public let lastViewedAt: Date?
    public let perDay: [(day: String, views: Int, uniqueViewers: Int)]
    public let referrers: [(referrer: String, views: Int)]
    /// Team links: the members who opened it.
    public let members: [(user: UUID, email: String, name: String?, views: Int, lastViewedAt: Date)]
}

/// Share links, embeddable widgets and their access log.
public struct SharingRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let linkColumns = SQL(unsafeSQL: """
        l.share_id, l.seq, l.team_id, l.dashboard_id, l.created_by, l.share_type, l.permissions, l.password_hash,
        l.password_epoch, l.expires_at, l.max_access, l.access_count, l.last_accessed_at, l.revoked_at, l.created_at, l.updated_at
        """)
    static let widgetColumns = SQL(unsafeSQL: """
        w.widget_id, w.seq, w.team_id, w.dashboard_id, w.created_by, w.widget_kind, w.chart_id, w.title, w.theme,
        w.theme_colors::text AS theme_colors, w.width, w.height, w.allowed_origins, w.permissions, w.token_secret,
        w.require_token, w.expires_at, w.access_count, w.last_accessed_at, w.created_at, w.updated_at
        """)
    static let dashboardColumns = SQL(unsafeSQL: """
        d.id, d.team_id AS d_team_id, d.title AS d_title, d.theme AS d_theme, d.config::text AS config, d.sources::text AS sources,
        d.created_at AS d_created_at, d.updated_at AS d_updated_at
        """)

    // MARK: Links

    public func createLink(_ link: NewShareLink) throws -> ShareLinkRecord {
        try ShareLinkRecord(db.query("""
            INSERT INTO share_links AS l (share_id, team_id, dashboard_id, created_by, share_type, permissions, password_hash,
                                          expires_at, max_access)
            VALUES (\(link.shareID), \(link.team), \(link.dashboard), \(link.user), \(link.shareType), \(link.permissions)::text[],
                    \(link.passwordHash), \(link.expiresAt)::timestamptz, \(link.maxAccess)::int)
            RETURNING \(SharingRepository.linkColumns)
            """)[0])
    }

    public func link(_ shareID: String, team: UUID) throws -> ShareLinkRecord? {
        try db.query("SELECT \(SharingRepository.linkColumns) FROM share_links l WHERE l.share_id = \(shareID) AND l.team_id = \(team)")
            .first.map(ShareLinkRecord.init)
    }

    /// Newest first, keyset-paginated on (created_at, seq); optionally one dashboard's.
    public func links(team: UUID, dashboard: UUID?, limit: Int, after cursor: (Date, UUID)?) throws -> [ShareLinkRecord] {
        var sql: SQL = "SELECT \(SharingRepository.linkColumns) FROM share_links l WHERE l.team_id = \(team)"
        if let dashboard { sql.append(" AND l.dashboard_id = \(dashboard)") }
        if let (time, seq) = cursor { sql.append(" AND (l.created_at, l.seq) < (\(time)::timestamptz, \(seq)::uuid)") }
        sql.append(" ORDER BY l.created_at DESC, l.seq DESC LIMIT \(limit)")
        return try db.query(sql).map(ShareLinkRecord.init)
    }

    /// Changes what was given; `passwordHash` `.some(nil)` removes the password. The link's
    /// password epoch moves on whenever the password changes, so cookies of the old one lapse.
    public func updateLink(_ shareID: String, team: UUID, permissions: [String]?, expiresAt: Date??, maxAccess: Int??,
                           passwordHash: String??) throws -> ShareLinkRecord? {
        var sets: [SQL] = ["updated_at = now()"]
        if let permissions { sets.append("permissions = \(permissions)::text[]") }
        if let expiresAt { sets.append("expires_at = \(expiresAt)::timestamptz") }
        if let maxAccess { sets.append("max_access = \(maxAccess)::int") }
        if let passwordHash {
            sets.append("password_hash = \(passwordHash)")
            sets.append("password_epoch = password_epoch + 1")
        }
        return try db.query("""
            UPDATE share_links l SET \(sets.joined(separator: ", "))
            WHERE l.share_id = \(shareID) AND l.team_id = \(team)
            RETURNING \(SharingRepository.linkColumns)
            """).first.map(ShareLinkRecord.init)
    }

    /// Revokes the link (it stays listed, as revoked); false when the team has no such link.
    public func revokeLink(_ shareID: String, team: UUID) throws -> ShareLinkRecord? {
        try db.query("""
            UPDATE share_links l SET revoked_at = coalesce(revoked_at, now()), updated_at = now()
            WHERE l.share_id = \(shareID) AND l.team_id = \(team)
            RETURNING \(SharingRepository.linkColumns)
            """).first.map(ShareLinkRecord.init)
    }

    /// The link and its dashboard, for a viewer (no team known yet).
    public func viewLink(_ shareID: String) throws -> SharedView<ShareLinkRecord>? {
        let rows = try db.query("""
            SELECT \(SharingRepository.linkColumns), \(SharingRepository.dashboardColumns)
            FROM share_links l LEFT JOIN dashboards d ON d.id = l.dashboard_id
            WHERE l.share_id = \(shareID)
            """, prepared: true)
        guard let row = rows.first else { return nil }
        return SharedView(subject: try ShareLinkRecord(row), dashboard: try SharingRepository.dashboard(row))
    }

    /// Counts a view of a link with `max_access` before its page is drawn: true when the view
    /// was within the limit (and is now counted), false when the link is used up. One
    /// statement, so concurrent views cannot both take the last one.
    public func takeLimitedView(_ shareID: String) throws -> Bool {
        try db.query("""
            UPDATE share_links SET access_count = access_count + 1, last_accessed_at = now()
            WHERE share_id = \(shareID) AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
              AND (max_access IS NULL OR access_count < max_access)
            RETURNING access_count
            """, prepared: true).count == 1
    }

    // MARK: Widgets

    public func createWidget(_ widget: NewEmbedWidget) throws -> EmbedWidgetRecord {
        try EmbedWidgetRecord(db.query("""
            INSERT INTO embed_widgets AS w (widget_id, team_id, dashboard_id, created_by, widget_kind, chart_id, title, theme,
                                            theme_colors, width, height, allowed_origins, permissions, token_secret, require_token,
                                            expires_at)
            VALUES (\(widget.widgetID), \(widget.team), \(widget.dashboard), \(widget.user), \(widget.kind), \(widget.chartID),
                    \(widget.title), \(widget.theme), \(JSONText(widget.themeColors))::jsonb, \(widget.width)::int, \(widget.height)::int,
                    \(widget.allowedOrigins)::text[], \(widget.permissions)::text[], \(widget.sealedTokenSecret),
                    \(widget.requireToken)::boolean, \(widget.expiresAt)::timestamptz)
            RETURNING \(SharingRepository.widgetColumns)
            """)[0])
    }

    public func widget(_ widgetID: String, team: UUID) throws -> EmbedWidgetRecord? {
        try db.query("SELECT \(SharingRepository.widgetColumns) FROM embed_widgets w WHERE w.widget_id = \(widgetID) AND w.team_id = \(team)")
            .first.map(EmbedWidgetRecord.init)
    }

    public func widgets(team: UUID, dashboard: UUID?, limit: Int, after cursor: (Date, UUID)?) throws -> [EmbedWidgetRecord] {
        var sql: SQL = "SELECT \(SharingRepository.widgetColumns) FROM embed_widgets w WHERE w.team_id = \(team)"
        if let dashboard { sql.append(" AND w.dashboard_id = \(dashboard)") }
        if let (time, seq) = cursor { sql.append(" AND (w.created_at, w.seq) < (\(time)::timestamptz, \(seq)::uuid)") }
        sql.append(" ORDER BY w.created_at DESC, w.seq DESC LIMIT \(limit)")
        return try db.query(sql).map(EmbedWidgetRecord.init)
    }

    public func deleteWidget(_ widgetID: String, team: UUID) throws -> Bool {
        try db.query("DELETE FROM embed_widgets WHERE widget_id = \(widgetID) AND team_id = \(team) RETURNING widget_id").count > 0
    }

    public func viewWidget(_ widgetID: String) throws -> SharedView<EmbedWidgetRecord>? {
        let rows = try db.query("""
            SELECT \(SharingRepository.widgetColumns), \(SharingRepository.dashboardColumns)
            FROM embed_widgets w LEFT JOIN dashboards d ON d.id = w.dashboard_id
            WHERE w.widget_id = \(widgetID)
            """, prepared: true)
        guard let row = rows.first else { return nil }
        return SharedView(subject: try EmbedWidgetRecord(row), dashboard: try SharingRepository.dashboard(row))
    }

    static func dashboard(_ row: Row) throws -> DashboardRecord? {
        guard let id = try row.decode("id", as: UUID?.self) else { return nil }
        return DashboardRecord(id: id, teamID: try row.decode("d_team_id"), title: try row.decode("d_title"), theme: try row.decode("d_theme"),
                               config: try row.decode("config"), sources: try row.decode("sources"),
                               createdAt: try row.decode("d_created_at"), updatedAt: try row.decode("d_updated_at"))
    }

    // MARK: Access log

    /// Makes this connection commit without waiting for the WAL flush: a view is not worth a
    /// disk sync, and a crash of PostgreSQL itself loses at most its last fraction of a second
    /// of views. For a connection that writes only the access log.
    public func commitViewsAsynchronously() throws {
        try db.query("SELECT set_config('synchronous_commit', 'off', false)")
    }

    /// Writes views: the rows by one COPY (PostgreSQL packs them into pages together, the
    /// cheapest way in), then each link's and widget's count of the views not counted yet
    /// (a statement per link or widget, not per view).
    public func record(_ entries: [AccessLogEntry]) throws {
        guard !entries.isEmpty else { return }
        var data: [UInt8] = []
        data.reserveCapacity(entries.count * 256)
        for entry in entries {
            CopyText.encodeRow([entry.team.uuidString, entry.shareID, entry.widgetID, entry.clientAddress, entry.userAgent,
                                entry.referrer, entry.user?.uuidString, entry.viewerHash], into: &data)
        }
        var links: [String: Int] = [:], widgets: [String: Int] = [:]
        for entry in entries where entry.count {
            if let id = entry.shareID { links[id, default: 0] += 1 }
            if let id = entry.widgetID { widgets[id, default: 0] += 1 }
        }
        // One transaction: a batch that fails is tried again whole, never logged twice.
        try db.transaction { db in
            try db.copyIn("""
                COPY share_access_log (team_id, share_id, widget_id, client_address, user_agent, referrer, user_id, viewer_hash) FROM STDIN
                """) { write in try data.withUnsafeBytes(write) }
            for (id, views) in links {
                try db.query("UPDATE share_links SET access_count = access_count + \(views), last_accessed_at = now() WHERE share_id = \(id)",
                             prepared: true)
            }
            for (id, views) in widgets {
                try db.query("UPDATE embed_widgets SET access_count = access_count + \(views), last_accessed_at = now() WHERE widget_id = \(id)",
                             prepared: true)
            }
        }
    }

    /// Clears addresses and user agents older than `days` (the hashes stay for the counts).
    public func forgetRawViewers(olderThanDays days: Int) throws {
        try db.query("""
            UPDATE share_access_log SET client_address = NULL, user_agent = NULL
            WHERE client_address IS NOT NULL AND accessed_at < now() - make_interval(days => \(days))
            """)
    }

    /// Views of a link (`shareID`) or a widget (`widgetID`) over the last `days` days.
    public func summary(shareID: String? = nil, widgetID: String? = nil, days: Int) throws -> AccessSummary {
        let subject: SQL = if let shareID { "share_id = \(shareID)" } else { "widget_id = \(widgetID ?? "")" }
        let since: SQL = "accessed_at >= date_trunc('day', now()) - make_interval(days => \(days - 1))"
        let totals = try db.query("""
            SELECT count(*)::int AS views, count(DISTINCT (viewer_hash, accessed_at::date))::int AS viewers, max(accessed_at) AS last
            FROM share_access_log WHERE \(subject) AND \(since)
            """)[0]
        let days = try db.query("""
            SELECT to_char(date_trunc('day', accessed_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD') AS day, count(*)::int AS views,
                   count(DISTINCT viewer_hash)::int AS viewers
            FROM share_access_log WHERE \(subject) AND \(since) GROUP BY 1 ORDER BY 1
            """).map { (day: try $0.decode("day", as: String.self), views: try $0.decode("views", as: Int.self),
                        uniqueViewers: try $0.decode("viewers", as: Int.self)) }
        let referrers = try db.query("""
            SELECT referrer, count(*)::int AS views FROM share_access_log
            WHERE \(subject) AND \(since) AND referrer IS NOT NULL GROUP BY referrer ORDER BY views DESC, referrer LIMIT 10
            """).map { (referrer: try $0.decode("referrer", as: String.self), views: try $0.decode("views", as: Int.self)) }
        let members = try db.query("""
            SELECT a.user_id, u.email, u.full_name, count(*)::int AS views, max(a.accessed_at) AS last
            FROM share_access_log a JOIN users u ON u.id = a.user_id
            WHERE \(subject) AND \(since) AND a.user_id IS NOT NULL
            GROUP BY a.user_id, u.email, u.full_name ORDER BY last DESC LIMIT 100
            """).map { (user: try $0.decode("user_id", as: UUID.self), email: try $0.decode("email", as: String.self),
                        name: try $0.decode("full_name", as: String?.self), views: try $0.decode("views", as: Int.self),
                        lastViewedAt: try $0.decode("last", as: Date.self)) }
        return AccessSummary(views: try totals.decode("views"), uniqueViewers: try totals.decode("viewers"),
                             lastViewedAt: try totals.decode("last", as: Date?.self), perDay: days, referrers: referrers, members: members)
    }
}
