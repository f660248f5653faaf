/// What every export renderer is given: a table's columns, where it came from, the notes on
/// low-confidence cells, and its rows one at a time. Renderers never see the database, so a
/// dashboard (sections of titles, key-value blocks and tables) can use them later unchanged.

/// The kind of value a column holds, which decides how a renderer writes it: a number as a
/// number, a date as a date, and so on.
public enum ExportKind: String, Sendable, CaseIterable {
    case integer, decimal, currency, percent, date, timestamp, boolean, text

    /// The kind for a column's declared type: Assay's extracted-table types (integer, decimal,
    /// currency, percent, date, boolean, text) or a PostgreSQL type name of an ETL table
    /// (`bigint`, `numeric(12,2)`, `timestamp with time zone`, `character varying(40)`…).
    public init(declaredType: String) {
        let type = declaredType.lowercased()
        if let kind = ExportKind(rawValue: type) {
            self = kind
        } else if ["smallint", "int2", "int4", "int8", "bigint", "serial", "bigserial"].contains(type) || type.hasPrefix("integer") {
            self = .integer
        } else if type.hasPrefix("numeric") || type.hasPrefix("decimal") || ["real", "double precision", "float4", "float8", "money"].contains(type) {
            self = .decimal
        } else if type.hasPrefix("timestamp") {
            self = .timestamp
        } else if type == "bool" {
            self = .boolean
        } else {
            self = .text
        }
    }
}

public struct ExportColumn: Sendable, Equatable {
    /// The warehouse column name (safe identifier).
    public let name: String
    /// What the document or source called it: the header a reader sees.
    public let header: String
    public let kind: ExportKind
    /// The ISO code of the currency a money column is in, when the source says.
    public let currency: String?

    public init(name: String, header: String, kind: ExportKind, currency: String? = nil) {
        self.name = name
        self.header = header
        self.kind = kind
        self.currency = currency
    }
}

/// A cell the extraction was unsure of: what the document said and how sure it was (0–1).
public struct CellNote: Sendable, Equatable {
    public let original: String
    public let confidence: Double

    public init(original: String, confidence: Double) {
        self.original = original
        self.confidence = confidence
    }
}

/// One table to export.
public struct ExportTable: Sendable {
    /// Title shown above the table (PDF) and used for sheet names (Excel).
    public var title: String
    public var columns: [ExportColumn]
    /// Ordered label/value pairs: source document or connection, pages, confidence, export
    /// time, row count…, already formatted for people.
    public var metadata: [(label: String, value: String)]
    /// Low-confidence cells by row index (0-based, in export order), then column index.
    public var notes: [Int: [Int: CellNote]]
    /// Row count if known beforehand (for progress and sheet planning); nil if not.
    public var rowCount: Int?

    public init(title: String, columns: [ExportColumn], metadata: [(label: String, value: String)] = [],
                notes: [Int: [Int: CellNote]] = [:], rowCount: Int? = nil) {
        self.title = title
        self.columns = columns
        self.metadata = metadata
        self.notes = notes
        self.rowCount = rowCount
    }
}

/// Rows in export order, handed one at a time to `each`: one value per column as PostgreSQL's
/// text output writes it (`123.45`, `2024-01-31`, `2024-01-31 12:00:00+00`, `t`/`f`), nil for
/// NULL. The array passed to `each` is only valid during the call.
public typealias RowStream = (_ each: ([String?]) throws -> Void) throws -> Void

/// Called every few thousand rows with the number written so far.
public typealias ExportProgress = (_ rowsWritten: Int) -> Void

public struct ExportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
