import Data
import Foundation

/// How to reach a source database. `address` is the IP Assay checked against its
/// connection policy; the client connects to exactly that address (so a DNS answer that
/// changes between the check and the connect cannot redirect it) and keeps `host` for
/// TLS name verification.
public struct SourceSettings: Sendable {
    public var engine: SourceEngine
    public var host: String
    public var address: String
    public var port: Int
    public var database: String
    public var username: String
    public var password: String
    /// disable, prefer, require, verify-ca, verify-full.
    public var sslmode: String
    public var caCertificate: String?
    public var connectTimeout: Int
    public var statementTimeout: Int

    public init(engine: SourceEngine, host: String, address: String, port: Int, database: String, username: String,
                password: String, sslmode: String = "prefer", caCertificate: String? = nil, connectTimeout: Int = 10,
                statementTimeout: Int = 300) {
        self.engine = engine
        self.host = host
        self.address = address
        self.port = port
        self.database = database
        self.username = username
        self.password = password
        self.sslmode = sslmode
        self.caCertificate = caCertificate
        self.connectTimeout = connectTimeout
        self.statementTimeout = statementTimeout
    }
}

/// Why a source database could not be used, classified for the API.
public struct SourceError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        case authenticationFailed = "authentication_failed"
        case unreachable = "host_unreachable"
        case databaseMissing = "database_missing"
        case timeout
        case tls = "tls_failed"
        case query = "query_failed"
        case other = "connection_failed"
    }

    public let kind: Kind
    public let message: String
    public var description: String { message }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

public struct ServerInfo: Sendable {
    public let version: String
    public let latencyMilliseconds: Double
}

public struct SourceColumn: Sendable {
    public let name: String
    /// The type as the source declares it (`numeric(12,2)`, `tinyint(1)`, `varchar(100)`).
    public let type: String
    public let nullable: Bool
    public let primaryKey: Bool
}

public struct SourceTable: Sendable {
    public let schema: String
    public let name: String
    /// `table` or `view`.
    public let kind: String
    public let rowEstimate: Int64?
    public var columns: [SourceColumn]
    /// The columns that identify a row in the source, if any do (see `SourceKey`).
    public var key: SourceKey?

    public init(schema: String, name: String, kind: String, rowEstimate: Int64?, columns: [SourceColumn], key: SourceKey? = nil) {
        self.schema = schema
        self.name = name
        self.kind = kind
        self.rowEstimate = rowEstimate
        self.columns = columns
        self.key = key
    }
}

/// The columns that identify a source table's rows: its primary key, or else a unique key
/// whose columns are all NOT NULL (the smallest, then the first by index name). ETL makes it
/// the warehouse table's primary key, which the rows endpoint pages by.
public struct SourceKey: Sendable, Equatable {
    public enum Kind: String, Sendable { case primaryKey = "primary_key", unique }
    public let kind: Kind
    /// In the key's order.
    public let columns: [String]

    public init(kind: Kind, columns: [String]) {
        self.kind = kind
        self.columns = columns
    }

    /// One column of one unique index (or primary key) as a source's catalog lists it.
    public struct IndexColumn: Sendable {
        public let schema: String
        public let table: String
        public let index: String
        public let primary: Bool
        public let position: Int
        /// nil for an expression (such an index identifies nothing ETL can copy).
        public let column: String?
        public let notNull: Bool

        public init(schema: String, table: String, index: String, primary: Bool, position: Int, column: String?, notNull: Bool) {
            (self.schema, self.table, self.index, self.primary) = (schema, table, index, primary)
            (self.position, self.column, self.notNull) = (position, column, notNull)
        }
    }

    /// Each table's key, from the columns of its unique indexes: the primary key if there is
    /// one, else the unique index with fewest columns (then by name) whose columns are all
    /// plain NOT NULL columns. Keyed by `schema` and `table`.
    public static func choose(from columns: [IndexColumn]) -> [SourceTableRef: SourceKey] {
        struct Index { var primary: Bool; var columns: [(Int, String?)]; var notNull: Bool }
        var indexes: [SourceTableRef: [String: Index]] = [:]
        for c in columns {
            let table = SourceTableRef(schema: c.schema, name: c.table)
            var index = indexes[table, default: [:]][c.index] ?? Index(primary: c.primary, columns: [], notNull: true)
            index.columns.append((c.position, c.column))
            index.notNull = index.notNull && c.notNull
            indexes[table, default: [:]][c.index] = index
        }
        var keys: [SourceTableRef: SourceKey] = [:]
        for (table, byName) in indexes {
            let usable = byName.compactMap { name, index -> (String, Bool, [String])? in
                let ordered = index.columns.sorted { $0.0 < $1.0 }.map(\.1)
                guard !ordered.isEmpty, ordered.allSatisfy({ $0 != nil }) else { return nil }
                let names = ordered.map { $0! }
                guard index.primary || index.notNull, Set(names).count == names.count else { return nil }
                return (name, index.primary, names)
            }.sorted { a, b in
                if a.1 != b.1 { return a.1 }
                if a.2.count != b.2.count { return a.2.count < b.2.count }
                return a.0 < b.0
            }
            if let best = usable.first { keys[table] = SourceKey(kind: best.1 ? .primaryKey : .unique, columns: best.2) }
        }
        return keys
    }
}

/// An open, read-only session on a source database.
public protocol SourceDatabase: AnyObject, SourceStreaming {
    func serverInfo() throws -> ServerInfo
    func schema() throws -> [SourceTable]
}

public enum SourceConnector {
    /// Connects (bounded by the connect timeout) in a read-only session whose statements
    /// are bounded by the statement timeout.
    public static func open(_ settings: SourceSettings) throws -> SourceDatabase {
        switch settings.engine {
        case .postgresql: try PostgresSource(settings)
        case .mysql: try MySQLSource(settings)
        }
    }

    static func milliseconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1_000_000
    }
}
