import Foundation

/// The database engines Assay reads from (`connections.engine`).
public enum SourceEngine: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case postgresql, mysql

    public var defaultPort: Int { self == .postgresql ? 5432 : 3306 }

    /// Other names clients use for the engine.
    public var aliases: [String] { self == .postgresql ? ["postgres"] : ["mariadb"] }

    /// Every name a request may use, each engine followed by its aliases.
    public static let names = allCases.flatMap { [$0.rawValue] + $0.aliases }

    /// The engine a request names, by its own name or an alias.
    public init?(named name: String) {
        guard let engine = SourceEngine.allCases.first(where: { $0.rawValue == name || $0.aliases.contains(name) }) else {
            return nil
        }
        self = engine
    }
}

/// A customer database connection as stored: the secret stays encrypted here.
public struct ConnectionRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let name: String
    public let description: String?
    public let engine: SourceEngine
    public let host: String
    public let port: Int
    public let databaseName: String
    public let username: String
    public let secretCiphertext: [UInt8]
    public let keyID: String
    public let sslmode: String
    public let caCertificate: String?
    public let syncFrequency: String
    public let lastTestAt: Date?
    public let lastTestOK: Bool?
    public let lastTestMessage: String?
    public let createdAt: Date
    public let updatedAt: Date

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        name = try row.decode("name")
        description = try row.decode("description", as: String?.self)
        engine = try row.decode("engine")
        host = try row.decode("host")
        port = try row.decode("port")
        databaseName = try row.decode("database_name")
        username = try row.decode("username")
        secretCiphertext = try row.decode("secret_ciphertext", as: ByteA.self).bytes
        keyID = try row.decode("key_id")
        sslmode = try row.decode("sslmode")
        caCertificate = try row.decode("ca_certificate", as: String?.self)
        syncFrequency = try row.decode("sync_frequency")
        lastTestAt = try row.decode("last_test_at", as: Date?.self)
        lastTestOK = try row.decode("last_test_ok", as: Bool?.self)
        lastTestMessage = try row.decode("last_test_message", as: String?.self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

/// The fields of a connection a client sets (the secret already encrypted).
public struct ConnectionFields: Sendable {
    public var name: String
    public var description: String?
    public var engine: SourceEngine
    public var host: String
    public var port: Int
    public var databaseName: String
    public var username: String
    public var secretCiphertext: [UInt8]
    public var keyID: String
    public var sslmode: String
    public var caCertificate: String?
    public var syncFrequency: String

    public init(name: String, description: String?, engine: SourceEngine, host: String, port: Int, databaseName: String,
                username: String, secretCiphertext: [UInt8], keyID: String, sslmode: String, caCertificate: String?,
                syncFrequency: String) {
        self.name = name
        self.description = description
        self.engine = engine
        self.host = host
        self.port = port
        self.databaseName = databaseName
        self.username = username
        self.secretCiphertext = secretCiphertext
        self.keyID = keyID
        self.sslmode = sslmode
        self.caCertificate = caCertificate
        self.syncFrequency = syncFrequency
    }

    public init(_ record: ConnectionRecord) {
        self.init(name: record.name, description: record.description, engine: record.engine, host: record.host,
                  port: record.port, databaseName: record.databaseName, username: record.username,
                  secretCiphertext: record.secretCiphertext, keyID: record.keyID, sslmode: record.sslmode,
                  caCertificate: record.caCertificate, syncFrequency: record.syncFrequency)
    }
}

public struct ConnectionRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: """
        id, team_id, name, description, engine, host, port, database_name, username, secret_ciphertext, key_id,
        sslmode, ca_certificate, sync_frequency, last_test_at, last_test_ok, last_test_message, created_at, updated_at
        """)

    public func create(id: UUID, team: UUID, user: UUID, _ f: ConnectionFields) throws -> ConnectionRecord {
        try ConnectionRecord(db.query("""
            INSERT INTO connections (id, team_id, created_by, name, description, engine, host, port, database_name, username,
                                     secret_ciphertext, key_id, sslmode, ca_certificate, sync_frequency)
            VALUES (\(id), \(team), \(user), \(f.name), \(f.description), \(f.engine), \(f.host), \(f.port), \(f.databaseName),
                    \(f.username), \(ByteA(f.secretCiphertext)), \(f.keyID), \(f.sslmode), \(f.caCertificate), \(f.syncFrequency))
            RETURNING \(ConnectionRepository.columns)
            """)[0])
    }

    public func update(id: UUID, team: UUID, _ f: ConnectionFields) throws -> ConnectionRecord? {
        try db.query("""
            UPDATE connections SET name = \(f.name), description = \(f.description), engine = \(f.engine), host = \(f.host),
                port = \(f.port), database_name = \(f.databaseName), username = \(f.username),
                secret_ciphertext = \(ByteA(f.secretCiphertext)), key_id = \(f.keyID), sslmode = \(f.sslmode),
                ca_certificate = \(f.caCertificate), sync_frequency = \(f.syncFrequency), updated_at = now()
            WHERE id = \(id) AND team_id = \(team) AND deleted_at IS NULL
            RETURNING \(ConnectionRepository.columns)
            """).first.map(ConnectionRecord.init)
    }

    /// A live (not deleted) connection; `team` nil for job code that already checked it.
    public func find(id: UUID, team: UUID?) throws -> ConnectionRecord? {
        var sql: SQL = "SELECT \(ConnectionRepository.columns) FROM connections WHERE id = \(id) AND deleted_at IS NULL"
        if let team { sql.append(" AND team_id = \(team)") }
        return try db.query(sql).first.map(ConnectionRecord.init)
    }

    /// Newest first, keyset-paginated on (created_at, id).
    public func list(team: UUID, limit: Int, after cursor: (Date, UUID)?) throws -> [ConnectionRecord] {
        var sql: SQL = "SELECT \(ConnectionRepository.columns) FROM connections WHERE team_id = \(team) AND deleted_at IS NULL"
        if let (time, id) = cursor { sql.append(" AND (created_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(ConnectionRecord.init)
    }

    /// Soft delete: the row stays (ETL history refers to it) but is gone from the API, and
    /// so are its schedules (they would run against a connection nobody can see).
    public func softDelete(id: UUID, team: UUID) throws -> Bool {
        try db.query("""
            WITH gone AS (
                UPDATE connections SET deleted_at = now(), updated_at = now()
                WHERE id = \(id) AND team_id = \(team) AND deleted_at IS NULL RETURNING id
            ), unscheduled AS (
                DELETE FROM etl_schedules WHERE connection_id IN (SELECT id FROM gone)
            )
            SELECT id FROM gone
            """).count > 0
    }

    /// Sets the frequency alone (when its schedule was changed or deleted directly).
    public func setSyncFrequency(id: UUID, frequency: String) throws {
        try db.query("UPDATE connections SET sync_frequency = \(frequency), updated_at = now() WHERE id = \(id)")
    }

    public func recordTest(id: UUID, ok: Bool, message: String) throws {
        try db.query("""
            UPDATE connections SET last_test_at = now(), last_test_ok = \(ok), last_test_message = \(message) WHERE id = \(id)
            """)
    }
}
