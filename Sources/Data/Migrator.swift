import Foundation
import Logging

/// One numbered SQL file from `Migrations/`, e.g. `0003_documents.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let sql: String

    /// FNV-1a of the text: enough to notice a migration edited after it was applied.
    public var checksum: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in sql.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// Parses file names `NNNN_name.sql` into ordered migrations; rejects bad names
    /// and duplicate numbers so a mistake fails the build's tests, not production.
    public static func list(files: [(name: String, contents: String)]) throws -> [Migration] {
        var migrations: [Migration] = []
        for file in files where file.name.hasSuffix(".sql") {
            let stem = file.name.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"),
                  let version = Int(stem[..<underscore]), version > 0
            else {
                throw DataError.migration("migration file \(file.name) is not named NNNN_name.sql")
            }
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: file.contents))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw DataError.migration("two migrations are numbered \(a.version): \(a.name) and \(b.name)")
        }
        return migrations
    }

    /// The migrations shipped with this build.
    public static func bundled() throws -> [Migration] {
        guard let directory = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw DataError.migration("the Migrations resource is missing from this build")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        let files = try names.map { name in
            (name: name, contents: try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8))
        }
        return try list(files: files)
    }
}

/// What must happen to bring a database to this build's schema.
public struct MigrationPlan: Equatable, Sendable {
    /// Known migrations not yet applied, in order.
    public let pending: [Migration]
    /// Versions applied to the database that this build does not have.
    public let unknown: [Int]

    public init(known: [Migration], applied: Set<Int>) {
        let knownVersions = Set(known.map(\.version))
        pending = known.filter { !applied.contains($0.version) }
        unknown = applied.subtracting(knownVersions).sorted()
    }

    /// Throws when the database was migrated by a newer build: running would risk
    /// writing rows that build's code does not expect.
    public func checkNoUnknown() throws {
        guard unknown.isEmpty else {
            let list = unknown.map(String.init).joined(separator: ", ")
            throw DataError.migration("the database has migration(s) \(list) that this build of Assay does not know; run a newer build")
        }
    }
}

/// Applies migrations under a PostgreSQL advisory lock, so several masters starting
/// at once apply each migration exactly once.
public struct Migrator {
    /// An arbitrary constant shared by every Assay process ("assay" in ASCII).
    static let lockKey: Int64 = 0x61_73_73_61_79

    let database: Database
    let migrations: [Migration]
    let logger: Logger

    public init(database: Database, migrations: [Migration], logger: Logger) {
        self.database = database
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies every pending migration, each in its own transaction; returns them.
    @discardableResult
    public func migrate() throws -> [Migration] {
        try database.query("SELECT pg_advisory_lock(\(Migrator.lockKey))")
        defer { _ = try? database.query("SELECT pg_advisory_unlock(\(Migrator.lockKey))") }
        try database.query("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY,
                name text NOT NULL,
                checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let plan = try currentPlan()
        try plan.checkNoUnknown()
        for migration in plan.pending {
            let started = Date()
            try database.transaction { db in
                try db.execute(unsafeScript: migration.sql)
                try db.query("""
                    INSERT INTO schema_migrations (version, name, checksum)
                    VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                    """)
            }
            logger.info("migration applied", metadata: [
                "migration.version": .stringConvertible(migration.version),
                "migration.name": "\(migration.name)",
                "db.duration_ms": .stringConvertible(Int(Date().timeIntervalSince(started) * 1000)),
            ])
        }
        return plan.pending
    }

    /// Compares the database with this build without changing anything.
    public func currentPlan() throws -> MigrationPlan {
        let exists = try database.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try exists.first?.decode("present", as: Bool.self) == true else {
            return MigrationPlan(known: migrations, applied: [])
        }
        let rows = try database.query("SELECT version FROM schema_migrations")
        let applied = Set(try rows.map { try $0.decode("version", as: Int.self) })
        return MigrationPlan(known: migrations, applied: applied)
    }
}
