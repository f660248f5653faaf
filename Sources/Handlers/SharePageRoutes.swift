import Credentials
import Dashboards
import Data
import Exporters
import Foundation
import JSONValues
import Sharing

/// The pages viewers open without an account: `GET /share/{id}` (a shared dashboard, its
/// password or sign-in form, `POST` to unlock it, widget downloads) and `GET /embed/{id}`
/// (a widget inside another site's iframe). Pages are HTML drawn by `PageRenderer`, or the
/// same data as JSON for `Accept: application/json`. Links that cannot be opened get one
/// plain page, 404 for unknown and 410 for every other reason, worded the same.
struct SharePageRoutes {
    let access: AccessControl
    var context: AppContext { access.context }
    var db: Database { context.database }
    var settings: SharingSettings { context.settings.sharing }

    func register(on router: Router) {
        router.get("/share/{id}", page(sharePage))
        router.post("/share/{id}", page(unlock))
        router.get("/share/{id}/widgets/{file}", page(shareDownload))
        router.post("/share/{id}/edit", page(edit))
        router.get("/embed/{id}", page(embedPage))
        router.get("/embed/{id}/widgets/{file}", page(embedDownload))
    }

    // MARK: Share links

    func sharePage(_ request: Request) throws -> Response {
        let (link, dashboard, viewer) = try openLink(request)
        // A HEAD is no view: it neither counts nor is logged.
        if request.method == "GET", let limit = link.maxAccess, limit > 0, !(try SharingRepository(db).takeLimitedView(link.shareID)) {
            throw PageError.gone
        }
        let permissions = Set(link.permissions.compactMap(SharePermission.init(rawValue:)))
        logView(request, team: link.teamID, shareID: link.shareID, user: viewer, counted: link.maxAccess != nil)
        let choices = SharedDashboard.Choices(values: request.query, interact: permissions.contains(.interact))
        if wantsJSON(request) {
            return .json(try sharedDashboard(dashboard, choices: choices).json(permissions: permissions), headers: [("Cache-Control", "no-store")])
        }
        let key = "share|\(link.shareID)|\(link.updatedAt.timeIntervalSince1970)|\(SharePageRoutes.variant(request, dashboard))"
        return try cachedPage(key, dashboard: dashboard) {
            let shared = try sharedDashboard(dashboard, choices: choices)
            let path = "/share/\(link.shareID)"
            var notes = ["Shared dashboard · updated \(PostgresTime.format(dashboard.updatedAt))"]
            let fixed = shared.fixedFilters
            if !fixed.isEmpty { notes.append("Filters: " + fixed.joined(separator: "; ")) }
            let model = DashboardPageModel(
                title: dashboard.title, theme: PageTheme.named(dashboard.theme) ?? .light, layout: .dashboard,
                widgets: shared.pageWidgets(downloadBase: permissions.contains(.export) ? "\(path)/widgets" : nil),
                filters: try shared.pageFilters(db: db), formAction: path, note: notes.joined(separator: " · "),
                editAction: permissions.contains(.edit) ? "\(path)/edit" : nil)
            return (PageRenderer.dashboard(model), !shared.results.contains { $0["error"] != nil })
        }
    }

    /// `POST /share/{id}`: the password form of a secure link, or a team member's sign-in.
    /// Right: a cookie for the link's path and a redirect to the page. Wrong: the form again
    /// (401); too many wrong tries from one address: 429 with `Retry-After`.
    func unlock(_ request: Request) throws -> Response {
        let (link, _) = try usableLink(request)
        let kind: GatePageModel.Kind
        if link.shareType == ShareType.team.rawValue {
            kind = .teamSignIn
        } else if link.passwordHash != nil {
            kind = .password
        } else {
            return redirect(to: "/share/\(link.shareID)")
        }
        let theme = PageTheme.light
        let action = "/share/\(link.shareID)"
        let throttle = LoginThrottleRepository(db)
        let key = "share:\(link.shareID) \(request.clientAddress)"
        if let wait = try throttle.lockedFor(key: key) {
            return html(PageRenderer.gate(GatePageModel(kind: kind, action: action, error: "Too many wrong attempts.", retryAfter: wait,
                                                        theme: theme)), status: 429, headers: [("Retry-After", String(wait))])
        }
        let form = try SharePageRoutes.form(request)
        let password = form["password"] ?? ""
        var user: UUID?
        var accepted = false
        switch kind {
        case .password:
            accepted = Passwords.verify(password, hash: link.passwordHash ?? Passwords.decoy)
        case .teamSignIn:
            let email = (form["email"] ?? "").trimmingCharacters(in: .whitespaces)
            let found = email.isEmpty ? nil : try UserRepository(db).find(email: email)
            let passwordOK = Passwords.verify(password, hash: found?.passwordHash ?? Passwords.decoy)
            if let found, passwordOK, found.isActive, try TeamRepository(db).membership(team: link.teamID, user: found.id) != nil {
                accepted = true
                user = found.id
            }
        }
        guard accepted else {
            let lock = try throttle.recordFailure(key: key, maxFailures: settings.passwordMaxFailures,
                                                  windowSeconds: settings.passwordWindowSeconds, lockSeconds: settings.passwordLockSeconds)
            access.audit(request, principal: nil, action: "share.unlock_failed", resourceType: "share_link", resourceID: nil,
                         detail: ["locked": .bool(lock != nil)], teamID: link.teamID)
            if let lock {
                return html(PageRenderer.gate(GatePageModel(kind: kind, action: action, error: "Too many wrong attempts.", retryAfter: lock,
                                                            theme: theme)), status: 429, headers: [("Retry-After", String(lock))])
            }
            let error = kind == .password ? "Wrong password." : "Wrong email or password, or not a member of the team that shared this."
            return html(PageRenderer.gate(GatePageModel(kind: kind, action: action, error: error, theme: theme)), status: 401)
        }
        let ends = min(link.expiresAt ?? .distantFuture, Date().addingTimeInterval(ViewerPass.longest))
        let pass = ViewerPass(shareID: link.shareID, epoch: link.passwordEpoch, user: user, expiresAt: ends)
        return redirect(to: action, headers: [("Set-Cookie", pass.setCookie(settings))])
    }

    /// `GET /share/{id}/widgets/{widget}.{csv|xlsx|pdf}`: one widget's data, with the filters
    /// the viewer chose, for links with `export`.
    func shareDownload(_ request: Request) throws -> Response {
        let (link, dashboard, _) = try openLink(request)
        let permissions = Set(link.permissions.compactMap(SharePermission.init(rawValue:)))
        guard permissions.contains(.export) else { throw PageError.forbidden("This link does not allow downloads.") }
        return try download(request, dashboard: dashboard, choices: SharedDashboard.Choices(
            values: request.query, interact: permissions.contains(.interact)))
    }

    /// `POST /share/{id}/edit` (links with `edit`): renames the dashboard (`title`) and its
    /// widgets (`widget.<id>`), and with `save_filters` keeps the filter values given (`f0`…)
    /// as the dashboard's own. A form (then a redirect to the page) or JSON (then the
    /// dashboard as JSON). A form must come from this site (`Origin`), so another site
    /// cannot make a viewer's browser edit.
    func edit(_ request: Request) throws -> Response {
        let (link, dashboard, viewer) = try openLink(request)
        guard link.permissions.contains(SharePermission.edit.rawValue) else { throw PageError.forbidden("This link does not allow editing.") }
        if let origin = request.header("Origin"), let host = request.header("Host"), origin != "https://\(host)" {
            throw PageError.forbidden("Edits must come from this site's own page.")
        }
        let isJSON = (request.header("Content-Type") ?? "").lowercased().hasPrefix("application/json")
        var fields: [String: String] = [:]
        if isJSON {
            guard case .object(let members) = try request.jsonObject(limit: 65_536).value else { throw APIError.validation([("body", "must be an object")]) }
            for (name, value) in members {
                switch value {
                case .string(let text): fields[name] = text
                case .int, .double, .bool: fields[name] = SharedText.text(value)
                default: throw APIError.validation([(name, "must be a string")])
                }
            }
        } else {
            fields = try SharePageRoutes.form(request)
        }
        let config = (try? JSON.parse(Array(dashboard.config.utf8))) ?? .null
        var widgets: [JSON] = if case .array(let items)? = config["widgets"] { items } else { [] }
        var filters: [JSON] = if case .array(let items)? = config["filters"] { items } else { [] }
        var problems: [(String, String)] = []
        var title = dashboard.title
        if let given = fields["title"]?.trimmingCharacters(in: .whitespacesAndNewlines) {
            if given.isEmpty || given.count > 200 { problems.append(("title", "must be 1 to 200 characters")) } else { title = given }
        }
        for (index, widget) in widgets.enumerated() {
            guard case .string(let id)? = widget["id"], let given = fields["widget.\(id)"]?.trimmingCharacters(in: .whitespacesAndNewlines),
                  case .object(var members) = widget else { continue }
            if given.isEmpty || given.count > 200 { problems.append(("widget.\(id)", "must be 1 to 200 characters")); continue }
            members.removeAll { $0.0 == "title" }
            members.append(("title", .string(given)))
            widgets[index] = .object(members)
        }
        if ["1", "true", "on"].contains(fields["save_filters"] ?? "") {
            let shared = try sharedDashboard(dashboard, choices: SharedDashboard.Choices(values: fields, interact: true))
            for filter in shared.filters {
                guard let index = filter.index else { continue }
                if let problem = filter.problem { problems.append(("f\(index)", problem)) } else { filters[index] = filter.condition }
            }
        }
        if !problems.isEmpty { throw APIError.validation(problems) }
        guard let updated = try DashboardRepository(db).update(id: dashboard.id, team: dashboard.teamID, title: title, theme: dashboard.theme,
                                                               config: (["widgets": .array(widgets), "filters": .array(filters)] as JSON).serializedText)
        else { throw PageError.gone }
        access.audit(request, principal: nil, action: "dashboard.updated", resourceType: "dashboard", resourceID: dashboard.id.lower,
                     detail: ["via": "share_link"], userID: viewer, teamID: link.teamID)
        if isJSON {
            let permissions = Set(link.permissions.compactMap(SharePermission.init(rawValue:)))
            return .json(try sharedDashboard(updated, choices: SharedDashboard.Choices()).json(permissions: permissions))
        }
        return redirect(to: "/share/\(link.shareID)")
    }

    /// The link, its dashboard and the signed-in member (team links), or the error page to
    /// show instead: unknown, gone, or still locked (its form).
    private func openLink(_ request: Request) throws -> (ShareLinkRecord, DashboardRecord, UUID?) {
        let (link, dashboard) = try usableLink(request)
        let passes = ViewerPass.cookie(ViewerPass.cookieName, in: request.header("Cookie"))
            .compactMap { ViewerPass.open($0, settings) }
            .filter { $0.shareID == link.shareID && $0.epoch == link.passwordEpoch }
        switch ShareType(rawValue: link.shareType) {
        case .team:
            if let user = passes.compactMap(\.user).first, try TeamRepository(db).membership(team: link.teamID, user: user) != nil {
                return (link, dashboard, user)
            }
            if request.header("Authorization") != nil || request.header("X-API-Key") != nil {
                let principal = try access.authenticate(request)
                guard try TeamRepository(db).membership(team: link.teamID, user: principal.userID) != nil else {
                    throw PageError.forbidden("This link is for members of the team that shared it.")
                }
                return (link, dashboard, principal.userID)
            }
            throw PageError.locked(.teamSignIn, action: "/share/\(link.shareID)")
        case .secureLink where link.passwordHash != nil:
            guard !passes.isEmpty else { throw PageError.locked(.password, action: "/share/\(link.shareID)") }
            return (link, dashboard, nil)
        default:
            return (link, dashboard, nil)
        }
    }

    private func usableLink(_ request: Request) throws -> (ShareLinkRecord, DashboardRecord) {
        let id = request.pathParameters["id"] ?? ""
        guard ShareRules.isWellFormedID(id), let view = try SharingRepository(db).viewLink(id) else { throw PageError.notFound }
        guard ShareRules.status(of: view.subject) == .active, let dashboard = view.dashboard else { throw PageError.gone }
        return (view.subject, dashboard)
    }

    // MARK: Embeds

    func embedPage(_ request: Request) throws -> Response {
        let (widget, dashboard, choices) = try openEmbed(request)
        logView(request, team: widget.teamID, widgetID: widget.widgetID, user: nil, counted: false)
        let permissions = Set(widget.permissions.compactMap(SharePermission.init(rawValue:)))
        if wantsJSON(request) {
            return .json(try sharedDashboard(dashboard, choices: choices).json(permissions: permissions), headers: [("Cache-Control", "no-store")])
        }
        let token = request.query["token"].flatMap { $0.isEmpty ? nil : $0 }
        let key = "embed|\(widget.widgetID)|\(widget.updatedAt.timeIntervalSince1970)|\(token ?? "")|\(SharePageRoutes.variant(request, dashboard))"
        return try cachedPage(key, dashboard: dashboard) {
            let shared = try sharedDashboard(dashboard, choices: choices)
            let path = "/embed/\(widget.widgetID)"
            let model = DashboardPageModel(
                title: widget.title ?? dashboard.title, theme: try theme(of: widget), layout: .embed(width: widget.width, height: widget.height),
                widgets: shared.pageWidgets(downloadBase: permissions.contains(.export) ? "\(path)/widgets" : nil,
                                            carry: token.map { [("token", $0)] } ?? []),
                filters: try shared.pageFilters(db: db), formAction: path, hiddenFields: token.map { [("token", $0)] } ?? [],
                frameAncestors: widget.allowedOrigins)
            return (PageRenderer.dashboard(model), !shared.results.contains { $0["error"] != nil })
        }
    }

    func embedDownload(_ request: Request) throws -> Response {
        let (widget, dashboard, choices) = try openEmbed(request)
        guard widget.permissions.contains(SharePermission.export.rawValue) else {
            throw PageError.forbidden("This widget does not allow downloads.")
        }
        return try download(request, dashboard: dashboard, choices: choices)
    }

    private func openEmbed(_ request: Request) throws -> (EmbedWidgetRecord, DashboardRecord, SharedDashboard.Choices) {
        let id = request.pathParameters["id"] ?? ""
        guard ShareRules.isWellFormedID(id), let view = try SharingRepository(db).viewWidget(id) else { throw PageError.notFound }
        let widget = view.subject
        guard widget.expiresAt.map({ $0 > Date() }) ?? true, let dashboard = view.dashboard else { throw PageError.gone }
        var locked: [(column: String, value: JSON)] = []
        if let token = request.query["token"], !token.isEmpty {
            guard let sealed = widget.sealedTokenSecret, let secret = try? EmbedRoutes.openSecret(sealed, widget: widget, context: context) else {
                throw PageError.unauthorized("This widget does not take signed tokens.")
            }
            do {
                locked = try EmbedTokens.verify(token, widgetID: widget.widgetID, secret: secret)
            } catch let rejected as EmbedTokens.Rejected {
                throw PageError.unauthorized("The embed token was refused: \(rejected.description).")
            }
        } else if widget.requireToken {
            throw PageError.unauthorized("This widget opens only with a signed embed token.")
        }
        let choices = SharedDashboard.Choices(values: request.query, interact: widget.permissions.contains(SharePermission.interact.rawValue),
                                              locked: locked, widgetID: widget.chartID)
        return (widget, dashboard, choices)
    }

    private func theme(of widget: EmbedWidgetRecord) throws -> PageTheme {
        guard widget.theme == PageTheme.Name.custom.rawValue else { return PageTheme.named(widget.theme) ?? .light }
        let colours = (try? JSON.parse(Array(widget.themeColors.utf8))) ?? .null
        func colour(_ name: String) -> String { if case .string(let text)? = colours[name] { text } else { "" } }
        return (try? PageTheme.custom(background: colour("background"), foreground: colour("foreground"), accent: colour("accent"))) ?? .light
    }

    // MARK: Shared parts

    private func sharedDashboard(_ dashboard: DashboardRecord, choices: SharedDashboard.Choices) throws -> SharedDashboard {
        do {
            return try SharedDashboard(dashboard, choices: choices, db: db)
        } catch let unfit as SharedDashboard.Unfit {
            throw PageError.badRequest(unfit.description)
        }
    }

    private func download(_ request: Request, dashboard: DashboardRecord, choices: SharedDashboard.Choices) throws -> Response {
        let file = request.pathParameters["file"] ?? ""
        guard let dot = file.lastIndex(of: "."), let format = WidgetDownload.Format(rawValue: String(file[file.index(after: dot)...])) else {
            throw PageError.notFound
        }
        let widgetID = String(file[..<dot])
        let shared = try sharedDashboard(dashboard, choices: choices)
        guard let export = try shared.export(widget: widgetID, db: db) else { throw PageError.notFound }
        let directory = context.settings.exports.directory
        let path = "\(directory)/download-\(UUID().uuidString.lowercased()).\(format.rawValue)"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try WidgetDownload.write(export, format: format, to: path, tempDirectory: directory)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let title = shared.widgets.first { $0["id"] == .string(widgetID) }?["title"]
        let name: String = if case .string(let text)? = title { text } else { widgetID }
        return Response(status: 200, headers: [("Content-Type", format.contentType), ("Cache-Control", "no-store"),
                                               ("Content-Disposition", ExportRoutes.disposition(name, extension: format.rawValue))],
                        body: .bytes(bytes))
    }

    /// Logs the view once the page is out (unless the access log is off): the worker keeps it
    /// with others and writes them together (`ViewBuffer`).
    private func logView(_ request: Request, team: UUID, shareID: String? = nil, widgetID: String? = nil, user: UUID?, counted: Bool) {
        guard settings.accessLog, request.method == "GET" else { return }
        let entry = ViewLog(db, settings: settings).entry(team: team, shareID: shareID, widgetID: widgetID, address: request.clientAddress,
                              userAgent: request.header("User-Agent"), referer: request.header("Referer"), user: user, counted: counted)
        let (url, settings, logger) = (db.url, settings, context.logger)
        request.afterResponse.append {
            ViewBuffer.shared.add(entry, makeWriter: { ViewLog(Database(url: url, application: "assay-web"), settings: settings).batchWriter() }, onError: { error in
                logger.error("share access log write failed", metadata: ["error": "\(error)"])
            })
        }
    }

    /// JSON clients: they ask for JSON, or they send it.
    /// A page drawn once and kept by this worker until the dashboard's tables change (the
    /// table notifications the API's caches use), the dashboard or the link changes, or the
    /// day turns (relative date filters). Pages whose widgets failed are not kept.
    private func cachedPage(_ key: String, dashboard: DashboardRecord,
                            render: () throws -> (page: RenderedPage, keep: Bool)) throws -> Response {
        if let kept = try DerivedResultCache.value(key, team: dashboard.teamID, db: db), let newline = kept.firstIndex(of: 0x0A) {
            return htmlBytes(Array(kept[(newline + 1)...]), csp: String(decoding: kept[..<newline], as: UTF8.self))
        }
        let (page, keep) = try render()
        let body = Array(page.html.utf8)
        if keep {
            DerivedResultCache.store(Array(page.contentSecurityPolicy.utf8) + [0x0A] + body, key: key, team: dashboard.teamID,
                                     tables: DashboardRoutes.tables(of: dashboard), db: db)
        }
        return htmlBytes(body, csp: page.contentSecurityPolicy)
    }

    /// What else a page depends on: the dashboard's version, the day, the filter values asked.
    static func variant(_ request: Request, _ dashboard: DashboardRecord) -> String {
        let values = request.query.filter { $0.key.hasPrefix("f") && Int($0.key.dropFirst()) != nil }
            .sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "&")
        return "\(dashboard.id.lower)|\(dashboard.updatedAt.timeIntervalSince1970)|\(Int(Date().timeIntervalSince1970 / 86_400))|\(values)"
    }

    private func htmlBytes(_ body: [UInt8], csp: String) -> Response {
        Response(status: 200, headers: [("Content-Type", "text/html; charset=utf-8"), ("Content-Security-Policy", csp),
                                        ("Cache-Control", "no-store")], body: .bytes(body))
    }

    private func wantsJSON(_ request: Request) -> Bool {
        if (request.header("Content-Type") ?? "").lowercased().hasPrefix("application/json") { return true }
        guard let accept = request.header("Accept")?.lowercased() else { return false }
        return accept.contains("application/json") && !accept.contains("text/html")
    }

    private func html(_ page: RenderedPage, status: Int = 200, headers: [(String, String)] = []) -> Response {
        var response = htmlBytes(Array(page.html.utf8), csp: page.contentSecurityPolicy)
        response.status = status
        response.headers += headers
        return response
    }

    private func redirect(to path: String, headers: [(String, String)] = []) -> Response {
        Response(status: 303, headers: [("Location", path), ("Cache-Control", "no-store")] + headers)
    }

    // MARK: Errors as pages

    enum PageError: Error {
        case notFound, gone
        case locked(GatePageModel.Kind, action: String)
        case forbidden(String)
        case unauthorized(String)
        case badRequest(String)
    }

    /// Runs a page handler; its failures become pages (or the JSON envelope for JSON clients).
    private func page(_ body: @escaping (Request) throws -> Response) -> Handler {
        { [self] request in
            do {
                let response = try body(request)
                // A view is logged only when the page was shown.
                if response.status >= 400 { request.afterResponse.removeAll() }
                return response
            } catch let error as PageError {
                request.afterResponse.removeAll()
                return errorPage(error, request: request)
            } catch let error as APIError where error.status < 500 {
                request.afterResponse.removeAll()
                if wantsJSON(request) { return .error(error, answering: request) }
                return html(PageRenderer.message(MessagePageModel(status: error.status, heading: "This page cannot be shown",
                                                                  message: error.message)), status: error.status, headers: error.headers)
            } catch {
                request.afterResponse.removeAll()
                throw error
            }
        }
    }

    private func errorPage(_ error: PageError, request: Request) -> Response {
        let (status, code, heading, message): (Int, String, String, String)
        switch error {
        case .notFound:
            (status, code, heading, message) = (404, "not_found", "Link not available",
                                                "This link does not work. Ask whoever shared it for a new one.")
        case .gone:
            (status, code, heading, message) = (410, "gone", "Link not available",
                                                "This link does not work. Ask whoever shared it for a new one.")
        case .locked(let kind, let action):
            if wantsJSON(request) {
                let code = kind == .password ? "password_required" : "sign_in_required"
                return .error(APIError(status: 401, code: code, message: kind == .password
                    ? "this link needs its password: POST it as a form to \(action)"
                    : "this link is for members of its team: send your token or API key"), answering: request)
            }
            return html(PageRenderer.gate(GatePageModel(kind: kind, action: action, theme: .light)))
        case .forbidden(let text):
            (status, code, heading, message) = (403, "forbidden", "Not allowed", text)
        case .unauthorized(let text):
            (status, code, heading, message) = (401, "unauthorized", "Not allowed", text)
        case .badRequest(let text):
            (status, code, heading, message) = (400, "bad_request", "This page cannot be shown", text)
        }
        if wantsJSON(request) { return .error(APIError(status: status, code: code, message: message), answering: request) }
        return html(PageRenderer.message(MessagePageModel(status: status, heading: heading, message: message)), status: status)
    }

    /// An `application/x-www-form-urlencoded` body of at most 8 KiB.
    static func form(_ request: Request) throws -> [String: String] {
        let type = request.header("Content-Type")?.lowercased() ?? ""
        guard type.hasPrefix("application/x-www-form-urlencoded") else {
            throw APIError.unsupportedMediaType("application/x-www-form-urlencoded")
        }
        let text = String(decoding: try request.body(limit: 8192), as: UTF8.self)
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (part: Substring) in part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            fields[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}
