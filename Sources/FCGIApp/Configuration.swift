import Connectors
import Credentials
import ETL
import Exporters
import Extraction
import Foundation
import Integrations
import Handlers
import JSONValues
import Logging
import Sharing
import Superset

/// The settings of `assay serve`, from environment variables overridden by flags.
/// Each setting is validated once here so a typo fails at start with its name.
struct Configuration: Sendable {
    var databaseURL: String
    var socketPath: String
    var socketMode: mode_t
    var socketGroup: String?
    var workers: Int
    var jobWorkers: Int
    var jobLeaseSeconds: Int
    var maxRequests: Int
    var requestTimeout: Int
    var shutdownTimeout: Int
    var backlog: Int
    var pidFile: String?
    var logLevel: Logger.Level
    var testRoutes: Bool
    var maxJSONBody: Int
    var access: AccessSettings
    var documents: DocumentSettings
    var extraction: ExtractionSettings
    var connections: ConnectionSettings
    var exports: ExportSettings
    var sharing: SharingSettings
    var superset: SupersetSettings?

    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// Every variable Assay reads, with its meaning; `assay --help` prints this.
    static let environmentHelp = """
        Environment (flags override):
          DATABASE_URL            PostgreSQL URL or conninfo (required)
          ASSAY_SOCKET            FastCGI unix socket path (default var/run/assay.sock)
          ASSAY_SOCKET_MODE       socket permissions, octal (default 0660)
          ASSAY_SOCKET_GROUP      group to own the socket, e.g. nginx's www-data
          ASSAY_WORKERS           FastCGI worker processes (default 2 x CPU cores)
          ASSAY_JOB_WORKERS       job worker processes: extraction, exports, ETL (default 2)
          ASSAY_JOB_LEASE_SECONDS a job whose worker is silent this long is retried (default 60)
          ASSAY_MAX_REQUESTS      recycle a worker after this many requests (default 10000, 0 = never)
          ASSAY_REQUEST_TIMEOUT   seconds before a stuck request's worker is killed (default 60)
          ASSAY_SHUTDOWN_TIMEOUT  seconds SIGTERM waits for in-flight requests (default 30)
          ASSAY_BACKLOG           listen backlog of the socket (default 1024)
          ASSAY_PID_FILE          file the master writes its pid to
          ASSAY_LOG_LEVEL         trace, debug, info, notice, warning, error, critical (default info)
          ASSAY_MAX_JSON_BODY     largest JSON request body in bytes (default 1048576)
          ASSAY_TEST_ROUTES       1 enables /api/_test/* (integration tests only)
          JWT_SECRET_KEY          token signing secret, at least 32 bytes (required)
          ASSAY_ACCESS_TOKEN_TTL  access token lifetime in seconds (default 900)
          ASSAY_REFRESH_TOKEN_TTL refresh token lifetime in seconds (default 2592000)
          ASSAY_QUOTA_UPLOAD, _EXPORT, _CHAT, _DASHBOARD, _GENERAL
                                  hourly request quotas per user or API key (10, 50, 100, 20, 1000)
          ASSAY_LOGIN_MAX_FAILURES          failures before an email is locked (default 5)
          ASSAY_LOGIN_ADDRESS_MAX_FAILURES  failures before a client address is locked (default 20)
          ASSAY_LOGIN_WINDOW_SECONDS        window in which failures count (default 900)
          ASSAY_LOGIN_LOCK_SECONDS          length of a lock (default 900)
          ASSAY_INVITE_TTL_DAYS   days an invitation stays valid (default 7)
          ASSAY_PUBLIC_URL        the URL users reach Assay at, for links in emails
          ASSAY_UPLOADS_DIR       where uploaded files are stored (default var/uploads)
          ASSAY_MAX_UPLOAD_BYTES  largest upload (default 52428800)
          ASSAY_MAX_PAGES         most pages in an uploaded PDF (default 500)
          ASSAY_MAX_PIXELS        most pixels in an uploaded image (default 100000000)
          SMTP_URL, SMTP_FROM     mail server (smtp:// or smtps://user:pass@host:port) and sender
          ASSAY_EXTRACT_SYNC_PAGES text PDFs up to this many pages are extracted in the request (default 5)
          GROQ_API_KEY            use Groq's LLM for field extraction (model LLM_MODEL, default llama-3.3-70b-versatile)
          LLM_BASE_URL, LLM_MODEL any OpenAI-compatible chat-completions server and model (e.g. a local Ollama)
          LLM_API_KEY             bearer token for LLM_BASE_URL (optional)
          LLM_TIMEOUT             seconds per LLM request (default 30)
          SUPERSET_URL            Apache Superset to sync databases, datasets and dashboards to (optional)
          SUPERSET_USERNAME, SUPERSET_PASSWORD  Assay's account there (a database login, Admin role)
          SUPERSET_DATABASE_URI_HOST  host[:port] Superset reaches Assay's PostgreSQL at for the
                                  warehouse database (default: DATABASE_URL's host or unix socket)
          SUPERSET_TIMEOUT        seconds per request to Superset (default 30)
          LLM_MAX_RETRIES         retries after a 429, a 5xx or no answer (default 2)
          ENCRYPTION_KEY          base64 of 32 bytes: encrypts connection passwords (required)
          ENCRYPTION_KEY_PREVIOUS earlier keys, comma-separated, still accepted for decryption
          ASSAY_CONNECTION_DENY   hosts or CIDRs connections may not reach (default 169.254.0.0/16,fe80::/10)
          ASSAY_CONNECTION_ALLOW  if set, the only hosts or CIDRs connections may reach
          ASSAY_SOURCE_CONNECT_TIMEOUT   seconds to connect to a customer database (default 10)
          ASSAY_SOURCE_STATEMENT_TIMEOUT seconds a statement on a customer database may run (default 300)
          ASSAY_EXPORTS_DIR       where export jobs write their files, served by nginx (default var/exports)
          ASSAY_EXPORT_TTL        seconds a finished export job's file stays downloadable (default 86400)
          ASSAY_EXPORT_SYNC_ROWS  Excel/PDF exports of bigger tables run as jobs (default 100000)
          ASSAY_EXPORT_MAX_BATCH  most tables in one batch export (default 50)
          SHARE_BASE_URL          where share and embed links point (default ASSAY_PUBLIC_URL)
          SHARE_DEFAULT_EXPIRY    expiry of a secure link made with neither password nor expiry: 24h, 7d, 90m; none refuses them (default 24h)
          SHARE_ACCESS_LOG        on or off: log every view of share and embed pages (default on)
          SHARE_LOG_RETENTION_DAYS days the access log keeps raw addresses and user agents (default 30)
          SHARE_PASSWORD_MAX_FAILURES wrong share-link passwords per link and address before a lock (default 5)
          SHARE_PASSWORD_LOCK_SECONDS length of that lock, and the window failures count in (default 900)
        """

    /// Reads the environment, then applies the flags that were given.
    static func resolve(_ options: ServeOptions, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Configuration {
        func int(_ flag: Int?, _ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            if let flag {
                guard range.contains(flag) else { throw Invalid(description: "--\(name) must be between \(range.lowerBound) and \(range.upperBound)") }
                return flag
            }
            let variable = "ASSAY_" + name.uppercased().replacingOccurrences(of: "-", with: "_")
            guard let raw = environment[variable], !raw.isEmpty else { return value }
            guard let number = Int(raw), range.contains(number) else {
                throw Invalid(description: "\(variable)=\(raw) must be a whole number between \(range.lowerBound) and \(range.upperBound)")
            }
            return number
        }
        guard let url = options.databaseURL ?? environment["DATABASE_URL"], !url.isEmpty else {
            throw Invalid(description: "DATABASE_URL is not set (or pass --database-url)")
        }
        let modeText = options.socketMode ?? environment["ASSAY_SOCKET_MODE"] ?? "0660"
        guard let mode = mode_t(modeText, radix: 8), mode <= 0o777 else {
            throw Invalid(description: "ASSAY_SOCKET_MODE=\(modeText) is not an octal permission such as 0660")
        }
        let levelText = environment["ASSAY_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(rawValue: levelText.lowercased()) else {
            throw Invalid(description: "ASSAY_LOG_LEVEL=\(levelText) is not a log level")
        }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard let secret = environment["JWT_SECRET_KEY"], secret.utf8.count >= 32 else {
            throw Invalid(description: "JWT_SECRET_KEY must be set to at least 32 bytes (scripts/run generates one into var/secrets)")
        }
        var quotas: [QuotaClass: Int] = [:]
        for quotaClass in QuotaClass.allCases {
            quotas[quotaClass] = try int(nil, "quota-\(quotaClass.rawValue)", default: quotaClass.defaultLimit, range: 1...100_000_000)
        }
        let access = AccessSettings(
            jwtSecret: Array(secret.utf8),
            accessTTL: try int(nil, "access-token-ttl", default: 900, range: 10...86_400),
            refreshTTL: try int(nil, "refresh-token-ttl", default: 30 * 86_400, range: 60...(365 * 86_400)),
            quotas: quotas,
            loginMaxFailures: try int(nil, "login-max-failures", default: 5, range: 1...1000),
            loginAddressMaxFailures: try int(nil, "login-address-max-failures", default: 20, range: 1...100_000),
            loginWindowSeconds: try int(nil, "login-window-seconds", default: 900, range: 1...86_400),
            loginLockSeconds: try int(nil, "login-lock-seconds", default: 900, range: 1...86_400),
            inviteTTLDays: try int(nil, "invite-ttl-days", default: 7, range: 1...365),
            smtpURL: environment["SMTP_URL"].flatMap { $0.isEmpty ? nil : $0 },
            smtpFrom: environment["SMTP_FROM"].flatMap { $0.isEmpty ? nil : $0 } ?? "assay@localhost",
            publicURL: environment["ASSAY_PUBLIC_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://127.0.0.1:8443",
            authCacheSeconds: try int(nil, "auth-cache-seconds", default: 5, range: 0...3600))
        let cipher: CredentialCipher
        let policy: ConnectionPolicy
        do {
            guard let key = environment["ENCRYPTION_KEY"], !key.isEmpty else {
                throw Invalid(description: "ENCRYPTION_KEY must be set to the base64 of exactly 32 bytes (openssl rand -base64 32; scripts/run generates one into var/secrets)")
            }
            cipher = try CredentialCipher(currentBase64: key,
                                          previousBase64: (environment["ENCRYPTION_KEY_PREVIOUS"] ?? "").split(separator: ",").map(String.init))
            policy = try ConnectionPolicy(deny: environment["ASSAY_CONNECTION_DENY"] ?? ConnectionPolicy.defaultDeny,
                                          allow: environment["ASSAY_CONNECTION_ALLOW"] ?? "",
                                          ownDatabases: ConnectionPolicy.endpoints(ofDatabaseURL: url))
        } catch let error as Invalid {
            throw error
        } catch {
            throw Invalid(description: "\(error)")
        }
        let llm: LLMSettings?
        do {
            llm = try LLMSettings.fromEnvironment(environment)
        } catch {
            throw Invalid(description: "\(error)")
        }
        let defaultExpiry: Int?
        do {
            defaultExpiry = try ShareRules.hours(environment["SHARE_DEFAULT_EXPIRY"] ?? "24h")
        } catch {
            throw Invalid(description: "SHARE_DEFAULT_EXPIRY: \(error)")
        }
        let accessLogText = (environment["SHARE_ACCESS_LOG"] ?? "on").lowercased()
        guard ["on", "off", "1", "0", "true", "false", ""].contains(accessLogText) else {
            throw Invalid(description: "SHARE_ACCESS_LOG=\(accessLogText) must be on or off")
        }
        /// The seed's SHARE_* names carry no ASSAY_ prefix.
        func shareInt(_ variable: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
            guard let raw = environment[variable], !raw.isEmpty else { return value }
            guard let number = Int(raw), range.contains(number) else {
                throw Invalid(description: "\(variable)=\(raw) must be a whole number between \(range.lowerBound) and \(range.upperBound)")
            }
            return number
        }
        var superset: SupersetSettings?
        if let supersetURL = environment["SUPERSET_URL"], !supersetURL.isEmpty {
            guard supersetURL.hasPrefix("http://") || supersetURL.hasPrefix("https://") else {
                throw Invalid(description: "SUPERSET_URL=\(supersetURL) must be an http:// or https:// URL")
            }
            guard let username = environment["SUPERSET_USERNAME"], !username.isEmpty,
                  let password = environment["SUPERSET_PASSWORD"], !password.isEmpty else {
                throw Invalid(description: "SUPERSET_URL needs SUPERSET_USERNAME and SUPERSET_PASSWORD")
            }
            superset = SupersetSettings(
                url: supersetURL, username: username, password: password,
                databaseURIHost: environment["SUPERSET_DATABASE_URI_HOST"].flatMap { $0.isEmpty ? nil : $0 },
                warehouseURL: url, timeout: Double(try shareInt("SUPERSET_TIMEOUT", default: 30, range: 1...600)))
        }
        let passwordLock = try shareInt("SHARE_PASSWORD_LOCK_SECONDS", default: 900, range: 1...86_400)
        let sharing = SharingSettings(
            secret: access.jwtSecret,
            baseURL: environment["SHARE_BASE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? access.publicURL,
            defaultExpiryHours: defaultExpiry,
            accessLog: !["off", "0", "false"].contains(accessLogText),
            logRetentionDays: try shareInt("SHARE_LOG_RETENTION_DAYS", default: 30, range: 1...3650),
            passwordMaxFailures: try shareInt("SHARE_PASSWORD_MAX_FAILURES", default: 5, range: 1...1000),
            passwordWindowSeconds: passwordLock, passwordLockSeconds: passwordLock)
        return Configuration(
            databaseURL: url,
            socketPath: options.socket ?? environment["ASSAY_SOCKET"] ?? "var/run/assay.sock",
            socketMode: mode,
            socketGroup: options.socketGroup ?? environment["ASSAY_SOCKET_GROUP"].flatMap { $0.isEmpty ? nil : $0 },
            workers: try int(options.workers, "workers", default: max(2, cores * 2), range: 1...512),
            jobWorkers: try int(options.jobWorkers, "job-workers", default: 2, range: 0...64),
            jobLeaseSeconds: try int(nil, "job-lease-seconds", default: 60, range: 3...3600),
            maxRequests: try int(options.maxRequests, "max-requests", default: 10_000, range: 0...Int(Int32.max)),
            requestTimeout: try int(options.requestTimeout, "request-timeout", default: 60, range: 1...86_400),
            shutdownTimeout: try int(options.shutdownTimeout, "shutdown-timeout", default: 30, range: 0...3_600),
            backlog: try int(options.backlog, "backlog", default: 1024, range: 1...65_535),
            pidFile: options.pidFile ?? environment["ASSAY_PID_FILE"].flatMap { $0.isEmpty ? nil : $0 },
            logLevel: level,
            testRoutes: environment["ASSAY_TEST_ROUTES"] == "1",
            maxJSONBody: try int(nil, "max-json-body", default: 1 << 20, range: 1024...(256 << 20)),
            access: access,
            documents: DocumentSettings(
                uploadsDirectory: environment["ASSAY_UPLOADS_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "var/uploads",
                maxUploadBytes: try int(nil, "max-upload-bytes", default: 50 << 20, range: 1024...(4 << 30)),
                maxPages: try int(nil, "max-pages", default: 500, range: 1...100_000),
                maxPixels: try int(nil, "max-pixels", default: 100_000_000, range: 10_000...2_000_000_000)),
            extraction: ExtractionSettings(syncMaxPages: try int(nil, "extract-sync-pages", default: 5, range: 0...100), llm: llm),
            connections: ConnectionSettings(
                cipher: cipher, policy: policy,
                connectTimeout: try int(nil, "source-connect-timeout", default: 10, range: 1...120),
                statementTimeout: try int(nil, "source-statement-timeout", default: 300, range: 1...86_400)),
            exports: ExportSettings(
                directory: environment["ASSAY_EXPORTS_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? "var/exports",
                ttlSeconds: try int(nil, "export-ttl", default: 86_400, range: 10...(90 * 86_400)),
                syncRows: try int(nil, "export-sync-rows", default: 100_000, range: 0...10_000_000),
                maxBatchTables: try int(nil, "export-max-batch", default: 50, range: 1...1000)),
            sharing: sharing,
            superset: superset
        )
    }

    /// The environment handed to worker processes, so flags given to the master
    /// reach them too.
    func workerEnvironment(base: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var environment = base
        environment["DATABASE_URL"] = databaseURL
        environment["ASSAY_MAX_REQUESTS"] = String(maxRequests)
        environment["ASSAY_JOB_LEASE_SECONDS"] = String(jobLeaseSeconds)
        environment["ASSAY_REQUEST_TIMEOUT"] = String(requestTimeout)
        environment["ASSAY_LOG_LEVEL"] = logLevel.rawValue
        environment["ASSAY_MAX_JSON_BODY"] = String(maxJSONBody)
        return environment.map { "\($0.key)=\($0.value)" }
    }
}
