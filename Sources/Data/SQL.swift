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

    /// A one-row relation whose evaluation sets `synchronous_commit = off` until the end of the
    /// transaction (`set_config(…, is_local => true)`): a single statement outside a transaction
    /// that reads `FROM` it commits without waiting for its WAL to reach the disk. The WAL writer
    /// flushes it within three `wal_writer_delay`s (600 ms by default); a crash of PostgreSQL
    /// may lose it until then. For counters and stamps written on every request only.
    public static let asynchronousCommit: SQL =
        "(SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit"

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

    /// Quotes a string literal (standard_conforming_strings is on: only `'` is special).
    public static func quoteLiteral(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "\u{0}", with: "").replacingOccurrences(of: "'", with: "''") + "'"
    }
}

/// A Swift value that can be sent to PostgreSQL as a text-format parameter.
public protocol SQLBindable {
    var sqlText: String { get }
}

/// A value stored as its raw text (a status, a mode, a kind).
extension SQLBindable where Self: RawRepresentable, RawValue == String {
    public var sqlText: String { rawValue }
}

extension String: SQLBindable { public var sqlText: String { self } }
extension Substring: SQLBindable { public var sqlText: String { String(self) } }
extension Int: SQLBindable { public var sqlText: String { String(self) } }
extension Int64: SQLBindable { public var sqlText: String { String(self) } }
extension Int32: SQLBindable { public var sqlText: String { String(self) } }
extension Double: SQLBindable { public var sqlText: String { String(self) } }
extension Bool: SQLBindable { public var sqlText: String { self ? "t" : "f" } }

extension UUID: SQLBindable { public var sqlText: String { uuidString.lowercased() } }

extension Date: SQLBindable {
    /// ISO 8601 with microseconds in UTC, which PostgreSQL reads as `timestamptz`.
    public var sqlText: String { PostgresTime.format(self) }
}

/// Bytes as PostgreSQL's hex `bytea` input (`\x0a1b…`).
public struct ByteA: SQLBindable, SQLDecodable, Equatable, Sendable {
    public let bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }
    public var sqlText: String { "\\x" + bytes.map { String(format: "%02x", $0) }.joined() }
    public init?(sqlText: String) {
        guard sqlText.hasPrefix("\\x") else { return nil }
        var bytes: [UInt8] = []
        var iterator = sqlText.utf8.dropFirst(2).makeIterator()
        while let high = iterator.next() {
            guard let low = iterator.next(), let h = hexValue(high), let l = hexValue(low) else { return nil }
            bytes.append(h << 4 | l)
        }
        self.bytes = bytes
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case 48...57: c - 48
    case 97...102: c - 87
    case 65...70: c - 55
    default: nil
    }
}

/// A JSON document sent as text; cast in SQL with `::jsonb`.
public struct JSONText: SQLBindable, Sendable {
    public let text: String
    public init(_ text: String) { self.text = text }
    public var sqlText: String { text }
}

/// Converts between `Date` and PostgreSQL's text form of `timestamptz` (the session
/// time zone is UTC, so values look like `2026-11-25 04:00:30.123456+00`).
public enum PostgresTime {
    public static func format(_ date: Date) -> String {
        var seconds = time_t(floor(date.timeIntervalSince1970))
        let micros = Int((date.timeIntervalSince1970 - Double(seconds)) * 1_000_000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        // "YYYY-MM-DDTHH:MM:SS.ffffffZ" digit by digit: String(format:) went through
        // CFString's format parser, a visible part of a small response's time.
        var text = [UInt8]()
        text.reserveCapacity(27)
        func digits(_ value: Int, _ count: Int) {
            var divisor = 1
            for _ in 1..<count { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                text.append(UInt8(48 + (rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        digits(Int(parts.tm_year) + 1900, 4); text.append(45)
        digits(Int(parts.tm_mon) + 1, 2); text.append(45)
        digits(Int(parts.tm_mday), 2); text.append(84)
        digits(Int(parts.tm_hour), 2); text.append(58)
        digits(Int(parts.tm_min), 2); text.append(58)
        digits(Int(parts.tm_sec), 2); text.append(46)
        digits(micros, 6); text.append(90)
        return String(decoding: text, as: UTF8.self)
    }

    public static func parse(_ text: String) -> Date? {
        // "YYYY-MM-DD HH:MM:SS[.ffffff]+00[:00]"
        let utf8 = Array(text.utf8)
        guard utf8.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int32? {
            var value: Int32 = 0
            for index in range {
                guard utf8[index] >= 48, utf8[index] <= 57 else { return nil }
                value = value * 10 + Int32(utf8[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        var index = 19
        var fraction = 0.0
        if index < utf8.count, utf8[index] == UInt8(ascii: ".") {
            index += 1
            var scale = 0.1
            while index < utf8.count, utf8[index] >= 48, utf8[index] <= 57 {
                fraction += Double(utf8[index] - 48) * scale
                scale /= 10
                index += 1
            }
        }
        var offsetSeconds = 0
        if index < utf8.count, utf8[index] == UInt8(ascii: "+") || utf8[index] == UInt8(ascii: "-") {
            let sign = utf8[index] == UInt8(ascii: "-") ? -1 : 1
            let rest = String(decoding: utf8[(index + 1)...], as: UTF8.self).split(separator: ":")
            let hours = Int(rest.first ?? "0") ?? 0
            let minutes = rest.count > 1 ? Int(rest[1]) ?? 0 : 0
            offsetSeconds = sign * (hours * 3600 + minutes * 60)
        }
        let epoch = timegm(&parts)
        return Date(timeIntervalSince1970: Double(epoch) + fraction - Double(offsetSeconds))
    }
}

extension Array: SQLBindable where Element == String {
    /// A `text[]` literal, each element quoted and escaped.
    public var sqlText: String {
        "{" + map(arrayElement).joined(separator: ",") + "}"
    }
}

/// A `text[]` whose elements may be NULL (`unnest` of several such arrays inserts many rows
/// in one statement).
/// One element of an array literal: in double quotes, with backslashes and quotes escaped.
/// (Written out by hand: Foundation's `replacingOccurrences` costs microseconds per call,
/// which a batch of a few hundred elements per page view notices.)
func arrayElement(_ text: String) -> String {
    var bytes: [UInt8] = [0x22]
    bytes.reserveCapacity(text.utf8.count + 2)
    for byte in text.utf8 {
        if byte == 0x5C || byte == 0x22 { bytes.append(0x5C) }
        bytes.append(byte)
    }
    bytes.append(0x22)
    return String(decoding: bytes, as: UTF8.self)
}

extension Array where Element == SQL {
    /// The statements one after another with `separator` (raw text) between them; their
    /// parameters keep their order.
    func joined(separator: String) -> SQL {
        var result = SQL(stringLiteral: "")
        for (index, fragment) in enumerated() {
            if index > 0 { result.append(SQL(stringLiteral: separator)) }
            result.append(fragment)
        }
        return result
    }
}

extension SQL {
    /// Quoted identifiers separated by commas: `"a", "b"`.
    static func identifiers(_ names: [String]) -> SQL {
        names.map { "\(identifier: $0)" as SQL }.joined(separator: ", ")
    }

    /// A warehouse table's qualified name: `"warehouse"."t_1"`.
    static func warehouseTable(_ name: String) -> SQL {
        "\(identifier: WarehouseRepository.schema).\(identifier: name)"
    }
}
