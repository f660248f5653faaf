import Foundation

/// Which hosts users may point a connection at.
///
/// Always refused: unix-socket hosts (a path, or `@` for an abstract socket), several
/// hosts in one, and Assay's own database. Then `ASSAY_CONNECTION_DENY` (hosts or CIDRs;
/// default: link-local addresses, where cloud metadata services live) refuses matches,
/// and a non-empty `ASSAY_CONNECTION_ALLOW` admits only its matches. Host names are
/// resolved and every address checked; the connection then goes to the checked address.
public struct ConnectionPolicy: Sendable {
    public struct Rule: Sendable, Equatable {
        let text: String
        let network: (bytes: [UInt8], prefix: Int)?

        public static func == (a: Rule, b: Rule) -> Bool { a.text == b.text }
    }

    public static let defaultDeny = "169.254.0.0/16,fe80::/10"

    let deny: [Rule]
    let allow: [Rule]
    /// Assay's own database as (host, port) pairs; the host may be a name.
    let own: [(host: String, port: Int)]

    public init(deny: String, allow: String, ownDatabases: [(host: String, port: Int)]) throws {
        self.deny = try ConnectionPolicy.rules(deny, variable: "ASSAY_CONNECTION_DENY")
        self.allow = try ConnectionPolicy.rules(allow, variable: "ASSAY_CONNECTION_ALLOW")
        self.own = ownDatabases
    }

    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    static func rules(_ text: String, variable: String) throws -> [Rule] {
        try text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { item in
            if let slash = item.firstIndex(of: "/") {
                guard let bytes = ConnectionPolicy.parseIP(String(item[..<slash])),
                      let prefix = Int(item[item.index(after: slash)...]), (0...(bytes.count * 8)).contains(prefix) else {
                    throw Refusal(description: "\(variable): '\(item)' is not a CIDR such as 10.0.0.0/8")
                }
                return Rule(text: item, network: ConnectionPolicy.canonicalNetwork(bytes, prefix: prefix))
            }
            if let bytes = ConnectionPolicy.parseIP(item) {
                return Rule(text: item, network: ConnectionPolicy.canonicalNetwork(bytes, prefix: bytes.count * 8))
            }
            return Rule(text: item.lowercased(), network: nil)
        }
    }

    /// A rule's network in the spelling addresses are matched in: an IPv4-mapped network
    /// (`::ffff:10.0.0.0/104`) is the IPv4 network (`10.0.0.0/8`), and a single unspecified
    /// address is loopback, as in `canonical`.
    static func canonicalNetwork(_ bytes: [UInt8], prefix: Int) -> (bytes: [UInt8], prefix: Int) {
        if bytes.count == 16, prefix >= 96, bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            return (Array(bytes[12..<16]), prefix - 96)
        }
        if prefix == bytes.count * 8 { return (canonical(bytes), prefix) }
        return (bytes, prefix)
    }

    /// Refusals that need no DNS: socket paths, lists, characters no host has.
    public static func checkSyntax(_ host: String) throws {
        guard !host.isEmpty else { throw Refusal(description: "the host is empty") }
        if host.hasPrefix("/") || host.hasPrefix("@") || host.hasPrefix(".") {
            throw Refusal(description: "unix-socket hosts are not allowed; give a network host name or address")
        }
        if host.contains(",") || host.contains(where: { $0.isWhitespace || $0 == "=" || $0 == "'" || $0 == "\\" }) {
            throw Refusal(description: "the host must be one host name or IP address")
        }
    }

    /// The addresses `host` may be reached at, or why not. Every address is judged, and
    /// returned, in its canonical spelling (`canonical`), so that no other way of writing an
    /// address (`::ffff:127.0.0.1`, `::ffff:7f00:1`, `0.0.0.0`) escapes a rule.
    public func check(host: String, port: Int) throws -> [String] {
        try ConnectionPolicy.checkSyntax(host)
        let addresses = try ConnectionPolicy.resolve(host).map(ConnectionPolicy.canonical)
        let lowered = host.lowercased()
        for (ownHost, ownPort) in own where ownPort == port {
            let ownAddresses = ((try? ConnectionPolicy.resolve(ownHost)) ?? []).map(ConnectionPolicy.canonical)
            if ownHost.lowercased() == lowered || !Set(ownAddresses).isDisjoint(with: addresses) {
                throw Refusal(description: "this is Assay's own database")
            }
        }
        func matches(_ rule: Rule, _ address: String, anyLoopback: Bool) -> Bool {
            if let network = rule.network, let bytes = ConnectionPolicy.parseIP(address) {
                // 127.0.0.1 and ::1 are the same machine: a deny rule for one covers the other.
                let spellings = anyLoopback && ConnectionPolicy.loopbacks.contains(bytes) ? ConnectionPolicy.loopbacks : [bytes]
                return spellings.contains { ConnectionPolicy.contains(network, $0) }
            }
            return rule.network == nil && rule.text == lowered
        }
        for address in addresses {
            if let rule = deny.first(where: { matches($0, address, anyLoopback: true) }) {
                throw Refusal(description: "\(host) (\(address)) is on the deny list (\(rule.text))")
            }
            if !allow.isEmpty, !allow.contains(where: { matches($0, address, anyLoopback: false) }) {
                throw Refusal(description: "\(host) (\(address)) is not on the allow list")
            }
        }
        return addresses
    }

    /// The one spelling of an address that rules are matched against: an IPv4-mapped
    /// (`::ffff:a.b.c.d`, `::ffff:7f00:1`) or IPv4-compatible (`::a.b.c.d`) IPv6 address is
    /// its IPv4 address, and the unspecified addresses (`0.0.0.0`, `::`), which connect to
    /// this machine, are loopback (`127.0.0.1`, `::1`). Text that is no address is kept.
    public static func canonical(_ address: String) -> String {
        guard let bytes = parseIP(address) else { return address }
        return text(canonical(bytes))
    }

    static func canonical(_ bytes: [UInt8]) -> [UInt8] {
        if bytes.count == 4 { return bytes == [0, 0, 0, 0] ? [127, 0, 0, 1] : bytes }
        guard bytes.count == 16 else { return bytes }
        if bytes.allSatisfy({ $0 == 0 }) { return loopbacks[1] }
        let mapped = bytes[0..<10].allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
        let compatible = bytes[0..<12].allSatisfy { $0 == 0 } && bytes != loopbacks[1]
        return mapped || compatible ? canonical(Array(bytes[12..<16])) : bytes
    }

    /// `127.0.0.1` and `::1`.
    static let loopbacks: [[UInt8]] = [[127, 0, 0, 1], [UInt8](repeating: 0, count: 15) + [1]]

    static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        return bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil ? String(cString: buffer) : ""
        }
    }

    static func contains(_ network: (bytes: [UInt8], prefix: Int), _ address: [UInt8]) -> Bool {
        guard network.bytes.count == address.count else { return false }
        var remaining = network.prefix
        for (a, b) in zip(network.bytes, address) {
            if remaining <= 0 { return true }
            let bits = min(8, remaining)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if a & mask != b & mask { return false }
            remaining -= bits
        }
        return true
    }

    static func parseIP(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Numeric addresses of a host (getaddrinfo), IPv4 first.
    static func resolve(_ host: String) throws -> [String] {
        if parseIP(host) != nil { return [host] }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let list else {
            throw Refusal(description: "the host name \(host) does not resolve")
        }
        defer { freeaddrinfo(list) }
        var addresses: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(current.pointee.ai_addr, current.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0,
                           NI_NUMERICHOST) == 0 {
                let text = String(cString: buffer)
                if !addresses.contains(text) { addresses.append(text) }
            }
            entry = current.pointee.ai_next
        }
        return addresses.sorted { ($0.contains(":") ? 1 : 0) < ($1.contains(":") ? 1 : 0) }
    }

    /// (host, port) pairs of a libpq URL or conninfo string; empty for a unix socket.
    public static func endpoints(ofDatabaseURL url: String) -> [(host: String, port: Int)] {
        var host = "", port = 5432
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            guard let components = URLComponents(string: url) else { return [] }
            host = components.host ?? ""
            port = components.port ?? 5432
            if let query = components.queryItems {
                if let h = query.first(where: { $0.name == "host" })?.value { host = h }
                if let p = query.first(where: { $0.name == "port" })?.value.flatMap(Int.init) { port = p }
            }
        } else {
            for pair in url.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { continue }
                if parts[0] == "host" || parts[0] == "hostaddr" { host = parts[1] }
                if parts[0] == "port", let p = Int(parts[1]) { port = p }
            }
        }
        guard !host.isEmpty, !host.hasPrefix("/"), !host.hasPrefix("%2F"), !host.hasPrefix("%2f") else { return [] }
        return host.split(separator: ",").map { (String($0), port) }
    }
}
