import Foundation
import Integrations
import JSONValues

/// Where Superset is and who Assay is there (`SUPERSET_URL`, `SUPERSET_USERNAME`, `SUPERSET_PASSWORD`).
public struct SupersetSettings: Sendable {
    public var url: String
    public var username: String
    public var password: String
    /// How Superset reaches Assay's own PostgreSQL (`SUPERSET_DATABASE_URI_HOST`, host[:port]);
    /// nil: the address in Assay's DATABASE_URL (a unix socket when it is one).
    public var databaseURIHost: String?
    /// Assay's DATABASE_URL, for the warehouse database Superset is given.
    public var warehouseURL: String
    /// Seconds a whole request to Superset may take, and its connect phase.
    public var timeout: Double
    public var connectTimeout: Double

    public init(url: String, username: String, password: String, databaseURIHost: String? = nil, warehouseURL: String = "",
                timeout: Double = 30, connectTimeout: Double = 3) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.username = username
        self.password = password
        self.databaseURIHost = databaseURIHost
        self.warehouseURL = warehouseURL
        self.timeout = timeout
        self.connectTimeout = connectTimeout
    }
}

/// One worker process's login at Superset: reused by every request the worker serves, so a
/// request does not log in each time. Workers serve one request at a time; the lock only
/// keeps the type honest about threads.
final class SupersetSessionCache: @unchecked Sendable {
    struct Login {
        var accessToken: String
        var refreshToken: String?
        var obtainedAt: Date
        var csrfToken: String?
        var cookie: String?
    }

    static let shared = SupersetSessionCache()
    private let lock = NSLock()
    private var logins: [String: Login] = [:]
    /// How often this process logged in and refreshed (the test route reports them).
    private(set) var loginCount = 0
    private(set) var refreshCount = 0

    func login(for key: String) -> Login? { lock.withLock { logins[key] } }
    func store(_ login: Login?, for key: String) { lock.withLock { logins[key] = login } }
    func countLogin() { lock.withLock { loginCount += 1 } }
    func countRefresh() { lock.withLock { refreshCount += 1 } }
}

/// Superset's REST API as Assay uses it: JWT login cached per worker, refreshed when the
/// access token expires (15 minutes) or is refused, CSRF token and session cookie on writes,
/// bounded retries of what is safe to retry. Every failure is a `SupersetError`.
public struct SupersetClient: Sendable {
    public let settings: SupersetSettings
    /// Superset's access tokens live 15 minutes; refresh a little before.
    static let accessTokenLifetime: TimeInterval = 14 * 60

    public init(settings: SupersetSettings) { self.settings = settings }

    var cacheKey: String { "\(settings.url)|\(settings.username)|\(settings.password.hashValue)" }

    // MARK: Calls

    /// A JSON answer from Superset with its status (2xx only; other statuses throw).
    public struct Answer: Sendable {
        public let status: Int
        public let body: JSON
    }

    public func get(_ path: String) throws -> Answer { try call("GET", path, body: nil) }
    public func post(_ path: String, _ body: JSON) throws -> Answer { try call("POST", path, body: body) }
    public func put(_ path: String, _ body: JSON) throws -> Answer { try call("PUT", path, body: body) }
    public func delete(_ path: String) throws -> Answer { try call("DELETE", path, body: nil) }

    /// `GET /health` without logging in: whether Superset answers at all.
    public func health() throws -> Bool {
        let response = try send("GET", "/health", headers: [], body: nil, idempotent: true)
        return response.status == 200
    }

    /// Logs in (or reuses this worker's login) and reports it; throws `authFailed` when refused.
    public func ensureLogin() throws {
        _ = try currentLogin()
    }

    func call(_ method: String, _ path: String, body: JSON?) throws -> Answer {
        let write = method != "GET"
        var login = try currentLogin()
        if write, login.csrfToken == nil { login = try withCSRF(login) }
        var refreshed = false
        var csrfRetried = false
        while true {
            var headers = ["Authorization: Bearer \(login.accessToken)", "Accept: application/json"]
            if write {
                headers.append("Content-Type: application/json")
                if let csrf = login.csrfToken { headers.append("X-CSRFToken: \(csrf)") }
                if let cookie = login.cookie { headers.append("Cookie: \(cookie)") }
                // Flask-WTF checks the Referer of HTTPS writes; Superset's own origin passes.
                headers.append("Referer: \(settings.url)/")
            }
            let response = try send(method, path, headers: headers, body: body?.serialized(), idempotent: !write)
            if SupersetClient.isTokenRefusal(response), !refreshed {
                refreshed = true
                login = try renewed(login)
                if write { login = try withCSRF(login) }
                continue
            }
            if write, response.status == 400, !csrfRetried,
               SupersetError.message(fromBody: response.body, status: 400).localizedCaseInsensitiveContains("csrf") {
                // The CSRF token or its session went stale: the write was refused, so it is safe to send again.
                csrfRetried = true
                login = try withCSRF(login)
                continue
            }
            guard (200..<300).contains(response.status) else {
                throw SupersetError(.rejected, SupersetError.message(fromBody: response.body, status: response.status),
                                    status: response.status)
            }
            let json = response.body.isEmpty ? JSON.null : ((try? JSON.parse(response.body)) ?? .null)
            return Answer(status: response.status, body: json)
        }
    }

    /// A 401, or flask-jwt-extended's 422 for a token it cannot read: log in or refresh again.
    static func isTokenRefusal(_ response: SupersetResponse) -> Bool { isTokenRefusal(status: response.status, body: response.body) }

    public static func isTokenRefusal(status: Int, body: [UInt8]) -> Bool {
        if status == 401 { return true }
        // flask-jwt-extended answers a token it cannot read with 422 {"msg": …}; Superset's own
        // 422s (a duplicate, a bad field) carry "message" instead.
        guard status == 422, case .object(let members)? = try? JSON.parse(body) else { return false }
        return members.contains { $0.0 == "msg" } && !members.contains { $0.0 == "message" }
    }

    // MARK: Login, refresh, CSRF

    func currentLogin() throws -> SupersetSessionCache.Login {
        if let login = SupersetSessionCache.shared.login(for: cacheKey) {
            if Date().timeIntervalSince(login.obtainedAt) < SupersetClient.accessTokenLifetime { return login }
            return try renewed(login)
        }
        return try logIn()
    }

    /// A new access token from the refresh token, else a new login.
    func renewed(_ login: SupersetSessionCache.Login) throws -> SupersetSessionCache.Login {
        if let refresh = login.refreshToken {
            let response = try send("POST", "/api/v1/security/refresh",
                                    headers: ["Authorization: Bearer \(refresh)", "Accept: application/json"], body: nil, idempotent: true)
            if response.status == 200, let body = try? JSON.parse(response.body), case .string(let access)? = body["access_token"] {
                SupersetSessionCache.shared.countRefresh()
                // A new access token: the CSRF token belongs to the old one's session.
                let renewed = SupersetSessionCache.Login(accessToken: access, refreshToken: refresh, obtainedAt: Date(),
                                                         csrfToken: nil, cookie: nil)
                SupersetSessionCache.shared.store(renewed, for: cacheKey)
                return renewed
            }
        }
        return try logIn()
    }

    func logIn() throws -> SupersetSessionCache.Login {
        SupersetSessionCache.shared.store(nil, for: cacheKey)
        let body: JSON = ["username": .string(settings.username), "password": .string(settings.password),
                          "provider": "db", "refresh": true]
        // The login is not idempotent in principle, but it changes nothing: a lost answer may be asked again.
        let response = try send("POST", "/api/v1/security/login", headers: ["Content-Type: application/json", "Accept: application/json"],
                                body: body.serialized(), idempotent: true)
        guard response.status == 200 else {
            if response.status == 400 || response.status == 401 || response.status == 403 {
                throw SupersetError(.authFailed, "Superset refused the login of SUPERSET_USERNAME: "
                                    + SupersetError.message(fromBody: response.body, status: response.status), status: response.status)
            }
            throw SupersetError(.rejected, "login: " + SupersetError.message(fromBody: response.body, status: response.status),
                                status: response.status)
        }
        guard let json = try? JSON.parse(response.body), case .string(let access)? = json["access_token"] else {
            throw SupersetError(.rejected, "Superset's login answer has no access_token", status: response.status)
        }
        var refresh: String?
        if case .string(let token)? = json["refresh_token"] { refresh = token }
        SupersetSessionCache.shared.countLogin()
        let login = SupersetSessionCache.Login(accessToken: access, refreshToken: refresh, obtainedAt: Date(), csrfToken: nil, cookie: nil)
        SupersetSessionCache.shared.store(login, for: cacheKey)
        return login
    }

    /// `GET /api/v1/security/csrf_token/`: the token and the `session` cookie it belongs to.
    func withCSRF(_ login: SupersetSessionCache.Login) throws -> SupersetSessionCache.Login {
        var current = login
        var response = try send("GET", "/api/v1/security/csrf_token/",
                                headers: ["Authorization: Bearer \(current.accessToken)", "Accept: application/json"], body: nil, idempotent: true)
        if SupersetClient.isTokenRefusal(response) {
            current = try renewed(current)
            response = try send("GET", "/api/v1/security/csrf_token/",
                                headers: ["Authorization: Bearer \(current.accessToken)", "Accept: application/json"], body: nil, idempotent: true)
        }
        guard response.status == 200, let json = try? JSON.parse(response.body), case .string(let token)? = json["result"] else {
            throw SupersetError(.rejected, "CSRF token: " + SupersetError.message(fromBody: response.body, status: response.status),
                                status: response.status)
        }
        current.csrfToken = token
        current.cookie = response.cookies.first { $0.hasPrefix("session=") }
        SupersetSessionCache.shared.store(current, for: cacheKey)
        return current
    }

    // MARK: Transport

    /// One request with bounded retries: a refused connection is retried for any method (the
    /// request never arrived); timeouts, resets and 502-504 only for idempotent requests (a
    /// POST that may have landed is never sent twice).
    func send(_ method: String, _ path: String, headers: [String], body: [UInt8]?, idempotent: Bool) throws -> SupersetResponse {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let response = try HTTPClient.send(method: method, url: settings.url + path, headers: headers, body: body,
                                                   timeout: settings.timeout, connectTimeout: settings.connectTimeout,
                                                   maxBody: 16 << 20)
                if idempotent, [502, 503, 504].contains(response.status), attempt < 3 {
                    usleep(UInt32(200_000 * attempt))
                    continue
                }
                return SupersetResponse(response)
            } catch let error as CurlError {
                // Refused or unresolvable: the request never arrived. An empty reply or a broken
                // connection may have been handled: only idempotent requests go again. A timeout
                // has used its time already and is not retried.
                let neverArrived = error.code == 7 || error.code == 6
                if attempt < 3, neverArrived || (idempotent && [52, 55, 56].contains(error.code)) {
                    usleep(UInt32(100_000 * attempt))
                    continue
                }
                throw SupersetError(.unreachable, "Superset at SUPERSET_URL did not answer: \(error.message)")
            }
        }
    }
}

/// An HTTP answer with its `Set-Cookie` values (name=value only).
struct SupersetResponse {
    let status: Int
    let body: [UInt8]
    let cookies: [String]

    init(_ response: HTTPResponse) {
        status = response.status
        body = response.body
        cookies = (response.headers["set-cookie"] ?? "").split(separator: "\n").compactMap { line in
            line.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) }
        }
    }
}


extension SupersetClient {
    /// How this worker's cached login is spoiled for a test (`ASSAY_TEST_ROUTES=1` only).
    public enum Tampering: String, CaseIterable, Sendable {
        /// The access token looks 15 minutes old: the next call refreshes it first.
        case aged
        /// The access token is garbage: Superset refuses it, the client refreshes once.
        case invalid
        /// Both tokens are garbage: the refresh is refused too, the client logs in again.
        case both
    }

    /// Spoils this worker's cached login (logging in first when there is none).
    public func tamperForTests(_ how: Tampering) throws {
        var login = try currentLogin()
        switch how {
        case .aged: login.obtainedAt = Date(timeIntervalSinceNow: -16 * 60)
        case .invalid: login.accessToken = "invalid.token.value"
        case .both:
            login.accessToken = "invalid.token.value"
            login.refreshToken = "invalid.refresh.value"
        }
        SupersetSessionCache.shared.store(login, for: cacheKey)
    }

    /// Logins and refreshes this worker process has made.
    public static var counters: (logins: Int, refreshes: Int) {
        (SupersetSessionCache.shared.loginCount, SupersetSessionCache.shared.refreshCount)
    }
}
