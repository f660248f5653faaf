import Crypto
import Foundation

/// Sharing's settings, resolved at start-up.
public struct SharingSettings: Sendable {
    /// Where share and embed URLs point (`SHARE_BASE_URL`, else `ASSAY_PUBLIC_URL`), no trailing slash.
    public var baseURL: String
    /// A secure link made without `expires_in_hours` (and without a password) expires after
    /// this many hours (`SHARE_DEFAULT_EXPIRY`, 24h); nil: such a link is refused.
    public var defaultExpiryHours: Int?
    /// Whether views are written to the access log (`SHARE_ACCESS_LOG`, on).
    public var accessLog: Bool
    /// Days the log keeps raw client addresses and user agents (`SHARE_LOG_RETENTION_DAYS`, 30).
    public var logRetentionDays: Int
    /// Wrong passwords per link and client address before it is locked out for a while.
    public var passwordMaxFailures: Int
    public var passwordWindowSeconds: Int
    public var passwordLockSeconds: Int
    /// Keys derived from the server's secret: one signs viewers' cookies, one makes the daily
    /// viewer hashes (never stored, so a hash cannot be reversed by trying addresses offline
    /// without the server's secret).
    let cookieKey: SymmetricKey
    let viewerKey: SymmetricKey
    /// The viewer key of the current day, derived once a day.
    let dayKeys = DayKeyCache()

    public init(secret: [UInt8], baseURL: String, defaultExpiryHours: Int? = 24, accessLog: Bool = true, logRetentionDays: Int = 30,
                passwordMaxFailures: Int = 5, passwordWindowSeconds: Int = 900, passwordLockSeconds: Int = 900) {
        let root = SymmetricKey(data: secret)
        cookieKey = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array("assay share cookie".utf8), using: root)))
        viewerKey = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array("assay viewer hash".utf8), using: root)))
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.defaultExpiryHours = defaultExpiryHours
        self.accessLog = accessLog
        self.logRetentionDays = logRetentionDays
        self.passwordMaxFailures = passwordMaxFailures
        self.passwordWindowSeconds = passwordWindowSeconds
        self.passwordLockSeconds = passwordLockSeconds
    }

    public func shareURL(_ shareID: String) -> String { "\(baseURL)/share/\(shareID)" }
    public func embedURL(_ widgetID: String) -> String { "\(baseURL)/embed/\(widgetID)" }
}
