import Foundation

/// How a table is copied: replaced whole, or the rows past the cursor added (appended, or
/// merged on the primary key with rows deleted in the source removed).
public enum SyncMode: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case fullRefresh = "full_refresh"
    case incrementalAppend = "incremental_append"
    case incrementalDedup = "incremental_dedup"

    /// Other names clients use for the modes.
    public static let aliases: [String: SyncMode] = [
        "overwrite": .fullRefresh, "full": .fullRefresh, "append": .incrementalAppend, "incremental": .incrementalAppend,
        "append_dedup": .incrementalDedup, "dedup": .incrementalDedup,
    ]

    /// The mode a request names, by its own name or an alias.
    public init?(named name: String) {
        guard let mode = SyncMode(rawValue: name) ?? SyncMode.aliases[name] else { return nil }
        self = mode
    }

    /// Incremental modes read only rows past a cursor column.
    public var isIncremental: Bool { self != .fullRefresh }
}

/// Where an ETL run is (`etl_jobs.status`); also the state of each table in its progress.
public enum ETLRunStatus: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case queued, running, succeeded, failed
}

/// What started an ETL run (`etl_jobs.trigger`).
public enum ETLTrigger: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case manual, schedule
}

/// One ETL run: which tables, how far it got, what it moved.
public struct ETLRunRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let connectionID: UUID
    public let scheduleID: UUID?
    public let jobID: UUID?
    public let trigger: ETLTrigger
    public let status: ETLRunStatus
    /// The requested tables as JSON.
    public let tables: String
    /// Per-table progress as JSON.
    public let progress: String
    public let rowsRead: Int64
    public let rowsWritten: Int64
    public let bytes: Int64
    public let error: String?
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        connectionID = try row.decode("connection_id")
        scheduleID = try row.decode("schedule_id", as: UUID?.self)
        jobID = try row.decode("job_id", as: UUID?.self)
        trigger = try row.decode("trigger")
        status = try row.decode("status")
        tables = try row.decode("tables")
        progress = try row.decode("progress")
        rowsRead = try row.decode("rows_read")
        rowsWritten = try row.decode("rows_written")
        bytes = try row.decode("bytes")
        error = try row.decode("error", as: String?.self)
        createdAt = try row.decode("created_at")
        startedAt = try row.decode("started_at", as: Date?.self)
        finishedAt = try row.decode("finished_at", as: Date?.self)
    }
}

/// What Assay knows about a warehouse table fed by a connection.
public struct ETLTableState: Sendable {
    public let warehouseTable: String
    public let mode: SyncMode
    public let cursorColumn: String?
    public let cursorValue: String?
    /// The warehouse table's primary key, in key order (`_assay_row` for the surrogate key).
    public let primaryKey: [String]
    /// Where the key came from: `primary_key` or `unique` (the source's), `requested` (the
    /// run's `primary_key`), `surrogate`, or `none` (a table loaded before keys were kept).
    public let keySource: String
    /// `[{"name", "type"}]` of the warehouse table, as JSON.
    public let columns: String
    public let rowCount: Int64
    public let lastSyncAt: Date?

    public init(warehouseTable: String, mode: SyncMode, cursorColumn: String?, cursorValue: String?, primaryKey: [String],
                keySource: String, columns: String, rowCount: Int64, lastSyncAt: Date?) {
        self.warehouseTable = warehouseTable
        self.mode = mode
        self.cursorColumn = cursorColumn
        self.cursorValue = cursorValue
        self.primaryKey = primaryKey
        self.keySource = keySource
        self.columns = columns
        self.rowCount = rowCount
        self.lastSyncAt = lastSyncAt
    }
}

public struct ETLScheduleRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    public let connectionID: UUID
    public let name: String
    public let tables: String
    public let frequency: String?
    public let cron: String?
    public let timezone: String
    public let enabled: Bool
    public let nextRunAt: Date?
    public let lastRunAt: Date?
    public let lastJobID: UUID?
    public let createdAt: Date
    public let updatedAt: Date
    /// The schedule of its connection's `sync_frequency`, kept in step with it.
    public let fromConnection: Bool

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        connectionID = try row.decode("connection_id")
        fromConnection = try row.decode("from_connection")
        name = try row.decode("name")
        tables = try row.decode("tables")
        frequency = try row.decode("frequency", as: String?.self)
        cron = try row.decode("cron", as: String?.self)
        timezone = try row.decode("timezone")
        enabled = try row.decode("enabled")
        nextRunAt = try row.decode("next_run_at", as: Date?.self)
        lastRunAt = try row.decode("last_run_at", as: Date?.self)
        lastJobID = try row.decode("last_job_id", as: UUID?.self)
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

public struct ETLRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let runColumns = SQL(unsafeSQL: """
        id, team_id, connection_id, schedule_id, job_id, trigger, status, tables::text AS tables, progress::text AS progress,
        rows_read, rows_written, bytes, error, created_at, started_at, finished_at
        """)
    static let scheduleColumns = SQL(unsafeSQL: """
        id, team_id, connection_id, name, tables::text AS tables, frequency, cron, timezone, enabled, next_run_at,
        last_run_at, last_job_id, created_at, updated_at, from_connection
        """)

    // MARK: Runs

    public func createRun(id: UUID, team: UUID, connection: UUID, schedule: UUID?, job: UUID, trigger: ETLTrigger,
                          tables: String, user: UUID?) throws -> ETLRunRecord {
        try ETLRunRecord(db.query("""
            INSERT INTO etl_jobs (id, team_id, connection_id, schedule_id, job_id, trigger, tables, created_by)
            VALUES (\(id), \(team), \(connection), \(schedule), \(job), \(trigger), \(JSONText(tables))::jsonb, \(user))
            RETURNING \(ETLRepository.runColumns)
            """)[0])
    }

    public func findRun(id: UUID, team: UUID?) throws -> ETLRunRecord? {
        var sql: SQL = "SELECT \(ETLRepository.runColumns) FROM etl_jobs WHERE id = \(id)"
        if let team { sql.append(" AND team_id = \(team)") }
        return try db.query(sql).first.map(ETLRunRecord.init)
    }

    public func listRuns(team: UUID, connection: UUID?, status: ETLRunStatus?, limit: Int,
                         after cursor: (Date, UUID)?) throws -> [ETLRunRecord] {
        var sql: SQL = "SELECT \(ETLRepository.runColumns) FROM etl_jobs WHERE team_id = \(team)"
        if let connection { sql.append(" AND connection_id = \(connection)") }
        if let status { sql.append(" AND status = \(status)") }
        if let (time, id) = cursor { sql.append(" AND (created_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY created_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(ETLRunRecord.init)
    }

    public func markRunning(id: UUID) throws {
        try db.query("""
            UPDATE etl_jobs SET status = 'running', started_at = now(), finished_at = NULL, error = NULL,
                progress = '[]', rows_read = 0, rows_written = 0, bytes = 0
            WHERE id = \(id)
            """)
    }

    public func progress(id: UUID, progress: String, rowsRead: Int64, rowsWritten: Int64, bytes: Int64) throws {
        try db.query("""
            UPDATE etl_jobs SET progress = \(JSONText(progress))::jsonb, rows_read = \(rowsRead),
                rows_written = \(rowsWritten), bytes = \(bytes)
            WHERE id = \(id)
            """)
    }

    public func finishRun(id: UUID, succeeded: Bool, error: String?) throws {
        try db.query("""
            UPDATE etl_jobs SET status = \(succeeded ? ETLRunStatus.succeeded : .failed), error = \(error), finished_at = now()
            WHERE id = \(id)
            """)
    }

    // MARK: Warehouse table state

    public func tableState(connection: UUID, schema: String, table: String) throws -> ETLTableState? {
        try db.query("""
            SELECT warehouse_table, mode, cursor_column, cursor_value, primary_key, key_source, columns::text AS columns, row_count,
                   last_sync_at
            FROM etl_tables WHERE connection_id = \(connection) AND source_schema = \(schema) AND source_table = \(table)
            """).first.map { row in
            ETLTableState(
                warehouseTable: try row.decode("warehouse_table"), mode: try row.decode("mode"),
                cursorColumn: try row.decode("cursor_column", as: String?.self),
                cursorValue: try row.decode("cursor_value", as: String?.self), primaryKey: try row.decode("primary_key"),
                keySource: try row.decode("key_source"), columns: try row.decode("columns"), rowCount: try row.decode("row_count"),
                lastSyncAt: try row.decode("last_sync_at", as: Date?.self))
        }
    }

    public func saveTableState(connection: UUID, team: UUID, schema: String, table: String, state: ETLTableState, run: UUID) throws {
        try db.query("""
            INSERT INTO etl_tables (connection_id, team_id, source_schema, source_table, warehouse_table, mode, cursor_column,
                                    cursor_value, primary_key, key_source, columns, row_count, last_sync_at, last_etl_job_id)
            VALUES (\(connection), \(team), \(schema), \(table), \(state.warehouseTable), \(state.mode), \(state.cursorColumn),
                    \(state.cursorValue), \(state.primaryKey), \(state.keySource), \(JSONText(state.columns))::jsonb, \(state.rowCount), now(), \(run))
            ON CONFLICT (connection_id, source_schema, source_table) DO UPDATE SET
                warehouse_table = EXCLUDED.warehouse_table, mode = EXCLUDED.mode, cursor_column = EXCLUDED.cursor_column,
                cursor_value = EXCLUDED.cursor_value, primary_key = EXCLUDED.primary_key, key_source = EXCLUDED.key_source,
                columns = EXCLUDED.columns,
                row_count = EXCLUDED.row_count, last_sync_at = now(), last_etl_job_id = EXCLUDED.last_etl_job_id
            """)
    }

    // MARK: Schedules

    public func createSchedule(team: UUID, user: UUID, connection: UUID, name: String, tables: String, frequency: String?,
                               cron: String?, timezone: String, enabled: Bool, nextRunAt: Date?) throws -> ETLScheduleRecord {
        try ETLScheduleRecord(db.query("""
            INSERT INTO etl_schedules (team_id, created_by, connection_id, name, tables, frequency, cron, timezone, enabled, next_run_at)
            VALUES (\(team), \(user), \(connection), \(name), \(JSONText(tables))::jsonb, \(frequency), \(cron), \(timezone),
                    \(enabled), \(nextRunAt))
            RETURNING \(ETLRepository.scheduleColumns)
            """)[0])
    }

    public func updateSchedule(id: UUID, team: UUID, name: String, tables: String, frequency: String?, cron: String?,
                               timezone: String, enabled: Bool, nextRunAt: Date?) throws -> ETLScheduleRecord? {
        try db.query("""
            UPDATE etl_schedules SET name = \(name), tables = \(JSONText(tables))::jsonb, frequency = \(frequency), cron = \(cron),
                timezone = \(timezone), enabled = \(enabled), next_run_at = \(nextRunAt), updated_at = now()
            WHERE id = \(id) AND team_id = \(team)
            RETURNING \(ETLRepository.scheduleColumns)
            """).first.map(ETLScheduleRecord.init)
    }

    /// The schedule that follows `connection`'s `sync_frequency`, if it has one.
    public func connectionSchedule(connection: UUID) throws -> ETLScheduleRecord? {
        try db.query("SELECT \(ETLRepository.scheduleColumns) FROM etl_schedules WHERE connection_id = \(connection) AND from_connection")
            .first.map(ETLScheduleRecord.init)
    }

    /// Creates the schedule of `connection`'s frequency (all tables, full refresh, UTC), or
    /// changes the frequency of the one it has; the rest of it (tables, time zone, enabled)
    /// stays as its owners set it.
    @discardableResult
    public func saveConnectionSchedule(team: UUID, user: UUID?, connection: UUID, name: String, frequency: String,
                                       nextRunAt: Date?) throws -> ETLScheduleRecord {
        try ETLScheduleRecord(db.query("""
            INSERT INTO etl_schedules (team_id, created_by, connection_id, name, tables, frequency, timezone, enabled,
                                       next_run_at, from_connection)
            VALUES (\(team), \(user), \(connection), \(name), '{"tables": "all", "sync_mode": "full_refresh"}'::jsonb,
                    \(frequency), 'UTC', true, \(nextRunAt), true)
            ON CONFLICT (connection_id) WHERE from_connection DO UPDATE SET
                frequency = excluded.frequency, cron = NULL, next_run_at = excluded.next_run_at, updated_at = now()
            RETURNING \(ETLRepository.scheduleColumns)
            """)[0])
    }

    /// Deletes the schedule of `connection`'s frequency; true if it had one.
    @discardableResult
    public func deleteConnectionSchedule(connection: UUID) throws -> Bool {
        try db.query("DELETE FROM etl_schedules WHERE connection_id = \(connection) AND from_connection RETURNING id").count > 0
    }

    public func findSchedule(id: UUID, team: UUID) throws -> ETLScheduleRecord? {
        try db.query("SELECT \(ETLRepository.scheduleColumns) FROM etl_schedules WHERE id = \(id) AND team_id = \(team)")
            .first.map(ETLScheduleRecord.init)
    }

    public func listSchedules(team: UUID) throws -> [ETLScheduleRecord] {
        try db.query("SELECT \(ETLRepository.scheduleColumns) FROM etl_schedules WHERE team_id = \(team) ORDER BY created_at, id")
            .map(ETLScheduleRecord.init)
    }

    public func deleteSchedule(id: UUID, team: UUID) throws -> Bool {
        try db.query("DELETE FROM etl_schedules WHERE id = \(id) AND team_id = \(team) RETURNING id").count > 0
    }

    /// Due schedules, locked for this transaction; other workers skip them.
    public func claimDueSchedules(limit: Int) throws -> [ETLScheduleRecord] {
        try db.query("""
            SELECT \(ETLRepository.scheduleColumns) FROM etl_schedules
            WHERE enabled AND next_run_at <= now() ORDER BY next_run_at LIMIT \(limit) FOR UPDATE SKIP LOCKED
            """).map(ETLScheduleRecord.init)
    }

    public func scheduleFired(id: UUID, job: UUID?, nextRunAt: Date?) throws {
        try db.query("""
            UPDATE etl_schedules SET last_run_at = now(), last_job_id = \(job), next_run_at = \(nextRunAt) WHERE id = \(id)
            """)
    }
}
