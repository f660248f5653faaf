import Credentials
import Data
import Foundation
import JSONValues
import Sharing

/// Embeddable widgets (the seed's `POST /embed/widget`): a chart, a KPI or a whole dashboard
/// shown in another site's iframe, in a light, dark or custom theme, framed only by the
/// origins it allows; the embed code to paste; signed embedding for sites that pass filters.
struct EmbedRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }
    var settings: SharingSettings { context.settings.sharing }

    func register(on router: Router) {
        router.post("/api/embed/widget", access.protect(scope: .share, create))
        router.get("/api/embed/widgets", access.protect(scope: .share, list))
        router.get("/api/embed/widgets/{id}", access.protect(scope: .share, show))
        router.delete("/api/embed/widgets/{id}", access.protect(scope: .share, remove))
        router.get("/api/embed/widgets/{id}/code", access.protect(scope: .share, code))
        router.get("/api/embed/widgets/{id}/analytics", access.protect(scope: .share, analytics))
    }

    func create(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "embed dashboards")
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let dashboardText = body.string("dashboard_id", maxLength: 64)
        let kind = body.choice("widget_kind", as: EmbedKind.self, required: false) ?? (body.has("chart_id") ? .chart : .dashboard)
        let chartID = body.string("chart_id", required: kind != .dashboard, minLength: 1, maxLength: 40)
        let themeName = body.choice("theme", as: PageTheme.Name.self, required: false) ?? .light
        let title = body.string("title", required: false, minLength: 1, maxLength: 200)
        let width = body.int("width", required: false, range: 120...4000) ?? 800
        let height = body.int("height", required: false, range: 80...4000) ?? 400
        let hours = body.int("expires_in_hours", required: false, range: 1...ShareRoutes.maxExpiryHours)
        let signed = body.bool("signed", required: false) ?? false
        let requireToken = body.bool("require_token", required: false) ?? false
        var origins: [String] = []
        if let items = body.array("allowed_origins", required: false, maxCount: 20) {
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item, let origin = ShareRules.origin(text) else {
                    body.fail("allowed_origins[\(index)]", "must be an origin such as https://example.com (scheme, host, optional port; no path)")
                    continue
                }
                if !origins.contains(origin) { origins.append(origin) }
            }
        }
        var permissions: [String] = ["view"]
        if let set = ShareRoutes.permissions(&body, required: false) {
            if set.contains(.edit) { body.fail("permissions", "an embed cannot edit: view, interact and export only") }
            permissions = SharePermission.allCases.filter { set.contains($0) && $0 != .edit }.map(\.rawValue)
        }
        var colours: JSON = [:]
        if themeName == .custom {
            if var given = body.object("custom_theme", required: true) ?? body.object("colors", required: false) {
                let background = given.string("background", maxLength: 7), foreground = given.string("foreground", maxLength: 7)
                let accent = given.string("accent", required: false, maxLength: 7)
                body.absorb(given, prefix: "custom_theme")
                if let background, let foreground {
                    do {
                        let theme = try PageTheme.custom(background: background, foreground: foreground, accent: accent ?? foreground)
                        colours = ["background": .string(theme.background), "foreground": .string(theme.foreground), "accent": .string(theme.accent)]
                    } catch {
                        body.fail("custom_theme", "colours must be #rgb or #rrggbb")
                    }
                }
            }
        } else if body.has("custom_theme") {
            body.fail("custom_theme", "is for theme custom only")
        }
        if requireToken && !signed { body.fail("require_token", "needs signed: true (a widget without a secret cannot check tokens)") }
        var dashboardID: UUID?
        if let dashboardText {
            dashboardID = UUID(uuidString: dashboardText)
            if dashboardID == nil { body.fail("dashboard_id", "must be a dashboard id (a UUID)") }
        }
        try body.finish()
        guard let dashboardID, let dashboard = try DashboardRepository(db).find(id: dashboardID, team: principal.teamID) else {
            throw APIError(status: 404, code: "not_found", message: "no such dashboard", fields: [("dashboard_id", "names no dashboard of your team")])
        }
        if let chartID {
            let config = (try? JSON.parse(Array(dashboard.config.utf8))) ?? .null
            let widgets: [JSON] = if case .array(let items)? = config["widgets"] { items } else { [] }
            guard let widget = widgets.first(where: { $0["id"] == .string(chartID) }) else {
                throw APIError(status: 404, code: "not_found", message: "no such widget on this dashboard",
                               fields: [("chart_id", "names no widget of the dashboard")])
            }
            let isKPI = widget["type"] == "kpi"
            if kind == .kpi && !isKPI { throw APIError.validation([("chart_id", "names a \(widget["type"].map(SharedText.text) ?? "") widget, not a kpi")]) }
            if kind == .chart && isKPI { throw APIError.validation([("chart_id", "names a kpi widget: use widget_kind kpi")]) }
        }
        let widgetID = ShareRules.newID()
        var secret: [UInt8]?
        var sealed: String?
        if signed {
            let key = EmbedTokens.newSecret()
            secret = key
            sealed = try EmbedRoutes.sealSecret(key, team: principal.teamID, context: context)
        }
        let record = try SharingRepository(db).createWidget(NewEmbedWidget(
            widgetID: widgetID, team: principal.teamID, dashboard: dashboardID, user: principal.userID, kind: kind.rawValue,
            chartID: kind == .dashboard ? nil : chartID, title: title, theme: themeName.rawValue, themeColors: colours.serializedText,
            width: width, height: height, allowedOrigins: origins, permissions: permissions, sealedTokenSecret: sealed,
            requireToken: requireToken, expiresAt: hours.map { Date().addingTimeInterval(Double($0) * 3600) }))
        access.audit(request, principal: principal, action: "embed.created", resourceType: "dashboard", resourceID: dashboardID.lower,
                     detail: ["widget_kind": .string(kind.rawValue), "allowed_origins": .array(origins.map(JSON.string))])
        var document = present(record)
        if case .object(var members) = document {
            members.append(("embed_code", embedCode(record)))
            // Shown once: only its owner's server should hold it.
            if let secret { members.append(("embed_secret", .string(Data(secret).base64URL))) }
            document = .object(members)
        }
        return .json(document, status: 201, headers: [("Location", "/api/embed/widgets/\(record.widgetID)")])
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        let (paging, dashboard) = try ShareRoutes.listing(request)
        let rows = try SharingRepository(db).widgets(team: principal.teamID, dashboard: dashboard, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.seq) }
        return .json(["items": .array(page.map(present)), "next_cursor": next])
    }

    func show(_ request: Request, _ principal: Principal) throws -> Response {
        .json(present(try widget(request, principal)))
    }

    func remove(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "delete embedded widgets")
        let record = try widget(request, principal)
        guard try SharingRepository(db).deleteWidget(record.widgetID, team: principal.teamID) else { throw APIError.notFound("no such embedded widget") }
        access.audit(request, principal: principal, action: "embed.deleted", resourceType: "dashboard", resourceID: record.dashboardID.lower)
        return .json(["widget_id": .string(record.widgetID), "status": "deleted"])
    }

    func code(_ request: Request, _ principal: Principal) throws -> Response {
        .json(embedCode(try widget(request, principal)))
    }

    func analytics(_ request: Request, _ principal: Principal) throws -> Response {
        let record = try widget(request, principal)
        let days = try ShareRoutes.days(request)
        var document = ShareRoutes.present(try SharingRepository(db).summary(widgetID: record.widgetID, days: days), days: days)
        if case .object(var members) = document {
            members.insert(("widget_id", .string(record.widgetID)), at: 0)
            members.append(("access_count", .int(Int64(record.accessCount))))
            document = .object(members)
        }
        return .json(document)
    }

    // MARK: Embed code

    /// The `<iframe>` to paste, and a script-tag variant that inserts the same iframe where
    /// the script stands. Sandboxed: scripts and forms run (filters, downloads) in the
    /// frame's own origin; it cannot navigate the embedding page.
    func embedCode(_ record: EmbedWidgetRecord) -> JSON {
        let url = settings.embedURL(record.widgetID)
        let title = SharedText.attribute(record.title ?? "Assay \(record.widgetKind)")
        let sandbox = "allow-scripts allow-same-origin allow-forms allow-popups allow-downloads"
        let iframe = "<iframe src=\"\(SharedText.attribute(url))\" title=\"\(title)\" width=\"\(record.width)\" height=\"\(record.height)\" "
            + "loading=\"lazy\" sandbox=\"\(sandbox)\" referrerpolicy=\"strict-origin-when-cross-origin\" "
            + "style=\"border:0;max-width:100%\"></iframe>"
        let script = "<script src=\"\(SharedText.attribute(settings.baseURL))/static/embed.js\" data-assay-widget=\"\(record.widgetID)\" "
            + "data-width=\"\(record.width)\" data-height=\"\(record.height)\" data-title=\"\(title)\" async></script>"
        var members: [(String, JSON)] = [("widget_id", .string(record.widgetID)), ("url", .string(url)), ("iframe", .string(iframe)),
                                         ("script", .string(script)), ("width", .int(Int64(record.width))),
                                         ("height", .int(Int64(record.height)))]
        if record.sealedTokenSecret != nil {
            members.append(("signed_url", .string(url + "?token=<JWT signed with the widget's embed_secret>")))
        }
        return .object(members)
    }

    func present(_ record: EmbedWidgetRecord) -> JSON {
        let colours = (try? JSON.parse(Array(record.themeColors.utf8))) ?? [:]
        return [
            "widget_id": .string(record.widgetID), "url": .string(settings.embedURL(record.widgetID)),
            "dashboard_id": .string(record.dashboardID.lower), "widget_kind": .string(record.widgetKind),
            "chart_id": JSON(record.chartID), "title": JSON(record.title), "theme": .string(record.theme),
            "custom_theme": record.theme == PageTheme.Name.custom.rawValue ? colours : .null,
            "width": .int(Int64(record.width)), "height": .int(Int64(record.height)),
            "allowed_origins": .array(record.allowedOrigins.map(JSON.string)), "permissions": .array(record.permissions.map(JSON.string)),
            "signed": .bool(record.sealedTokenSecret != nil), "require_token": .bool(record.requireToken),
            "status": .string(record.expiresAt.map { $0 <= Date() ? "expired" : "active" } ?? "active"),
            "expires_at": Present.time(record.expiresAt), "access_count": .int(Int64(record.accessCount)),
            "last_accessed_at": Present.time(record.lastAccessedAt), "created_at": Present.time(record.createdAt),
        ]
    }

    private func widget(_ request: Request, _ principal: Principal) throws -> EmbedWidgetRecord {
        let id = request.pathParameters["id"] ?? ""
        guard ShareRules.isWellFormedID(id), let record = try SharingRepository(db).widget(id, team: principal.teamID) else {
            throw APIError.notFound("no such embedded widget")
        }
        return record
    }

    // MARK: Secrets

    static func sealSecret(_ secret: [UInt8], team: UUID, context: AppContext) throws -> String {
        guard let cipher = context.settings.connections.cipher else {
            throw APIError(status: 503, code: "encryption_unavailable", message: "ENCRYPTION_KEY is not configured")
        }
        let sealed = try cipher.seal(secret, boundTo: team)
        return sealed.keyID + "." + Data(sealed.ciphertext).base64URL
    }

    static func openSecret(_ sealed: String, widget: EmbedWidgetRecord, context: AppContext) throws -> [UInt8] {
        guard let cipher = context.settings.connections.cipher, let dot = sealed.firstIndex(of: "."),
              let ciphertext = Base64URL.decode(sealed[sealed.index(after: dot)...]) else {
            throw APIError(status: 503, code: "encryption_unavailable", message: "the widget's secret cannot be read")
        }
        return try cipher.open(ciphertext, keyID: String(sealed[..<dot]), boundTo: widget.teamID)
    }
}

/// Text for HTML attributes and messages.
enum SharedText {
    static func attribute(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    static func text(_ value: JSON) -> String {
        if case .string(let text) = value { return text }
        return value.serializedText
    }
}

extension Data {
    var base64URL: String { Base64URL.encode([UInt8](self)) }
}
