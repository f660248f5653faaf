import Data
import Foundation

/// Who can open a share link: anyone with it, anyone with it and its password (or until it
/// expires), or signed-in members of the team that owns the dashboard.
public enum ShareType: String, CaseIterable, Sendable {
    case publicLink = "public_link", secureLink = "secure_link", team
}

/// What a link's viewer may do: see the dashboard; change its filters; download widgets;
/// rename the dashboard and its widgets.
public enum SharePermission: String, CaseIterable, Sendable {
    case view, interact, export, edit
}

/// What an embed shows: one chart widget, one KPI widget, or the whole dashboard.
public enum EmbedKind: String, CaseIterable, Sendable {
    case chart, kpi, dashboard
}

/// Where a link stands, as the API lists it.
public enum LinkStatus: String, Sendable {
    case active, expired, exhausted, revoked
}

public enum ShareRules {
    /// Share and embed ids: 32 bytes from the OS's random source, base64url without padding.
    public static let idLength = 43

    public static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        return Base64URLText.encode((0..<32).map { _ in generator.next() })
    }

    /// Whether `text` could be an id at all (so other text is a 404 without a query).
    public static func isWellFormedID(_ text: String) -> Bool {
        text.utf8.count == idLength && text.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
        }
    }

    public static func status(of link: ShareLinkRecord, now: Date = Date()) -> LinkStatus {
        if link.revokedAt != nil { return .revoked }
        if let expires = link.expiresAt, expires <= now { return .expired }
        if let limit = link.maxAccess, link.accessCount >= limit { return .exhausted }
        return .active
    }

    /// An origin an embed may be framed from, as CSP's `frame-ancestors` takes it:
    /// `https://host[:port]` (or `http://` for loopback and intranet hosts), lower-cased, no
    /// path; `https://*.example.com` for subdomains. Nil for anything else.
    public static func origin(_ text: String) -> String? {
        let lowered = text.trimmingCharacters(in: .whitespaces).lowercased()
        let trimmed = lowered.hasSuffix("/") ? String(lowered.dropLast()) : lowered
        guard let scheme = ["https://", "http://"].first(where: { trimmed.hasPrefix($0) }) else { return nil }
        let rest = trimmed.dropFirst(scheme.count)
        let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty, host.count <= 253 else { return nil }
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65_535).contains(port), String(port) == parts[1] else { return nil }
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if label == "*" && index == 0 && labels.count >= 3 { continue }
            guard !label.isEmpty, label.count <= 63,
                  label.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) || $0 == 0x2D }),
                  label.first != "-", label.last != "-" else { return nil }
        }
        return trimmed
    }

    /// `SHARE_DEFAULT_EXPIRY` and the like: `24h`, `7d`, `90m`, or a number of hours; nil
    /// for `0`/`none`/`never` (no default expiry). Throws on anything else.
    public static func hours(_ text: String) throws -> Int? {
        let value = text.trimmingCharacters(in: .whitespaces).lowercased()
        if ["", "0", "none", "never"].contains(value) { return nil }
        let units: [(String, Double)] = [("m", 1.0 / 60), ("h", 1), ("d", 24), ("w", 168)]
        for (suffix, factor) in units where value.hasSuffix(suffix) {
            if let number = Double(value.dropLast()), number > 0 { return max(1, Int((number * factor).rounded(.up))) }
        }
        if let number = Int(value), number > 0 { return number }
        throw SettingError(description: "'\(text)' is not a duration such as 24h, 7d or 90m")
    }

    public struct SettingError: Error, CustomStringConvertible {
        public let description: String
    }
}

/// base64url without padding (RFC 4648 §5).
enum Base64URLText {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }
}
