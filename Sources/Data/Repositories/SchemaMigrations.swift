import Foundation

/// Which migrations the database has applied, as `GET /health` reports them.
public struct MigrationState: Sendable, Equatable {
    /// The highest version applied (0 when none is).
    public let latest: Int
    /// How many versions are applied.
    public let applied: Int
}

/// The `schema_migrations` table, read; `Migrator` writes it.
public struct MigrationRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// The latest applied version and how many are applied, in one round trip.
    public func state() throws -> MigrationState {
        let rows = try db.query("SELECT coalesce(max(version), 0) AS latest, count(*) AS applied FROM schema_migrations")
        guard let row = rows.first else { return MigrationState(latest: 0, applied: 0) }
        return MigrationState(latest: try row.decode("latest"), applied: try row.decode("applied"))
    }
}
