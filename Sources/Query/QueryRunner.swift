import Data
import Foundation
import JSONValues

/// What running a query spec gives: the table, the result columns and rows, and how.
public struct QueryResult: Sendable {
    public let table: WarehouseTableRef
    public let outputs: [QueryOutput]
    /// The rows as a JSON array of arrays, in the order of `outputs`.
    public let rowsJSON: String
    /// More rows matched than the spec's limit.
    public let truncated: Bool
    /// Served from this process's cache (the table has not changed since it was computed).
    public let cached: Bool
    /// The statement run, with `$n` placeholders, and its parameters: for transparency.
    public let sql: String
    public let parameters: [String?]
    public let milliseconds: Double
}

public enum QueryFailure: Error, Sendable {
    /// The spec's table is not one of the team's warehouse tables.
    case noSuchTable
    /// The statement ran past the timeout (milliseconds).
    case tooSlow(Int)
}

/// Runs query specs against a team's warehouse tables.
public struct QueryRunner {
    /// A statement that runs longer is cancelled.
    public static let defaultTimeoutMilliseconds = 10_000

    let db: Database
    let timeoutMilliseconds: Int

    public init(_ db: Database, timeoutMilliseconds: Int = QueryRunner.defaultTimeoutMilliseconds) {
        self.db = db
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Checks `spec` (with its `table` id) against the team's table and runs it.
    public func run(_ spec: JSON, team: UUID, today: Date = Date()) throws -> QueryResult {
        var reader = FieldReader(spec)
        let raw = reader.string("table", minLength: 1, maxLength: 64)
        let id = raw.flatMap(UUID.init(uuidString:))
        if raw != nil, id == nil { reader.fail("table", "must be a table id (a UUID; GET /api/warehouse/tables lists them)") }
        try reader.finish()
        guard let id, let table = try WarehouseCatalogRepository(db).table(id: id, team: team) else { throw QueryFailure.noSuchTable }
        return try run(spec, on: table, team: team, today: today)
    }

    /// Runs `spec` on a table the caller has already looked up for `team` (its `table`
    /// member is ignored).
    public func run(_ spec: JSON, on table: WarehouseTableRef, team: UUID, today: Date = Date()) throws -> QueryResult {
        let compiled = try QuerySpec(spec, tableName: table.tableName, columns: QueryColumn.list(fromCatalog: table.columns), today: today)
        let started = DispatchTime.now()
        do {
            let result = try WarehouseQueryRepository(db).run(compiled.query, table: table.id, team: team,
                                                               timeoutMilliseconds: timeoutMilliseconds)
            let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000
            return QueryResult(table: table, outputs: compiled.outputs, rowsJSON: result.rowsJSON, truncated: result.truncated,
                               cached: result.cached, sql: result.sql, parameters: result.binds, milliseconds: (elapsed * 100).rounded() / 100)
        } catch DataError.server(sqlState: "57014", _, _) {
            throw QueryFailure.tooSlow(timeoutMilliseconds)
        }
    }
}
