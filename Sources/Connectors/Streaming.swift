import Data
import Foundation

/// A source table by schema and name.
public struct SourceTableRef: Sendable, Hashable {
    public let schema: String
    public let name: String

    public init(schema: String, name: String) {
        self.schema = schema
        self.name = name
    }
}

/// How a source column lands in the warehouse.
public struct ColumnMapping: Sendable, Equatable {
    public enum Conversion: Sendable, Equatable {
        /// The value's text is the warehouse value's text.
        case none
        /// MySQL's tinyint(1): 0 is false, anything else true.
        case boolean
        /// Binary data, written as bytea hex.
        case bytes
        /// MySQL dates and datetimes, whose zero value ("0000-00-00") becomes NULL.
        case zeroDateIsNull
    }

    public let name: String
    public let sourceType: String
    public let warehouseType: String

    /// The warehouse column this source column becomes.
    public var definition: WarehouseColumnDefinition { WarehouseColumnDefinition(name: name, sqlType: warehouseType) }
    public let conversion: Conversion

    public init(name: String, sourceType: String, warehouseType: String, conversion: Conversion) {
        self.name = name
        self.sourceType = sourceType
        self.warehouseType = warehouseType
        self.conversion = conversion
    }
}

/// The warehouse (PostgreSQL) type of each source type both engines commonly use.
public enum TypeMapper {
    public static func map(_ column: SourceColumn, engine: SourceEngine) -> ColumnMapping {
        let type = column.type.lowercased()
        let (target, conversion) = engine == .postgresql ? postgres(type) : mysql(type)
        return ColumnMapping(name: column.name, sourceType: column.type, warehouseType: target, conversion: conversion)
    }

    static func postgres(_ type: String) -> (String, ColumnMapping.Conversion) {
        let same = ["boolean", "smallint", "integer", "bigint", "real", "double precision", "date", "timestamp without time zone",
                    "timestamp with time zone", "time without time zone", "interval", "uuid", "jsonb", "bytea", "text"]
        if same.contains(type) { return (type, .none) }
        if type == "json" { return ("jsonb", .none) }
        if type.hasPrefix("numeric") { return (type, .none) }
        if type.hasPrefix("timestamp(") || type.hasPrefix("timestamp without") { return ("timestamp without time zone", .none) }
        if type.hasSuffix("with time zone") && type.hasPrefix("timestamp") { return ("timestamp with time zone", .none) }
        // varchar(n), char(n), enums, arrays, money, network types…: their text.
        return ("text", .none)
    }

    static func mysql(_ type: String) -> (String, ColumnMapping.Conversion) {
        let unsigned = type.contains("unsigned")
        let base = type.split(separator: " ").first.map(String.init) ?? type
        let name = base.split(separator: "(").first.map(String.init) ?? base
        switch name {
        case "tinyint" where base == "tinyint(1)": return ("boolean", .boolean)
        case "bool", "boolean": return ("boolean", .boolean)
        case "tinyint", "smallint", "mediumint": return ("integer", .none)
        case "int", "integer": return (unsigned ? "bigint" : "integer", .none)
        case "bigint": return (unsigned ? "numeric(20,0)" : "bigint", .none)
        case "decimal", "numeric", "dec", "fixed":
            return (base.contains("(") ? "numeric" + base[base.firstIndex(of: "(")!...] : "numeric", .none)
        case "float": return ("real", .none)
        case "double", "real": return ("double precision", .none)
        case "date": return ("date", .zeroDateIsNull)
        case "datetime": return ("timestamp without time zone", .zeroDateIsNull)
        case "timestamp": return ("timestamp with time zone", .zeroDateIsNull)
        case "time": return ("interval", .none)
        case "year": return ("integer", .none)
        case "json": return ("jsonb", .none)
        case "binary", "varbinary", "blob", "tinyblob", "mediumblob", "longblob", "bit": return ("bytea", .bytes)
        default: return ("text", .none) // char, varchar, *text, enum, set, …
        }
    }
}

/// Writes rows in PostgreSQL COPY text format into a buffer flushed in large chunks.
struct CopyTextWriter {
    private var buffer: [UInt8] = []
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private(set) var bytes: Int64 = 0
    static let flushAt = 256 * 1024
    static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    init(sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        self.sink = sink
        buffer.reserveCapacity(CopyTextWriter.flushAt + 64 * 1024)
    }

    mutating func field(_ value: UnsafeRawBufferPointer?, conversion: ColumnMapping.Conversion, first: Bool) {
        if !first { buffer.append(0x09) }
        guard let value else {
            buffer.append(contentsOf: [0x5C, 0x4E]) // \N
            return
        }
        switch conversion {
        case .boolean:
            buffer.append(value.count == 1 && value[0] == 0x30 ? 0x66 : 0x74)
        case .bytes:
            buffer.append(contentsOf: [0x5C, 0x5C, 0x78]) // \\x
            for byte in value {
                buffer.append(CopyTextWriter.hex[Int(byte >> 4)])
                buffer.append(CopyTextWriter.hex[Int(byte & 0x0F)])
            }
        case .zeroDateIsNull where value.count >= 4 && value[0] == 0x30 && value[1] == 0x30 && value[2] == 0x30 && value[3] == 0x30:
            buffer.append(contentsOf: [0x5C, 0x4E])
        case .none, .zeroDateIsNull:
            CopyText.appendEscaped(value, into: &buffer)
        }
    }

    /// Bytes already in COPY text format (a whole row with its newline).
    mutating func raw(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= CopyTextWriter.flushAt { try flush() }
    }

    mutating func endRow() throws {
        buffer.append(0x0A)
        if buffer.count >= CopyTextWriter.flushAt { try flush() }
    }

    mutating func flush() throws {
        guard !buffer.isEmpty else { return }
        try buffer.withUnsafeBytes { try sink($0) }
        bytes += Int64(buffer.count)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// What a copy moved.
public struct CopyCount: Sendable {
    public let rows: Int64
    public let bytes: Int64

    public init(rows: Int64, bytes: Int64) {
        self.rows = rows
        self.bytes = bytes
    }
}

/// A filter for incremental reads: rows whose cursor column is greater than `after`.
public struct CursorFilter: Sendable {
    public let column: String
    public let after: String?

    public init(column: String, after: String?) {
        self.column = column
        self.after = after
    }
}

public protocol SourceStreaming {
    /// Streams the rows of `table` (these columns, in order) as COPY text into `sink`,
    /// without holding the table in memory.
    func copy(_ table: SourceTableRef, columns: [ColumnMapping], filter: CursorFilter?,
              into sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> CopyCount
}
