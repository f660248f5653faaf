import Foundation

/// Errors of authentication and authorisation, each with its status and code.
enum AccessError {
    static let challenge = [("WWW-Authenticate", "Bearer")]

    static let unauthorized = APIError(status: 401, code: "unauthorized",
                                       message: "authentication required: send a Bearer token or an API key", headers: challenge)
    static func invalidToken(_ message: String) -> APIError {
        APIError(status: 401, code: "invalid_token", message: message, headers: challenge)
    }
    static let tokenExpired = APIError(status: 401, code: "token_expired", message: "the token has expired", headers: challenge)
    static let tokenRevoked = APIError(status: 401, code: "token_revoked", message: "the token has been revoked", headers: challenge)
    static let invalidAPIKey = APIError(status: 401, code: "invalid_api_key",
                                        message: "the API key is unknown, revoked or expired", headers: challenge)
    static func forbidden(_ message: String) -> APIError { APIError(status: 403, code: "forbidden", message: message) }
    static func missingScope(_ scope: Scope) -> APIError {
        APIError(status: 403, code: "missing_scope", message: "this API key lacks the scope \(scope.rawValue)")
    }
}

/// A team role; higher roles can do everything lower ones can.
public enum Role: String, CaseIterable, Comparable, Sendable {
    case viewer, editor, admin, owner

    var rank: Int { Role.allCases.firstIndex(of: self)! }
    public static func < (a: Role, b: Role) -> Bool { a.rank < b.rank }
}

/// What an API key may do. User tokens carry every scope (their role still applies).
public enum Scope: String, CaseIterable, Sendable {
    case documentsRead = "documents:read"
    case documentsWrite = "documents:write"
    case export
    case chat
    case dashboardsRead = "dashboards:read"
    case dashboardsWrite = "dashboards:write"
    case share
    case connections
    case etl
    case admin
}

/// The hourly quota a route counts against.
public enum QuotaClass: String, CaseIterable, Sendable {
    case upload, export, chat, dashboard, general

    public var defaultLimit: Int {
        switch self {
        case .upload: 10
        case .export: 50
        case .chat: 100
        case .dashboard: 20
        case .general: 1000
        }
    }
}

/// Who is making a request.
public struct Principal: Sendable {
    public let userID: UUID
    public let teamID: UUID
    public let teamName: String
    public let role: Role
    /// Set for JWT sessions.
    public let sessionID: UUID?
    public let tokenID: UUID?
    public let tokenExpiresAt: Date?
    /// Set for API keys.
    public let apiKeyID: UUID?
    public let scopes: Set<Scope>?
    public let apiKeyHourlyLimit: Int?

    public var isAPIKey: Bool { apiKeyID != nil }

    /// The quota counter's key.
    var quotaKey: String { apiKeyID.map { "key:\($0.lower)" } ?? "user:\(userID.lower)" }

    func require(_ scope: Scope?) throws {
        guard let scope, let scopes else { return }
        if !scopes.contains(scope) { throw AccessError.missingScope(scope) }
    }

    func require(role minimum: Role, to action: String) throws {
        if role < minimum { throw AccessError.forbidden("only a team \(minimum.rawValue) or higher may \(action)") }
    }
}

/// Access settings resolved at start-up.
public struct AccessSettings: Sendable {
    public var jwtSecret: [UInt8]
    public var accessTTL: Int
    public var refreshTTL: Int
    public var quotas: [QuotaClass: Int]
    public var loginMaxFailures: Int
    public var loginAddressMaxFailures: Int
    public var loginWindowSeconds: Int
    public var loginLockSeconds: Int
    public var inviteTTLDays: Int
    public var smtpURL: String?
    public var smtpFrom: String
    public var publicURL: String
    /// Seconds a worker keeps what it read about a session or API key (`AccessCache`); 0: none.
    public var authCacheSeconds: Int

    public init(jwtSecret: [UInt8], accessTTL: Int = 900, refreshTTL: Int = 30 * 86_400,
                quotas: [QuotaClass: Int] = [:], loginMaxFailures: Int = 5, loginAddressMaxFailures: Int = 20,
                loginWindowSeconds: Int = 900, loginLockSeconds: Int = 900, inviteTTLDays: Int = 7,
                smtpURL: String? = nil, smtpFrom: String = "assay@localhost", publicURL: String = "https://127.0.0.1:8443",
                authCacheSeconds: Int = 5) {
        self.authCacheSeconds = authCacheSeconds
        self.jwtSecret = jwtSecret
        self.accessTTL = accessTTL
        self.refreshTTL = refreshTTL
        self.quotas = quotas
        self.loginMaxFailures = loginMaxFailures
        self.loginAddressMaxFailures = loginAddressMaxFailures
        self.loginWindowSeconds = loginWindowSeconds
        self.loginLockSeconds = loginLockSeconds
        self.inviteTTLDays = inviteTTLDays
        self.smtpURL = smtpURL
        self.smtpFrom = smtpFrom
        self.publicURL = publicURL
    }

    func limit(_ quotaClass: QuotaClass) -> Int { quotas[quotaClass] ?? quotaClass.defaultLimit }
}
