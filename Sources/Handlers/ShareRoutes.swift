import Credentials
import Data
import Foundation
import JSONValues
import Sharing

/// Share links of dashboards (the seed's `POST /share/dashboard`): made, listed with their
/// status, changed (expiry, permissions, password), revoked, and their views counted.
struct ShareRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }
    var settings: SharingSettings { context.settings.sharing }

    func register(on router: Router) {
        router.post("/api/share/dashboard", access.protect(scope: .share, create))
        router.get("/api/share/links", access.protect(scope: .share, list))
        router.get("/api/share/links/{id}", access.protect(scope: .share, show))
        router.patch("/api/share/links/{id}", access.protect(scope: .share, update))
        router.delete("/api/share/links/{id}", access.protect(scope: .share, revoke))
        router.get("/api/share/links/{id}/analytics", access.protect(scope: .share, analytics))
    }

    static let maxExpiryHours = 24 * 365

    func create(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "share dashboards")
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let dashboardText = body.string("dashboard_id", maxLength: 64)
        let type = body.choice("share_type", as: ShareType.self, required: false) ?? .publicLink
        let permissions = ShareRoutes.permissions(&body, required: false) ?? [.view]
        let hours = body.int("expires_in_hours", required: false, range: 1...ShareRoutes.maxExpiryHours)
        let password = body.string("password", required: false, minLength: 1, maxLength: 1024, trim: false)
        let maxAccess = body.int("max_access", required: false, range: 1...100_000_000)
        var dashboardID: UUID?
        if let dashboardText {
            dashboardID = UUID(uuidString: dashboardText)
            if dashboardID == nil { body.fail("dashboard_id", "must be a dashboard id (a UUID)") }
        }
        var expiresIn = hours
        switch type {
        case .secureLink:
            if password != nil, let problem = ShareRoutes.passwordProblem(password!) { body.fail("password", problem) }
            if password == nil && hours == nil {
                // The seed's client sends a secure link with neither: it gets the default expiry.
                if body.value["expires_in_hours"] == nil, let fallback = settings.defaultExpiryHours {
                    expiresIn = fallback
                } else {
                    body.fail("password", "a secure link needs a password or an expiry (expires_in_hours)")
                }
            }
        case .publicLink, .team:
            if password != nil { body.fail("password", "only secure links take a password") }
        }
        if permissions.contains(.edit), type == .publicLink {
            body.fail("permissions", "edit is for secure and team links only: anyone with a public link could change the dashboard")
        }
        try body.finish()
        guard let dashboardID, try DashboardRepository(db).find(id: dashboardID, team: principal.teamID) != nil else {
            throw APIError(status: 404, code: "not_found", message: "no such dashboard", fields: [("dashboard_id", "names no dashboard of your team")])
        }
        let link = try SharingRepository(db).createLink(NewShareLink(
            shareID: ShareRules.newID(), team: principal.teamID, dashboard: dashboardID, user: principal.userID,
            shareType: type.rawValue, permissions: SharePermission.allCases.filter(permissions.contains).map(\.rawValue),
            passwordHash: try password.map(Passwords.hash), expiresAt: expiresIn.map { Date().addingTimeInterval(Double($0) * 3600) },
            maxAccess: maxAccess))
        access.audit(request, principal: principal, action: "share.created", resourceType: "dashboard", resourceID: dashboardID.lower,
                     detail: ["share_type": .string(type.rawValue), "permissions": .array(link.permissions.map(JSON.string)),
                              "password": .bool(password != nil), "expires_at": link.expiresAt.map(Present.time) ?? .null])
        return .json(present(link), status: 201, headers: [("Location", "/api/share/links/\(link.shareID)")])
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        let (paging, dashboard) = try ShareRoutes.listing(request)
        let rows = try SharingRepository(db).links(team: principal.teamID, dashboard: dashboard, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.seq) }
        return .json(["items": .array(page.map(present)), "next_cursor": next])
    }

    func show(_ request: Request, _ principal: Principal) throws -> Response {
        .json(present(try link(request, principal)))
    }

    func update(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "change share links")
        let current = try link(request, principal)
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let permissions = ShareRoutes.permissions(&body, required: false)
        var expiresAt: Date??
        if body.value["expires_in_hours"] == .null {
            expiresAt = .some(nil)
        } else if let hours = body.int("expires_in_hours", required: false, range: 1...ShareRoutes.maxExpiryHours) {
            expiresAt = .some(Date().addingTimeInterval(Double(hours) * 3600))
        }
        var maxAccess: Int??
        if body.value["max_access"] == .null {
            maxAccess = .some(nil)
        } else if let limit = body.int("max_access", required: false, range: 1...100_000_000) {
            maxAccess = .some(limit)
        }
        var passwordHash: String??
        if body.value["password"] == .null {
            passwordHash = .some(nil)
        } else if let password = body.string("password", required: false, minLength: 1, maxLength: 1024, trim: false) {
            if current.shareType != ShareType.secureLink.rawValue {
                body.fail("password", "only secure links take a password")
            } else if let problem = ShareRoutes.passwordProblem(password) {
                body.fail("password", problem)
            } else {
                passwordHash = .some(try Passwords.hash(password))
            }
        }
        if current.shareType == ShareType.secureLink.rawValue {
            let hasPassword = passwordHash.map { $0 != nil } ?? (current.passwordHash != nil)
            let hasExpiry = expiresAt.map { $0 != nil } ?? (current.expiresAt != nil)
            if !hasPassword && !hasExpiry { body.fail("password", "a secure link needs a password or an expiry (expires_in_hours)") }
        }
        if let permissions, permissions.contains(.edit), current.shareType == ShareType.publicLink.rawValue {
            body.fail("permissions", "edit is for secure and team links only: anyone with a public link could change the dashboard")
        }
        if body.value["revoked"] != nil { body.fail("revoked", "revoke a link with DELETE /api/share/links/{id}") }
        try body.finish()
        guard let updated = try SharingRepository(db).updateLink(
            current.shareID, team: principal.teamID, permissions: permissions.map { set in SharePermission.allCases.filter(set.contains).map(\.rawValue) },
            expiresAt: expiresAt, maxAccess: maxAccess, passwordHash: passwordHash) else { throw APIError.notFound("no such share link") }
        access.audit(request, principal: principal, action: "share.updated", resourceType: "share_link", resourceID: nil,
                     detail: ["dashboard_id": .string(updated.dashboardID.lower), "password_changed": .bool(passwordHash != nil)])
        return .json(present(updated))
    }

    func revoke(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "revoke share links")
        let current = try link(request, principal)
        guard let revoked = try SharingRepository(db).revokeLink(current.shareID, team: principal.teamID) else {
            throw APIError.notFound("no such share link")
        }
        access.audit(request, principal: principal, action: "share.revoked", resourceType: "share_link", resourceID: nil,
                     detail: ["dashboard_id": .string(revoked.dashboardID.lower)])
        return .json(present(revoked))
    }

    func analytics(_ request: Request, _ principal: Principal) throws -> Response {
        let current = try link(request, principal)
        let days = try ShareRoutes.days(request)
        let summary = try SharingRepository(db).summary(shareID: current.shareID, days: days)
        var document = ShareRoutes.present(summary, days: days)
        if case .object(var members) = document {
            members.insert(("share_id", .string(current.shareID)), at: 0)
            members.append(("access_count", .int(Int64(current.accessCount))))
            if current.shareType == ShareType.team.rawValue {
                members.append(("members", .array(summary.members.map { member in
                    ["user_id": .string(member.user.lower), "email": .string(member.email), "name": JSON(member.name),
                     "views": .int(Int64(member.views)), "last_viewed_at": Present.time(member.lastViewedAt)]
                })))
            }
            document = .object(members)
        }
        return .json(document)
    }

    // MARK: Helpers

    private func link(_ request: Request, _ principal: Principal) throws -> ShareLinkRecord {
        let id = request.pathParameters["id"] ?? ""
        guard ShareRules.isWellFormedID(id), let link = try SharingRepository(db).link(id, team: principal.teamID) else {
            throw APIError.notFound("no such share link")
        }
        return link
    }

    func present(_ link: ShareLinkRecord) -> JSON {
        [
            "share_id": .string(link.shareID), "url": .string(settings.shareURL(link.shareID)),
            "dashboard_id": .string(link.dashboardID.lower), "share_type": .string(link.shareType),
            "permissions": .array(link.permissions.map(JSON.string)), "password_protected": .bool(link.passwordHash != nil),
            "status": .string(ShareRules.status(of: link).rawValue),
            "expires_at": link.expiresAt.map(Present.time) ?? .null, "max_access": JSON(link.maxAccess),
            "access_count": .int(Int64(link.accessCount)), "last_accessed_at": link.lastAccessedAt.map(Present.time) ?? .null,
            "revoked_at": link.revokedAt.map(Present.time) ?? .null, "created_by": link.createdBy.map { .string($0.lower) } ?? .null,
            "created_at": Present.time(link.createdAt), "updated_at": Present.time(link.updatedAt),
        ]
    }

    /// `permissions`: a non-empty list of view, interact, export, edit; `view` is implied.
    static func permissions(_ body: inout FieldReader, required: Bool) -> Set<SharePermission>? {
        guard let items = body.array("permissions", required: required, maxCount: 4) else { return nil }
        var set: Set<SharePermission> = [.view]
        for (index, item) in items.enumerated() {
            guard case .string(let text) = item, let permission = SharePermission(rawValue: text.lowercased()) else {
                body.fail("permissions[\(index)]", "must be one of: \(SharePermission.allCases.map(\.rawValue).joined(separator: ", "))")
                continue
            }
            set.insert(permission)
        }
        return set
    }

    static func passwordProblem(_ password: String) -> String? {
        password.count < 6 ? "must be at least 6 characters" : nil
    }

    /// A list request's page and its optional `dashboard_id`; one 422 names every bad parameter.
    static func listing(_ request: Request) throws -> (Pagination, UUID?) {
        var problems: [(String, String)] = []
        let paging = Pagination(request, problems: &problems)
        var dashboard: UUID?
        if let raw = request.query["dashboard_id"], !raw.isEmpty {
            dashboard = UUID(uuidString: raw)
            if dashboard == nil { problems.append(("dashboard_id", "must be a dashboard id (a UUID)")) }
        }
        if !problems.isEmpty { throw APIError.validation(problems) }
        return (paging, dashboard)
    }

    /// `days` (1–365, default 30) of an analytics request.
    static func days(_ request: Request) throws -> Int {
        guard let raw = request.query["days"], !raw.isEmpty else { return 30 }
        guard let days = Int(raw), (1...365).contains(days) else { throw APIError.validation([("days", "must be between 1 and 365")]) }
        return days
    }

    static func present(_ summary: AccessSummary, days: Int) -> JSON {
        [
            "days": .int(Int64(days)), "views": .int(Int64(summary.views)), "unique_viewers": .int(Int64(summary.uniqueViewers)),
            "last_viewed_at": summary.lastViewedAt.map(Present.time) ?? .null,
            "views_per_day": .array(summary.perDay.map { ["day": .string($0.day), "views": .int(Int64($0.views)),
                                                          "unique_viewers": .int(Int64($0.uniqueViewers))] }),
            "top_referrers": .array(summary.referrers.map { ["referrer": .string($0.referrer), "views": .int(Int64($0.views))] }),
        ]
    }
}
