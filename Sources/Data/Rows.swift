import CLibpq
import Foundation

/// The rows of one result, in text format, freed when the value goes away.
public final class Rows: Sequence {
    private let result: OpaquePointer
    public let count: Int
    public let columnNames: [String]

    init(result: OpaquePointer) {
        self.result = result
        count = Int(PQntuples(result))
        columnNames = (0..<PQnfields(result)).map { String(cString: PQfname(result, $0)) }
    }

    deinit { PQclear(result) }

    /// Rows changed by an INSERT/UPDATE/DELETE.
    public var affectedRows: Int {
        Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    public subscript(index: Int) -> Row { Row(rows: self, index: Int32(index)) }

    public var first: Row? { count > 0 ? self[0] : nil }

    public func makeIterator() -> AnyIterator<Row> {
        var index = 0
        return AnyIterator {
            guard index < self.count else { return nil }
            defer { index += 1 }
            return self[index]
        }
    }

    func columnIndex(_ name: String) -> Int32? {
        columnNames.firstIndex(of: name).map(Int32.init)
    }

    func text(row: Int32, column: Int32) -> String? {
        if PQgetisnull(result, row, column) != 0 { return nil }
        return String(cString: PQgetvalue(result, row, column))
    }

    func typeOID(column: Int32) -> UInt32 { PQftype(result, column) }
}

/// One row; values are decoded by column name or position into Swift types.
public struct Row {
    let rows: Rows
    let index: Int32

    /// The raw text of the column at `position` (0-based), `nil` for SQL NULL.
    public func text(at position: Int) -> String? {
        rows.text(row: index, column: Int32(position))
    }

    /// The raw text of a column, `nil` for SQL NULL.
    public func text(_ column: String) throws -> String? {
        rows.text(row: index, column: try position(column))
    }

    /// Decodes a non-null column; NULL or a malformed value throws `DataError.decoding`.
    public func decode<T: SQLDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = try decode(column, as: Optional<T>.self) else {
            throw DataError.decoding(column: column, expected: "\(T.self)", found: "NULL")
        }
        return value
    }

    /// Decodes a nullable column.
    public func decode<T: SQLDecodable>(_ column: String, as type: T?.Type = T?.self) throws -> T? {
        let position = try position(column)
        guard let raw = rows.text(row: index, column: position) else { return nil }
        guard let value = T(sqlText: raw) else {
            throw DataError.decoding(column: column, expected: "\(T.self)", found: String(raw.prefix(40)))
        }
        return value
    }

    private func position(_ column: String) throws -> Int32 {
        guard let position = rows.columnIndex(column) else {
            throw DataError.decoding(column: column, expected: "a column", found: "no such column")
        }
        return position
    }
}

/// A Swift type that can be read from PostgreSQL's text output format.
public protocol SQLDecodable {
    init?(sqlText: String)
}

/// A closed set of values stored as text (a status, a mode): a row holding any other
/// text does not decode, so `Row.decode` throws `DataError.decoding` naming the column.
extension SQLDecodable where Self: RawRepresentable, RawValue == String {
    public init?(sqlText: String) { self.init(rawValue: sqlText) }
}

extension String: SQLDecodable { public init?(sqlText: String) { self = sqlText } }
extension Int: SQLDecodable { public init?(sqlText: String) { self.init(sqlText) } }
extension Int64: SQLDecodable { public init?(sqlText: String) { self.init(sqlText) } }
extension Int32: SQLDecodable { public init?(sqlText: String) { self.init(sqlText) } }
extension Double: SQLDecodable { public init?(sqlText: String) { self.init(sqlText) } }
extension Bool: SQLDecodable {
    public init?(sqlText: String) {
        switch sqlText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}
extension UUID: SQLDecodable { public init?(sqlText: String) { self.init(uuidString: sqlText) } }
extension Date: SQLDecodable { public init?(sqlText: String) { guard let date = PostgresTime.parse(sqlText) else { return nil }; self = date } }
extension Array: SQLDecodable where Element == String {
    /// A PostgreSQL `text[]` in its text form, e.g. `{a,b,"c d"}`.
    public init?(sqlText: String) {
        guard sqlText.hasPrefix("{"), sqlText.hasSuffix("}") else { return nil }
        var items: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        var sawQuotes = false
        for character in sqlText.dropFirst().dropLast() {
            if escaped { current.append(character); escaped = false; continue }
            switch character {
            case "\\" where quoted: escaped = true
            case "\"": quoted.toggle(); sawQuotes = true
            case "," where !quoted:
                items.append(current); current = ""; sawQuotes = false
            default: current.append(character)
            }
        }
        if !current.isEmpty || sawQuotes || !items.isEmpty { items.append(current) }
        self = items
    }
}
