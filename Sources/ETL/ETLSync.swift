import Connectors
import Data
import Foundation
import JSONValues
import Jobs
import Logging
import Observability

/// The `etl.sync` job: copies a connection's tables into the warehouse.
///
/// Every table streams from the source (COPY TO STDOUT on PostgreSQL, an unbuffered
/// SELECT on MySQL) into a staging table through COPY FROM STDIN, and lands in one
/// transaction: a full refresh renames the staging table over the old one, incremental
/// modes merge it. Readers therefore see the old table or the new one, never half of
/// one, and a worker that dies mid-table leaves the previous table untouched (the next
/// attempt drops the abandoned staging table).
public enum ETLSync {
    public static func register(on registry: JobRegistry, settings: ConnectionSettings) {
        registry.register(.etlSync) { context in try run(context, settings: settings) }
    }

    /// Queues a run of `connection`'s tables (`selection`: which tables and how) as a job.
    public static func enqueue(_ db: Database, connection: ConnectionRecord, selection: JSON, schedule: UUID?, user: UUID?) throws -> ETLRunRecord {
        let id = UUID()
        return try db.transaction { db in
            let job = try JobRepository(db).enqueue(
                kind: .etlSync, team: connection.teamID,
                payload: JSON.object([("etl_job_id", .string(id.lower))]).serializedText,
                concurrencyKey: "connection:\(connection.id.lower)")
            return try ETLRepository(db).createRun(
                id: id, team: connection.teamID, connection: connection.id, schedule: schedule, job: job.id,
                trigger: schedule == nil ? .manual : .schedule,
                tables: selection.serializedText, user: user)
        }
    }

    /// One requested table.
    public struct TableRequest {
        public let schema: String?
        public let name: String
        public let mode: SyncMode
        public let cursor: String?
        public let primaryKey: [String]?
    }

    /// How one table went.
    struct TableOutcome {
        var table: String
        var mode: SyncMode
        var status = ETLRunStatus.running
        var warehouseTable: String?
        var rowsRead: Int64 = 0
        var rowsWritten: Int64 = 0
        var bytes: Int64 = 0
        var seconds = 0.0
        var error: String?
        var addedColumns: [String] = []

        var json: JSON {
            [
                "table": .string(table), "mode": .string(mode.rawValue), "status": .string(status.rawValue),
                "warehouse_table": JSON(warehouseTable), "rows_read": .int(rowsRead), "rows_written": .int(rowsWritten),
                "bytes": .int(bytes), "seconds": .double((seconds * 1000).rounded() / 1000), "error": JSON(error),
                "added_columns": .array(addedColumns.map(JSON.string)),
            ]
        }
    }

    struct TableFailure: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    /// The tables a run's stored selection asks for; a sync mode this build does not know is a
    /// permanent failure of the run.
    public static func requests(fromJSON text: String) throws -> (all: Bool, mode: SyncMode, tables: [TableRequest]) {
        guard case .object(let members)? = try? JSON.parse(Array(text.utf8)) else { return (true, .fullRefresh, []) }
        let map = Dictionary(members, uniquingKeysWith: { a, _ in a })
        func syncMode(_ value: JSON?) throws -> SyncMode? {
            guard case .string(let name)? = value else { return nil }
            guard let mode = SyncMode(rawValue: name) else { throw PermanentJobError("unknown sync mode \(name)") }
            return mode
        }
        let mode = try syncMode(map["sync_mode"]) ?? .fullRefresh
        guard case .array(let items)? = map["tables"] else { return (true, mode, []) }
        let tables: [TableRequest] = try items.compactMap { item in
            guard case .object(let fields) = item else { return nil }
            let f = Dictionary(fields, uniquingKeysWith: { a, _ in a })
            func text(_ key: String) -> String? { if case .string(let s)? = f[key] { s } else { nil } }
            guard let name = text("name") else { return nil }
            var keys: [String]?
            if case .array(let list)? = f["primary_key"] { keys = list.compactMap { if case .string(let s) = $0 { s } else { nil } } }
            return TableRequest(schema: text("schema"), name: name, mode: try syncMode(f["sync_mode"]) ?? mode, cursor: text("cursor_field"),
                                primaryKey: keys)
        }
        return (false, mode, tables)
    }

    public static func run(_ context: JobContext, settings: ConnectionSettings) throws -> JSON {
        let id = try context.payloadID("etl_job_id")
        let etl = ETLRepository(context.database)
        guard let run = try etl.findRun(id: id, team: nil) else { throw PermanentJobError("the ETL run was deleted") }
        do {
            return try sync(run, context: context, settings: settings)
        } catch {
            if error is PermanentJobError || context.job.attempts >= context.job.maxAttempts {
                try? etl.finishRun(id: id, succeeded: false, error: "\(error)")
            }
            throw error
        }
    }

    public static func sync(_ run: ETLRunRecord, context: JobContext, settings: ConnectionSettings) throws -> JSON {
        let db = context.database
        let etl = ETLRepository(db)
        guard let connection = try ConnectionRepository(db).find(id: run.connectionID, team: run.teamID) else {
            throw PermanentJobError("the connection was deleted")
        }
        try etl.markRunning(id: run.id)
        let source: SourceDatabase
        do {
            source = try SourceOpener(settings: settings).open(connection)
        } catch let failure as SourceOpener.Failure {
            // Bad credentials or policy will not fix themselves; a network problem might.
            if ["authentication_failed", "database_missing", "host_not_allowed", "secret_unreadable"].contains(failure.code) {
                throw PermanentJobError("\(failure.code): \(failure.message)")
            }
            throw failure
        }
        let catalog = try source.schema()
        let requested = try requests(fromJSON: run.tables)
        var work: [(TableRequest, SourceTable?)] = []
        if requested.all {
            work = catalog.filter { $0.kind == "table" }.map {
                (TableRequest(schema: $0.schema, name: $0.name, mode: requested.mode, cursor: nil, primaryKey: nil), $0)
            }
        } else {
            work = requested.tables.map { request in
                (request, catalog.first { $0.name == request.name && (request.schema == nil || $0.schema == request.schema) })
            }
        }
        var outcomes: [TableOutcome] = []
        var totals = (read: Int64(0), written: Int64(0), bytes: Int64(0))
        func report() {
            try? etl.progress(id: run.id, progress: JSON.array(outcomes.map(\.json)).serializedText,
                              rowsRead: totals.read, rowsWritten: totals.written, bytes: totals.bytes)
        }
        for (index, (request, table)) in work.enumerated() {
            var outcome = TableOutcome(table: table.map { "\($0.schema).\($0.name)" } ?? request.name, mode: request.mode)
            outcomes.append(outcome)
            report()
            context.progress(done: index, total: work.count, note: "table \(index + 1) of \(work.count): \(outcome.table)")
            let started = Date()
            do {
                guard let table else { throw TableFailure("no such table in the source (or no SELECT privilege)") }
                try syncTable(table, request: request, engine: connection.engine, source: source, connection: connection, run: run,
                              db: db, outcome: &outcome)
                outcome.status = .succeeded
            } catch let error as DataError {
                if case .unavailable = error { throw error }
                outcome.status = .failed
                outcome.error = "\(error)"
            } catch let failure as TableFailure {
                outcome.status = .failed
                outcome.error = failure.description
            } catch let error as SourceError {
                outcome.status = .failed
                outcome.error = "\(error.kind.rawValue): \(error.message)"
            }
            outcome.seconds = Date().timeIntervalSince(started)
            totals.read += outcome.rowsRead
            totals.written += outcome.rowsWritten
            Metrics.counter(.etlRows).add(UInt64(max(0, outcome.rowsWritten)))
            totals.bytes += outcome.bytes
            outcomes[outcomes.count - 1] = outcome
            report()
        }
        context.progress(done: work.count, total: work.count, note: "done")
        let failed = outcomes.filter { $0.status == .failed }
        let error = failed.isEmpty ? nil : failed.map { "\($0.table): \($0.error ?? "failed")" }.joined(separator: "; ")
        try etl.finishRun(id: run.id, succeeded: failed.isEmpty && !work.isEmpty,
                          error: work.isEmpty ? "the connection has no tables to sync" : error)
        return ["etl_job_id": .string(run.id.lower), "tables": .int(Int64(work.count)), "failed": .int(Int64(failed.count)),
                "rows_written": .int(totals.written)]
    }

    /// The warehouse table of a source table, by one rule for both engines:
    /// `src_<connection>_<table>` for a table in the connection's own namespace (PostgreSQL's
    /// `public` schema; for MySQL the connection's database, the only one it reads), and
    /// `src_<connection>_<schema>_<table>` for any other schema. Lower case, letters, digits
    /// and `_` only, schema and table at most 24 characters each: at most 63 bytes.
    static func warehouseName(connection: ConnectionRecord, table: SourceTable) -> String {
        func clean(_ text: String) -> String {
            let mapped = text.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }
            return String(String(mapped).split(separator: "_").joined(separator: "_").prefix(24))
        }
        let ownNamespace = connection.engine == .mysql ? connection.databaseName : "public"
        let schema = [ownNamespace, ""].contains(table.schema) ? "" : clean(table.schema) + "_"
        return "src_\(connection.id.lower.prefix(8))_\(schema)\(clean(table.name))"
    }

    static func syncTable(_ table: SourceTable, request: TableRequest, engine: SourceEngine, source: SourceDatabase,
                          connection: ConnectionRecord, run: ETLRunRecord, db: Database, outcome: inout TableOutcome) throws {
        let etl = ETLRepository(db)
        let mappings = table.columns.map { TypeMapper.map($0, engine: engine) }
        let columnNames = Set(mappings.map(\.name))
        let state = try etl.tableState(connection: connection.id, schema: table.schema, table: table.name)
        let name = state?.warehouseTable ?? warehouseName(connection: connection, table: table)
        outcome.warehouseTable = name
        let incremental = request.mode.isIncremental
        let cursor = request.cursor ?? (incremental ? state?.cursorColumn : nil)
        if incremental {
            guard let cursor else { throw TableFailure("\(request.mode.rawValue) needs a cursor_field (e.g. an updated_at column)") }
            guard columnNames.contains(cursor) else { throw TableFailure("the cursor field \(cursor) is not a column of the table") }
        }
        let keys = request.primaryKey ?? table.key?.columns ?? []
        if request.mode == .incrementalDedup {
            guard !keys.isEmpty else { throw TableFailure("incremental_dedup needs a primary key (the table has none; give primary_key)") }
        }
        if let requested = request.primaryKey, !requested.allSatisfy(columnNames.contains) {
            throw TableFailure("the primary key names a column the table lacks")
        }
        var key = WarehouseKey.choose(mode: request.mode, requested: request.primaryKey, source: table.key)
        if key.isSurrogate, columnNames.contains(WarehouseLoadRepository.surrogateKey) {
            throw TableFailure("the table has no key Assay can use and a column named \(WarehouseLoadRepository.surrogateKey), "
                + "the name of the key Assay would add; give primary_key")
        }
        let load = WarehouseLoadRepository(db, table: name)
        let exists = try load.tableExists()
        // A table whose key would change is loaded afresh, with its new key.
        let firstLoad = !incremental || state == nil || !exists || state?.mode != request.mode || state?.primaryKey != key.columns
        let columnList = mappings.map(\.name)

        // An abandoned staging table (a worker died mid-copy) goes first.
        try load.dropStaging()
        // A first load's staging table becomes the table: written to the WAL once, as COPY
        // does (an unlogged table set logged afterwards would be written twice). An
        // incremental load's staging table is only merged from, so it skips the WAL.
        try load.createStaging(columns: mappings.map(\.definition), unlogged: !firstLoad, surrogateKey: firstLoad && key.isSurrogate)
        var filter: CursorFilter?
        if !firstLoad, let cursor { filter = CursorFilter(column: cursor, after: state?.cursorValue) }
        var copied: CopyCount?
        do {
            try load.copyIntoStaging(columns: columnList) { write in
                copied = try withoutActuallyEscaping(write) { sink in
                    try source.copy(SourceTableRef(schema: table.schema, name: table.name), columns: mappings,
                                    filter: filter, into: sink)
                }
            }
        } catch {
            try? load.dropStaging()
            throw error
        }
        let count = copied ?? CopyCount(rows: 0, bytes: 0)
        outcome.rowsRead = count.rows
        outcome.bytes = count.bytes
        let newCursor = try cursor.flatMap { column -> String? in
            let type = mappings.first { $0.name == column }?.warehouseType ?? "text"
            // Timestamps go back to the source without a zone suffix both engines accept.
            return try load.stagingMaximum(of: column, sqlType: type)
        }
        let columnsJSON = JSON.array(mappings.map {
            ["name": .string($0.name), "type": .string($0.warehouseType), "source_type": .string($0.sourceType)]
        }).serializedText
        let comment = "Assay ETL: connection \(connection.id.lower) (\(connection.name)), source table \(table.schema).\(table.name), "
            + "\(request.mode.rawValue), synced \(PostgresTime.format(Date())) by run \(run.id.lower)"

        if firstLoad {
            // The key's index is built once the rows are in, before the swap.
            do {
                try load.addStagingPrimaryKey(key.columns)
            } catch let error as DataError where !key.isSurrogate {
                if case .unavailable = error { throw error }
                // Repeated or NULL values (a key the source does not enforce the way
                // PostgreSQL does, a type without an index): number the rows instead, unless
                // the merge needs the key.
                if request.mode == .incrementalDedup {
                    try? load.dropStaging()
                    throw TableFailure("the key (\(key.columns.joined(separator: ", "))) does not identify the rows: \(error)")
                }
                try load.addStagingSurrogateKey()
                key = .surrogate
            } catch {
                try? load.dropStaging()
                throw error
            }
            try db.transaction { db in
                let load = WarehouseLoadRepository(db, table: name)
                try load.replaceWithStaging()
                try load.comment(comment)
                let rows = count.rows
                try ETLRepository(db).saveTableState(
                    connection: connection.id, team: connection.teamID, schema: table.schema, table: table.name,
                    state: ETLTableState(warehouseTable: name, mode: request.mode, cursorColumn: cursor, cursorValue: newCursor,
                                         primaryKey: key.columns, keySource: key.source, columns: columnsJSON, rowCount: rows,
                                         lastSyncAt: nil),
                    run: run.id)
            }
            outcome.rowsWritten = count.rows
            return
        }

        // Incremental: the schema may have grown; a changed type stops the table.
        var known: [String: String] = [:]
        if case .array(let items)? = try? JSON.parse(Array(state!.columns.utf8)) {
            for case .object(let members) in items {
                let map = Dictionary(members, uniquingKeysWith: { a, _ in a })
                if case .string(let n)? = map["name"], case .string(let t)? = map["type"] { known[n] = t }
            }
        }
        for mapping in mappings {
            if let old = known[mapping.name], old != mapping.warehouseType {
                try? load.dropStaging()
                throw TableFailure("column \(mapping.name) changed type in the source (\(old) → \(mapping.warehouseType)); "
                    + "run a full_refresh to reload the table with the new type")
            }
        }
        let added = mappings.filter { known[$0.name] == nil }
        var deletions: Int64 = 0
        if request.mode == .incrementalDedup {
            // Keys present in the source now: rows whose key is gone were deleted there.
            let keyMappings = keys.compactMap { key in mappings.first { $0.name == key } }
            try load.dropKeyTable()
            try load.createKeyTable(columns: keyMappings.map(\.definition))
            try load.copyIntoKeyTable { write in
                _ = try withoutActuallyEscaping(write) { sink in
                    try source.copy(SourceTableRef(schema: table.schema, name: table.name), columns: keyMappings, filter: nil,
                                    into: sink)
                }
            }
        }
        try db.transaction { db in
            let load = WarehouseLoadRepository(db, table: name)
            for column in added {
                try load.addColumn(column.definition)
            }
            if request.mode == .incrementalAppend {
                try load.appendStaging(columns: columnList)
            } else {
                try load.mergeStaging(columns: columnList, key: keys, newestFirstBy: cursor)
                deletions = try load.deleteRowsMissingFromKeyTable(key: keys)
                try load.dropKeyTable()
            }
            try load.dropStaging()
            try load.comment(comment)
            let rows = try load.rowCount()
            try ETLRepository(db).saveTableState(
                connection: connection.id, team: connection.teamID, schema: table.schema, table: table.name,
                state: ETLTableState(warehouseTable: name, mode: request.mode, cursorColumn: cursor,
                                     cursorValue: newCursor ?? state?.cursorValue, primaryKey: key.columns,
                                     keySource: key.source, columns: columnsJSON, rowCount: rows, lastSyncAt: nil),
                run: run.id)
        }
        outcome.rowsWritten = count.rows + deletions
        outcome.addedColumns = added.map(\.name)
    }
}

/// The primary key of an ETL'd warehouse table, which its rows are read in and paged by.
public struct WarehouseKey: Equatable, Sendable {
    /// In key order; `_assay_row` alone for the surrogate key.
    public let columns: [String]
    /// `primary_key` or `unique` (the source's), `requested` (the run's `primary_key`), `surrogate`.
    public let source: String

    public init(columns: [String], source: String) {
        self.columns = columns
        self.source = source
    }

    public static let surrogate = WarehouseKey(columns: [WarehouseLoadRepository.surrogateKey], source: "surrogate")
    public var isSurrogate: Bool { source == WarehouseKey.surrogate.source }

    /// The key for a table synced in `mode`: the run's `primary_key`, else the source's
    /// primary or unique key, else a surrogate. An append-only table always gets the
    /// surrogate: it keeps every version of a source row, so the source's key repeats.
    public static func choose(mode: SyncMode, requested: [String]?, source: SourceKey?) -> WarehouseKey {
        if mode == .incrementalAppend { return .surrogate }
        if let requested, !requested.isEmpty { return WarehouseKey(columns: requested, source: "requested") }
        if let source, !source.columns.isEmpty { return WarehouseKey(columns: source.columns, source: source.kind.rawValue) }
        return .surrogate
    }
}
