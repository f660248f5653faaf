import Foundation
import JSONValues

/// A failure talking to Superset. `description` is safe to show a client: it never holds
/// a URL with credentials, a token or a password.
public struct SupersetError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// No `SUPERSET_URL` configured.
        case notConfigured = "superset_not_configured"
        /// No answer: connection refused, DNS, TLS, timeout.
        case unreachable = "superset_unreachable"
        /// Superset rejected the configured username and password (or the refresh token).
        case authFailed = "superset_auth_failed"
        /// Superset answered a request with an error; `status` is Superset's.
        case rejected = "superset_rejected"
        /// Assay's database role may not create the warehouse's login role (it lacks CREATEROLE).
        case warehouseRoleUnavailable = "warehouse_role_unavailable"
    }

    public let kind: Kind
    public let message: String
    /// Superset's HTTP status for `rejected` (0 when there was no answer).
    public let status: Int

    public init(_ kind: Kind, _ message: String, status: Int = 0) {
        self.kind = kind
        self.message = message
        self.status = status
    }

    public var description: String { "\(kind.rawValue): \(message)" }

    /// The same error with `secret` (a password Assay sent) blanked out of Superset's words.
    public func redacting(_ secret: String) -> SupersetError {
        guard secret.count >= 4, message.contains(secret) else { return self }
        return SupersetError(kind, message.replacingOccurrences(of: secret, with: "****"), status: status)
    }

    /// Whether Superset refused the request for something the caller sent (a duplicate, a
    /// table that does not exist, a database it cannot connect to) rather than failing itself.
    public var isCallersMistake: Bool { kind == .rejected && (status == 400 || status == 409 || status == 422) }

    /// Superset's own words from an error body: `{"message": "…" | {field: [...]}}`,
    /// `{"errors": [{"message": …}]}`, `{"msg": "…"}`, or an HTML error page (its title).
    public static func message(fromBody body: [UInt8], status: Int) -> String {
        let fallback = "Superset answered HTTP \(status)"
        guard !body.isEmpty else { return fallback }
        if let json = try? JSON.parse(body) {
            if let text = flatten(json["message"]), !text.isEmpty { return clip(text) }
            if case .array(let errors)? = json["errors"] {
                let texts = errors.compactMap { flatten($0["message"]) ?? flatten($0) }.filter { !$0.isEmpty }
                if !texts.isEmpty { return clip(texts.joined(separator: "; ")) }
            }
            if let text = flatten(json["msg"]), !text.isEmpty { return clip(text) }
            if let text = flatten(json["error"]), !text.isEmpty { return clip(text) }
            return fallback
        }
        // An HTML page (Superset's 500 page, a proxy's 502): its <title> or first heading.
        let text = String(decoding: body.prefix(65_536), as: UTF8.self)
        for tag in ["title", "h1", "p"] {
            if let start = text.range(of: "<\(tag)>", options: .caseInsensitive),
               let end = text.range(of: "</\(tag)>", options: .caseInsensitive, range: start.upperBound..<text.endIndex) {
                let inner = text[start.upperBound..<end.lowerBound].trimmingCharacters(in: .whitespacesAndNewlines)
                if !inner.isEmpty { return clip("\(fallback): \(inner)") }
            }
        }
        return fallback
    }

    /// A message member as text: a string, a list of strings, or `{field: [messages]}`.
    static func flatten(_ value: JSON?) -> String? {
        switch value {
        case .string(let text)?: return text
        case .array(let items)?: return items.compactMap { flatten($0) }.joined(separator: "; ")
        case .object(let members)?:
            return members.compactMap { name, value in flatten(value).map { "\(name): \($0)" } }.joined(separator: "; ")
        case .int(let number)?: return String(number)
        default: return nil
        }
    }

    static func clip(_ text: String) -> String { text.count > 500 ? String(text.prefix(500)) + "…" : text }
}
