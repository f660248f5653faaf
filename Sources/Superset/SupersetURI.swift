import Foundation

/// SQLAlchemy URIs Superset connects with, and Rison (the encoding of Superset's `q` query
/// parameter). Pure: unit-tested.
public enum SupersetURI {
    /// Characters left as they are in a URI's user, password and database parts.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func escape(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text }

    /// `driver://user:password@host:port/database?query`. An empty host with a `host` query
    /// member is a unix socket directory (libpq's convention, which psycopg2 follows).
    public static func make(driver: String, user: String, password: String, host: String, port: Int?, database: String,
                            query: [(String, String)] = []) -> String {
        var text = "\(driver)://\(escape(user)):\(escape(password))@"
        if !host.isEmpty {
            text += host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
            if let port { text += ":\(port)" }
        }
        text += "/\(escape(database))"
        if !query.isEmpty {
            text += "?" + query.map { "\(escape($0.0))=\($0.1.addingPercentEncoding(withAllowedCharacters: unreserved.union(CharacterSet(charactersIn: "/"))) ?? $0.1)" }
                .joined(separator: "&")
        }
        return text
    }

    /// `host[:port]` (as `SUPERSET_DATABASE_URI_HOST` gives it) split; `[v6]:port` too.
    public static func splitHost(_ text: String) -> (host: String, port: Int?) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            return (host, rest.hasPrefix(":") ? Int(rest.dropFirst()) : nil)
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let port = Int(parts[1]) { return (String(parts[0]), port) }
        return (text, nil)
    }

    /// The host and port of a `postgresql://` URL (Assay's DATABASE_URL), or its `host` query
    /// member (a socket directory) when the authority has none.
    public static func hostOf(databaseURL: String) -> (host: String, port: Int?)? {
        guard databaseURL.hasPrefix("postgres"), let components = URLComponents(string: databaseURL) else {
            // A conninfo string: `host=… port=… dbname=…`.
            var values: [String: String] = [:]
            for pair in databaseURL.split(separator: " ") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                if parts.count == 2 { values[String(parts[0])] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "'")) }
            }
            guard let host = values["host"], !host.isEmpty else { return nil }
            return (host, values["port"].flatMap(Int.init))
        }
        let items = components.queryItems ?? []
        let port = components.port ?? items.first { $0.name == "port" }.flatMap { $0.value.flatMap(Int.init) }
        if let host = components.host, !host.isEmpty { return (host, port) }
        if let socket = items.first(where: { $0.name == "host" })?.value, !socket.isEmpty { return (socket, port) }
        return nil
    }

    /// A Rison string (`'text'`, with `'` and `!` escaped by `!`).
    public static func risonString(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "!", with: "!!").replacingOccurrences(of: "'", with: "!'") + "'"
    }

    /// Superset's list query: `(filters:!((col:c,opr:o,value:v),…),page_size:n)`, URL-escaped.
    public static func listQuery(filters: [(column: String, op: String, value: String)], pageSize: Int = 100) -> String {
        let parts = filters.map { "(col:\($0.column),opr:\($0.op),value:\($0.value))" }.joined(separator: ",")
        let rison = "(filters:!(\(parts)),page_size:\(pageSize))"
        return rison.addingPercentEncoding(withAllowedCharacters: unreserved.union(CharacterSet(charactersIn: "(),:!'"))) ?? rison
    }
}
