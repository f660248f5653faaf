import Foundation

/// The state of one quota window after counting a request.
public struct QuotaUsage: Sendable {
    public let count: Int
    public let windowEnd: Date
}

/// Hourly quota counters shared by every worker host through PostgreSQL.
///
/// Counting is on every authenticated request, so it is not a durable write: the statement
/// commits with `synchronous_commit = off` (`SQL.asynchronousCommit`), which returns without
/// waiting for the WAL flush. The WAL writer flushes it within three `wal_writer_delay`s
/// (200 ms by default): a crash of PostgreSQL loses at most that much counting, never more than
/// a second. The count itself stays exact: the row lock of the upsert orders concurrent
/// requests of all workers and hosts, so a burst cannot pass a quota at all.
public struct QuotaRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// Counts one request for `principal` in `quotaClass` in the current hour and returns the new count.
    public func charge(principal: String, quotaClass: String) throws -> QuotaUsage {
        let row = try db.query("""
            INSERT INTO quota_counters AS q (principal, class, window_start, count)
            SELECT \(principal), \(quotaClass), date_trunc('hour', now()), 1 FROM \(SQL.asynchronousCommit)
            ON CONFLICT (principal, class, window_start) DO UPDATE SET count = q.count + 1
            RETURNING count, window_start + interval '1 hour' AS window_end
            """, prepared: true)[0]
        return QuotaUsage(count: try row.decode("count"), windowEnd: try row.decode("window_end"))
    }

    /// Takes back one counted request of the current hour (a request the quota does not
    /// cover after all, such as a refused upload).
    public func refund(principal: String, quotaClass: String) throws {
        try db.query("""
            UPDATE quota_counters SET count = greatest(count - 1, 0)
            WHERE principal = \(principal) AND class = \(quotaClass) AND window_start = date_trunc('hour', now())
            """)
    }

    /// Drops counters of past hours.
    public func prune() throws {
        try db.query("DELETE FROM quota_counters WHERE window_start < date_trunc('hour', now()) - interval '1 hour'")
    }
}

/// Failed-login counting with temporary locks, keyed by email or client address.
public struct LoginThrottleRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// Seconds until the lock on `key` ends, or nil when it is not locked.
    public func lockedFor(key: String) throws -> Int? {
        let rows = try db.query("""
            SELECT ceil(extract(epoch FROM locked_until - now()))::int AS seconds
            FROM login_throttle WHERE key = \(key) AND locked_until > now()
            """)
        return try rows.first?.decode("seconds", as: Int.self)
    }

    /// Counts a failure in a window of `windowSeconds`; locks the key for `lockSeconds`
    /// when the failures reach `maxFailures`. Returns the lock's length if it locked.
    public func recordFailure(key: String, maxFailures: Int, windowSeconds: Int, lockSeconds: Int) throws -> Int? {
        let row = try db.query("""
            INSERT INTO login_throttle AS t (key, failures, window_start) VALUES (\(key), 1, now())
            ON CONFLICT (key) DO UPDATE SET
              failures = CASE WHEN t.window_start < now() - make_interval(secs => \(windowSeconds)) OR t.locked_until <= now()
                              THEN 1 ELSE t.failures + 1 END,
              window_start = CASE WHEN t.window_start < now() - make_interval(secs => \(windowSeconds)) OR t.locked_until <= now()
                                  THEN now() ELSE t.window_start END,
              locked_until = CASE WHEN t.locked_until <= now() THEN NULL ELSE t.locked_until END
            RETURNING failures
            """)[0]
        let failures: Int = try row.decode("failures")
        guard failures >= maxFailures else { return nil }
        try db.query("""
            UPDATE login_throttle SET locked_until = now() + make_interval(secs => \(lockSeconds)), failures = 0, window_start = now()
            WHERE key = \(key)
            """)
        return lockSeconds
    }

    /// Counts a failure for a key that is slowed down rather than locked: from the
    /// `freeFailures`th failure on, the key waits 1, 2, 4, 8… seconds (at most `maxDelay`)
    /// after each failure. The count goes back to zero only after `quietSeconds` without a
    /// failure, so waiting out one delay does not reset the next. Returns the delay, if any.
    public func recordFailureWithDelay(key: String, freeFailures: Int, quietSeconds: Int, maxDelay: Int) throws -> Int? {
        let row = try db.query("""
            INSERT INTO login_throttle AS t (key, failures, window_start) VALUES (\(key), 1, now())
            ON CONFLICT (key) DO UPDATE SET
              failures = CASE WHEN t.window_start < now() - make_interval(secs => \(quietSeconds)) THEN 1 ELSE t.failures + 1 END,
              window_start = now()
            RETURNING failures
            """)[0]
        let failures: Int = try row.decode("failures")
        guard failures >= freeFailures else { return nil }
        let delay = min(maxDelay, 1 << min(failures - freeFailures, 30))
        try db.query("""
            UPDATE login_throttle SET locked_until = now() + make_interval(secs => \(delay)) WHERE key = \(key)
            """)
        return delay
    }

    public func clear(key: String) throws {
        try db.query("DELETE FROM login_throttle WHERE key = \(key)")
    }
}
