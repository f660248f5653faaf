import Foundation

/// What a job does: the name its handler is registered under (`JobRegistry`).
///
/// Open rather than an enum: the modules that run jobs register their kinds, and a row
/// whose kind this build has no handler for must still load, so the worker can fail it
/// with a message naming the kind.
public struct JobKind: RawRepresentable, Hashable, Sendable, SQLDecodable, SQLBindable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// Reads a document's pages into the page model (`DocumentExtraction`).
    public static let documentExtract = JobKind(rawValue: "document.extract")
    /// Reads a document table's fields from a document (`FieldExtraction`).
    public static let documentFields = JobKind(rawValue: "document.fields")
    /// Copies a connection's tables into the warehouse (`ETLSync`).
    public static let etlSync = JobKind(rawValue: "etl.sync")
    /// Writes an export file (`ExportJob`).
    public static let exportRun = JobKind(rawValue: "export.run")
}

/// Where a job is in the queue (`jobs.status`).
public enum JobStatus: String, CaseIterable, Sendable, SQLDecodable, SQLBindable {
    case queued, running, succeeded, failed, cancelled
}

public struct JobRecord: Sendable {
    public let id: UUID
    public let teamID: UUID?
    public let kind: JobKind
    /// The payload, a JSON object as text.
    public let payload: String
    public let status: JobStatus
    public let attempts: Int
    public let maxAttempts: Int
    public let progressDone: Int?
    public let progressTotal: Int?
    public let progressNote: String?
    public let result: String?
    public let error: String?
    public let createdAt: Date
    public let startedAt: Date?
    public let finishedAt: Date?
    public let durationMS: Int64?

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id", as: UUID?.self)
        kind = try row.decode("kind")
        payload = try row.decode("payload")
        status = try row.decode("status")
        attempts = try row.decode("attempts")
        maxAttempts = try row.decode("max_attempts")
        progressDone = try row.decode("progress_done", as: Int?.self)
        progressTotal = try row.decode("progress_total", as: Int?.self)
        progressNote = try row.decode("progress_note", as: String?.self)
        result = try row.decode("result", as: String?.self)
        error = try row.decode("error", as: String?.self)
        createdAt = try row.decode("created_at")
        startedAt = try row.decode("started_at", as: Date?.self)
        finishedAt = try row.decode("finished_at", as: Date?.self)
        durationMS = try row.decode("duration_ms", as: Int64?.self)
    }
}

/// The job queue. Enqueue notifies the `assay_jobs` channel so idle job workers wake.
public struct JobRepository {
    public static let channel = "assay_jobs"
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: """
        id, team_id, kind, payload::text AS payload, status, attempts, max_attempts, progress_done, progress_total,
        progress_note, result::text AS result, error, created_at, started_at, finished_at, duration_ms
        """)

    /// Adds a job; call inside the transaction that creates what the job works on.
    public func enqueue(kind: JobKind, team: UUID?, payload: String, maxAttempts: Int = 3, priority: Int = 0,
                        concurrencyKey: String? = nil) throws -> JobRecord {
        let job = try JobRecord(db.query("""
            INSERT INTO jobs (kind, team_id, payload, max_attempts, priority, concurrency_key)
            VALUES (\(kind), \(team), \(JSONText(payload))::jsonb, \(maxAttempts), \(priority), \(concurrencyKey))
            RETURNING \(JobRepository.columns)
            """)[0])
        try db.query("SELECT pg_notify(\(JobRepository.channel), \(job.id))")
        return job
    }

    public func find(id: UUID, team: UUID?) throws -> JobRecord? {
        try db.query("SELECT \(JobRepository.columns) FROM jobs WHERE id = \(id) AND team_id IS NOT DISTINCT FROM \(team)")
            .first.map(JobRecord.init)
    }

    /// Claims the next runnable job: a queued one whose time has come, or a running one
    /// whose lease lapsed (its worker died) and that has attempts left.
    public func claim(worker: String, leaseSeconds: Int) throws -> JobRecord? {
        try db.query("""
            UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = \(worker),
                lease_until = now() + make_interval(secs => \(leaseSeconds)), heartbeat_at = now(),
                started_at = coalesce(started_at, now()), updated_at = now()
            WHERE id = (
                SELECT j.id FROM jobs j
                WHERE ((j.status = 'queued' AND j.run_after <= now())
                       OR (j.status = 'running' AND j.lease_until < now() AND j.attempts < j.max_attempts))
                  AND (j.concurrency_key IS NULL OR NOT EXISTS (
                        SELECT 1 FROM jobs r WHERE r.concurrency_key = j.concurrency_key AND r.status = 'running'
                          AND r.id <> j.id AND r.lease_until >= now()))
                ORDER BY j.priority DESC, j.run_after
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
            RETURNING \(JobRepository.columns)
            """).first.map(JobRecord.init)
    }

    /// Jobs waiting or running, by kind and status (the queue's depth, for `/metrics`). Both
    /// statuses have a partial index, so this stays cheap however many jobs have finished.
    public func pendingCounts() throws -> [(kind: JobKind, status: JobStatus, count: Int)] {
        try db.query("""
            SELECT kind, status, count(*) AS jobs FROM jobs WHERE status IN ('queued', 'running')
            GROUP BY kind, status ORDER BY kind, status
            """).map { row in (try row.decode("kind"), try row.decode("status"), Int(try row.decode("jobs", as: Int64.self))) }
    }

    /// Fails running jobs whose lease lapsed with no attempts left.
    @discardableResult
    public func failAbandoned() throws -> Int {
        try db.query("""
            UPDATE jobs SET status = 'failed', finished_at = now(), updated_at = now(), locked_by = NULL,
                error = 'the worker running this job stopped responding ' || attempts || ' time(s); giving up',
                duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint
            WHERE status = 'running' AND lease_until < now() AND attempts >= max_attempts
            """).affectedRows
    }

    /// Extends the lease; false when the job is no longer this worker's.
    public func heartbeat(id: UUID, worker: String, leaseSeconds: Int) throws -> Bool {
        try db.query("""
            UPDATE jobs SET lease_until = now() + make_interval(secs => \(leaseSeconds)), heartbeat_at = now()
            WHERE id = \(id) AND locked_by = \(worker) AND status = 'running'
            """).affectedRows == 1
    }

    public func progress(id: UUID, worker: String, done: Int, total: Int?, note: String?) throws {
        try db.query("""
            UPDATE jobs SET progress_done = \(done), progress_total = \(total), progress_note = \(note), updated_at = now()
            WHERE id = \(id) AND locked_by = \(worker) AND status = 'running'
            """)
    }

    public func succeed(id: UUID, worker: String, result: String) throws {
        try db.query("""
            UPDATE jobs SET status = 'succeeded', result = \(JSONText(result))::jsonb, error = NULL, finished_at = now(),
                updated_at = now(), locked_by = NULL, lease_until = NULL,
                duration_ms = (extract(epoch FROM now() - started_at) * 1000)::bigint
            WHERE id = \(id) AND locked_by = \(worker)
            """)
    }

    /// Records a failed attempt: queued again after `retryAfter` seconds when attempts
    /// remain and the error is retryable, failed otherwise. Returns the new status.
    public func fail(id: UUID, worker: String, error: String, retryable: Bool, retryAfter: Int) throws -> JobStatus {
        let rows = try db.query("""
            UPDATE jobs SET
                status = CASE WHEN \(retryable) AND attempts < max_attempts THEN 'queued' ELSE 'failed' END,
                run_after = now() + make_interval(secs => \(retryAfter)),
                error = \(error), updated_at = now(), locked_by = NULL, lease_until = NULL,
                finished_at = CASE WHEN \(retryable) AND attempts < max_attempts THEN NULL ELSE now() END,
                duration_ms = CASE WHEN \(retryable) AND attempts < max_attempts THEN NULL
                                   ELSE (extract(epoch FROM now() - started_at) * 1000)::bigint END
            WHERE id = \(id) AND locked_by = \(worker)
            RETURNING status
            """)
        return try rows.first?.decode("status") ?? .failed
    }
}

/// Waiting for `NOTIFY` on a dedicated connection.
extension Database {
    public func listen(_ channel: String) throws {
        try query("LISTEN \(identifier: channel)")
    }
}
