import Crypto
import Foundation

/// The cookie a viewer gets after the password of a secure link (or a team member's sign-in):
/// the link, the password's epoch, the member, when it ends, and an HMAC over them. It is
/// set HttpOnly, Secure, SameSite=Lax and for the link's own path, so it opens that link
/// only, and only until the link expires or its password changes.
public struct ViewerPass: Sendable, Equatable {
    public static let cookieName = "assay_pass"
    /// A pass for a link without an expiry lasts this long.
    public static let longest: TimeInterval = 7 * 86_400

    public let shareID: String
    public let epoch: Int
    public let user: UUID?
    public let expiresAt: Date

    public init(shareID: String, epoch: Int, user: UUID?, expiresAt: Date) {
        self.shareID = shareID
        self.epoch = epoch
        self.user = user
        self.expiresAt = expiresAt
    }

    /// `payload.signature`, both base64url.
    public func sealed(_ settings: SharingSettings) -> String {
        let payload = Array("\(shareID)|\(epoch)|\(user?.uuidString.lowercased() ?? "-")|\(Int(expiresAt.timeIntervalSince1970))".utf8)
        let signature = HMAC<SHA256>.authenticationCode(for: payload, using: settings.cookieKey)
        return Base64URLText.encode(payload) + "." + Base64URLText.encode(Array(signature))
    }

    /// The pass in a cookie value, if its signature is right (compared in constant time) and
    /// it has not ended. The caller checks the link and epoch it names.
    public static func open(_ value: String, _ settings: SharingSettings, now: Date = Date()) -> ViewerPass? {
        let parts = value.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let payload = Base64URLText.decode(parts[0]), let signature = Base64URLText.decode(parts[1]),
              HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: payload, using: settings.cookieKey)
        else { return nil }
        let fields = String(decoding: payload, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false)
        guard fields.count == 4, let epoch = Int(fields[1]), let seconds = Int(fields[3]) else { return nil }
        let user = fields[2] == "-" ? nil : UUID(uuidString: String(fields[2]))
        if fields[2] != "-" && user == nil { return nil }
        let pass = ViewerPass(shareID: String(fields[0]), epoch: epoch, user: user, expiresAt: Date(timeIntervalSince1970: TimeInterval(seconds)))
        return pass.expiresAt > now ? pass : nil
    }

    /// The `Set-Cookie` value for this pass on the link's path.
    public func setCookie(_ settings: SharingSettings, now: Date = Date()) -> String {
        let maxAge = max(1, Int(expiresAt.timeIntervalSince(now)))
        return "\(ViewerPass.cookieName)=\(sealed(settings)); Path=/share/\(shareID); Max-Age=\(maxAge); HttpOnly; Secure; SameSite=Lax"
    }

    /// The value of the cookie named `name` in a `Cookie` header.
    public static func cookie(_ name: String, in header: String?) -> [String] {
        guard let header else { return [] }
        return header.split(separator: ";").compactMap { pair in
            let parts = pair.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == name else { return nil }
            return parts[1].trimmingCharacters(in: .whitespaces)
        }
    }
}

/// Unique viewers without keeping who they are: an HMAC of the client address and user agent
/// under a key that changes every UTC day, so the same viewer counts once a day and hashes
/// of different days cannot be linked.
public enum ViewerHash {
    public static func compute(address: String, userAgent: String, settings: SharingSettings, now: Date = Date()) -> String {
        let key = settings.dayKeys.key(day: Int(now.timeIntervalSince1970 / 86_400), root: settings.viewerKey)
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(address)\n\(userAgent)".utf8), using: key)
        let digits = Array("0123456789abcdef".utf8)
        var hex: [UInt8] = []
        hex.reserveCapacity(32)
        for byte in Array(code).prefix(16) {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }

    /// The origin of a `Referer` (scheme, host, port), lower-cased, or nil: paths and queries
    /// may carry tokens and are not kept.
    public static func referrerOrigin(_ referer: String?) -> String? {
        guard let referer else { return nil }
        let lowered = referer.lowercased()
        guard let scheme = ["https://", "http://"].first(where: { lowered.hasPrefix($0) }) else { return nil }
        let rest = lowered.dropFirst(scheme.count)
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty, authority.count <= 261,
              authority.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:[]".contains($0)) }),
              !authority.hasPrefix(":") else { return nil }
        return scheme + authority
    }
}

/// The viewer-hash key of the current UTC day, kept until the day turns.
final class DayKeyCache: @unchecked Sendable {
    private let lock = NSLock()
    private var current: (day: Int, key: SymmetricKey)?

    func key(day: Int, root: SymmetricKey) -> SymmetricKey {
        lock.withLock {
            if let current, current.day == day { return current.key }
            let key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array("day \(day)".utf8), using: root)))
            current = (day, key)
            return key
        }
    }
}
