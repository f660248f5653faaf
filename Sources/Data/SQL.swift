import Foundation

/// A SQL statement whose interpolated values become `$n` bind parameters.
///
/// `"SELECT * FROM users WHERE email = \(email)"` produces the text
/// `SELECT * FROM users WHERE email = $1` and one bound value; the value never
/// enters the SQL text. Raw text can only be spliced through the visibly named
/// `\(unsafeSQL:)`, and dynamic identifiers through `\(identifier:)`, which quotes.
public struct SQL: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    enum Part: Sendable {
        case text(String)
        case bind(String?)
    }

    private(set) var parts: [Part]

    public init(stringLiteral value: String) {
        parts = [.text(value)]
    }

    public init(stringInterpolation: Interpolation) {
        parts = stringInterpolation.parts
    }

    /// Builds a statement from raw text with no bound values. Only for text that is
    /// a compile-time constant or assembled from vetted identifiers (migrations).
    public init(unsafeSQL text: String) {
        parts = [.text(text)]
    }

    /// Appends another statement; its parameters are numbered after this one's.
    public mutating func append(_ other: SQL) {
        parts += other.parts
    }

    /// The SQL text with `$1…$n` placeholders, in order of the bound values.
    public var text: String {
        var result = ""
        var index = 0
        for part in parts {
            switch part {
            case .text(let text): result += text
            case .bind:
                index += 1
                result += "$\(index)"
            }
        }
        return result
    }

    /// The bound values in placeholder order; `nil` is SQL NULL.
    public var binds: [String?] {
        parts.compactMap { part in
            if case .bind(let value) = part { return .some(value) }
            return nil
        }
    }

    /// The statement with its parameters shown as `****`: safe for logs.
    public var description: String {
        let count = binds.count
        return count == 0 ? text : "\(text) [\(Array(repeating: "****", count: count).joined(separator: ", "))]"
    }

    public struct Interpolation: StringInterpolationProtocol {
        var parts: [Part] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            parts.reserveCapacity(interpolationCount * 2 + 1)
        }

        public mutating func appendLiteral(_ literal: String) {
            if !literal.isEmpty { parts.append(.text(literal)) }
        }

        /// A value: becomes the next `$n` parameter.
        public mutating func appendInterpolation<V: SQLBindable>(_ value: V) {
            parts.append(.bind(value.sqlText))
        }

        /// An optional value: `nil` binds SQL NULL.
        public mutating func appendInterpolation<V: SQLBindable>(_ value: V?) {
            parts.append(.bind(value?.sqlText))
        }

        /// A nested statement; its parameters keep their order.
        public mutating func appendInterpolation(_ fragment: SQL) {
            parts += fragment.parts
        }

        /// A quoted identifier (table or column name), e.g. `"t_1"`.
        public mutating func appendInterpolation(identifier: String) {
            parts.append(.text(SQL.quoteIdentifier(identifier)))
        }

        /// Raw SQL text. The name is the warning: never pass user input.
        public mutating func appendInterpolation(unsafeSQL raw: String) {
            parts.append(.text(raw))
        }
    }

    /// Quotes an identifier the way PostgreSQL's `quote_ident` does.
    public static func quoteIdentifier(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// A Swift value that can be sent to PostgreSQL as a text-format parameter.
public protocol SQLBindable {
    var sqlText: String { get }
}

extension String: SQLBindable { public var sqlText: String { self } }
extension Substring: SQLBindable { public var sqlText: String { String(self) } }
extension Int: SQLBindable { public var sqlText: String { String(self) } }
extension Int64: SQLBindable { public var sqlText: String { String(self) } }
extension Int32: SQLBindable { public var sqlText: String { String(self) } }
extension Double: SQLBindable { public var sqlText: String { String(self) } }
extension Bool: SQLBindable { public var sqlText: String { self ? "t" : "f" } }
