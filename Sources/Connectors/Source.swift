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
