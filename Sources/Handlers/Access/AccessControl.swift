import Crypto
import Data
import Foundation
import JSONValues
import Logging
import Quotas

/// Authentication, scopes, quotas and the audit trail, wrapped around handlers.
///
///     router.post("/api/api-keys", access.protect(scope: .admin) { request, principal in … })
public final class AccessControl {
    let context: AppContext
    let tokens: TokenService
    let cache: AccessCache
    var settings: AccessSettings { context.settings.access }

    init(context: AppContext) {
        self.context = context
        cache = AccessCache(lifetime: TimeInterval(context.settings.access.authCacheSeconds))
        tokens = TokenService(secret: context.settings.access.jwtSecret,
                              accessTTL: context.settings.access.accessTTL, refreshTTL: context.settings.access.refreshTTL)
    }

    /// A route for authenticated callers: checks the scope (API keys), counts the quota,
    /// adds the rate-limit headers, and writes a generic audit row for a successful
    /// mutation the handler did not audit itself.
    func protect(scope: Scope? = nil, quota: QuotaClass = .general, sessionOnly: Bool = false,
                 _ body: @escaping (Request, Principal) throws -> Response) -> Handler {
        { [self] request in
            var quotaHeaders: [(String, String)] = []
            do {
                let principal: Principal
                do {
                    principal = try authenticate(request)
                    request.userID = principal.userID
                    request.teamID = principal.teamID
                } catch {
                    quotaHeaders = try charge(principal: "addr:\(request.clientAddress)", quota: .general, override: nil)
                    throw error
                }
                quotaHeaders = try charge(principal: principal.quotaKey, quota: quota,
                                          override: quota == .general ? principal.apiKeyHourlyLimit : nil)
                // Uploads are counted when accepted: a refused one gives its count back.
                if quota == .upload { request.attributes[AccessControl.uploadCharged] = principal.quotaKey }
                defer { refundUnacceptedUpload(request) }
                if sessionOnly, principal.isAPIKey {
                    throw AccessError.forbidden("API keys cannot manage sessions; use a user token")
                }
                try principal.require(scope)
                var response = try body(request, principal)
                if response.status < 400 { request.attributes[AccessControl.uploadCharged] = nil }
                response.headers += quotaHeaders
                if ["POST", "PUT", "PATCH", "DELETE"].contains(request.method), response.status < 400,
                   request.attributes["audited"] == nil {
                    audit(request, principal: principal, action: "\(request.method.lowercased()) \(request.route?.template ?? request.path)")
                }
                return response
            } catch {
                var response = Response.error(Application.apiError(for: error, request: request, logger: context.logger), answering: request)
                response.headers += quotaHeaders
                return response
            }
        }
    }

    /// A route for anonymous callers (register, login): counted per client address.
    func anonymous(quota: QuotaClass = .general, _ body: @escaping (Request) throws -> Response) -> Handler {
        { [self] request in
            var quotaHeaders: [(String, String)] = []
            do {
                quotaHeaders = try charge(principal: "addr:\(request.clientAddress)", quota: quota, override: nil)
                var response = try body(request)
                response.headers += quotaHeaders
                return response
            } catch {
                var response = Response.error(Application.apiError(for: error, request: request, logger: context.logger), answering: request)
                response.headers += quotaHeaders
                return response
            }
        }
    }

    // MARK: Authentication

    /// True when the request carries an API key rather than a user token.
    func presentsAPIKey(_ request: Request) -> Bool {
        if let key = request.header("X-API-Key"), !key.isEmpty { return true }
        let authorization = request.header("Authorization") ?? ""
        return authorization.split(separator: " ", maxSplits: 1).last?.hasPrefix(APIKeyFormat.prefix) ?? false
    }

    func authenticate(_ request: Request) throws -> Principal {
        if let key = request.header("X-API-Key"), !key.isEmpty {
            return try authenticateAPIKey(key)
        }
        guard let authorization = request.header("Authorization") else { throw AccessError.unauthorized }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw AccessError.invalidToken("the Authorization header must be 'Bearer <token>'")
        }
        let credential = parts[1].trimmingCharacters(in: .whitespaces)
        if credential.hasPrefix(APIKeyFormat.prefix) { return try authenticateAPIKey(credential) }
        let token = try tokens.verify(credential, type: "access")
        let key = AccessCache.TokenKey(session: token.sessionID, jti: token.tokenID, user: token.userID, team: token.teamID)
        let generation = cache.synchronize(context.pool.accessGeneration)
        let check: AccessCheck
        if let kept = cache.check(key) {
            check = kept
        } else {
            check = try SessionRepository(context.database).check(session: token.sessionID, jti: token.tokenID,
                                                                  user: token.userID, team: token.teamID)
            cache.store(check, for: key, readAt: generation, current: context.pool.accessGeneration)
        }
        guard check.sessionActive, !check.tokenRevoked else { throw AccessError.tokenRevoked }
        guard check.userActive else { throw AccessError.forbidden("this account is disabled") }
        guard let roleName = check.role, let role = Role(rawValue: roleName), let teamName = check.teamName else {
            throw AccessError.forbidden("you are no longer a member of this team; switch teams or log in again")
        }
        return Principal(userID: token.userID, teamID: token.teamID, teamName: teamName, role: role,
                         sessionID: token.sessionID, tokenID: token.tokenID, tokenExpiresAt: token.expiresAt,
                         apiKeyID: nil, scopes: nil, apiKeyHourlyLimit: nil)
    }

    private func authenticateAPIKey(_ presented: String) throws -> Principal {
        guard let parsed = APIKeyFormat.parse(presented) else { throw AccessError.invalidAPIKey }
        let generation = cache.synchronize(context.pool.accessGeneration)
        let found: ApiKeyAuth, touched: Date?
        if let kept = cache.apiKey(prefix: parsed.prefix) {
            (found, touched) = kept
        } else {
            guard let read = try ApiKeyRepository(context.database).forAuthentication(prefix: parsed.prefix) else {
                throw AccessError.invalidAPIKey
            }
            (found, touched) = (read, nil)
            cache.store(read, prefix: parsed.prefix, readAt: generation, current: context.pool.accessGeneration)
        }
        guard constantTimeEqual(found.key.keyHash, APIKeyFormat.hash(presented)),
              found.key.revokedAt == nil, found.key.expiresAt.map({ $0 > Date() }) ?? true
        else { throw AccessError.invalidAPIKey }
        guard found.userActive, let roleName = found.role, let role = Role(rawValue: roleName), let teamName = found.teamName else {
            throw AccessError.invalidAPIKey
        }
        let now = Date()
        if (touched ?? found.key.lastUsedAt).map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try ApiKeyRepository(context.database).touch(id: found.key.id)
            cache.touched(prefix: parsed.prefix, at: now)
        }
        return Principal(userID: found.key.userID, teamID: found.key.teamID, teamName: teamName, role: role,
                         sessionID: nil, tokenID: nil, tokenExpiresAt: nil, apiKeyID: found.key.id,
                         scopes: Set(found.key.scopes.compactMap(Scope.init(rawValue:))),
                         apiKeyHourlyLimit: found.key.hourlyLimit)
    }

    // MARK: Quotas

    /// Counts the request; returns the rate-limit headers or throws 429 with them.
    static let uploadCharged = "quota.upload_charged"

    /// Gives back the upload count of a request that was not accepted (refused, failed).
    private func refundUnacceptedUpload(_ request: Request) {
        guard let key = request.attributes.removeValue(forKey: AccessControl.uploadCharged) as? String else { return }
        do {
            try QuotaLedger.refundHere(principal: key, quotaClass: QuotaClass.upload.rawValue, db: context.database)
        } catch {
            context.logger.warning("upload quota refund failed", metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
        }
    }

    /// For a request on an upload route that turns out to upload nothing (an extraction of a
    /// document uploaded before): its upload count is given back and it is counted in the
    /// general quota instead. Throws 429 when that is used up.
    func countAsGeneral(_ request: Request, principal: Principal) throws {
        refundUnacceptedUpload(request)
        _ = try charge(principal: principal.quotaKey, quota: .general, override: principal.apiKeyHourlyLimit)
    }

    private func charge(principal: String, quota: QuotaClass, override: Int?) throws -> [(String, String)] {
        let limit = override ?? settings.limit(quota)
        let usage = try QuotaLedger.chargeHere(principal: principal, quotaClass: quota.rawValue, db: context.database)
        let reset = Int(usage.windowEnd.timeIntervalSince1970)
        let headers = [
            ("X-RateLimit-Limit", String(limit)),
            ("X-RateLimit-Remaining", String(max(0, limit - usage.count))),
            ("X-RateLimit-Reset", String(reset)),
        ]
        if usage.count == 1, Int.random(in: 0..<50) == 0 { try? QuotaRepository(context.database).prune() }
        guard usage.count <= limit else {
            let retry = max(1, reset - Int(Date().timeIntervalSince1970))
            throw APIError(status: 429, code: "quota_exceeded",
                           message: "the hourly \(quota.rawValue) quota of \(limit) requests is used up; retry in \(retry) s",
                           headers: headers + [("Retry-After", String(retry))])
        }
        return headers
    }

    // MARK: Audit

    /// Writes an audit row for this request. Failure to audit is logged, not fatal.
    func audit(_ request: Request, principal: Principal?, action: String, resourceType: String? = nil,
               resourceID: String? = nil, detail: JSON = [:], userID: UUID? = nil, teamID: UUID? = nil) {
        request.attributes["audited"] = true
        let entry = AuditEntry(
            teamID: teamID ?? principal?.teamID, userID: userID ?? principal?.userID, apiKeyID: principal?.apiKeyID,
            action: action, resourceType: resourceType, resourceID: resourceID,
            ipAddress: request.clientAddress.isEmpty ? nil : request.clientAddress,
            userAgent: request.header("User-Agent").map { String($0.prefix(512)) }, requestID: request.requestID,
            detail: detail.serializedText)
        do {
            try AuditRepository(context.database).record(entry)
        } catch {
            context.logger.error("audit write failed", metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
        }
    }
}

/// `ocr_<8-character public prefix><40-character secret>`.
enum APIKeyFormat {
    static let prefix = "ocr_"
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    static func generate() -> (key: String, prefix: String) {
        var generator = SystemRandomNumberGenerator()
        let body = String((0..<48).map { _ in alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))] })
        return (prefix + body, String(body.prefix(8)))
    }

    static func parse(_ key: String) -> (prefix: String, secret: Substring)? {
        guard key.hasPrefix(prefix), key.count == prefix.count + 48 else { return nil }
        let body = key.dropFirst(prefix.count)
        return (String(body.prefix(8)), body.dropFirst(8))
    }

    static func hash(_ key: String) -> [UInt8] { Array(SHA256.hash(data: Array(key.utf8))) }
}

/// Compares two byte strings in time that depends only on their length.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}

/// Random bytes for tokens, URL-safe encoded.
func randomToken(bytes count: Int = 32) -> String {
    var generator = SystemRandomNumberGenerator()
    return Base64URL.encode((0..<count).map { _ in generator.next() })
}

func sha256(_ text: String) -> [UInt8] { Array(SHA256.hash(data: Array(text.utf8))) }
