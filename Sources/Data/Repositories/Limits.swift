import Foundation

/// The state of one quota window after counting a request.
public struct QuotaUsage: Sendable {
    public let count: Int
    public let windowEnd: Date
    public init(count: Int, windowEnd: Date) { (self.count, self.windowEnd) = (count, windowEnd) }
}

/// Hourly quota counters shared by every worker host through PostgreSQL.
///
/// The pool counts most requests in shared memory (`QuotaLedger`) and adds them here in
/// batches (`add`); a principal's first request of an hour on a host, and every request of a
/// process without the ledger, is counted here directly (`charge`). Neither is a durable
/// write: the statements commit with `synchronous_commit = off` (`SQL.asynchronousCommit`),
/// which returns without waiting for the WAL flush. The WAL writer flushes within three
/// `wal_writer_delay`s (200 ms by default): a crash of PostgreSQL loses at most that much
/// counting. Windows are hours; `window` is the hour's start in seconds since 1970 as the
/// caller's clock has it, so that a ledger and this table agree on which hour a request was in.
public struct QuotaRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// Counts one request for `principal` in `quotaClass` in the current hour and returns the new count.
    public func charge(principal: String, quotaClass: String) throws -> QuotaUsage {
        try charge(principal: principal, quotaClass: quotaClass, window: QuotaRepository.window(of: Date()))
    }

    /// Counts one request in the hour starting at `window` and returns the new count.
    public func charge(principal: String, quotaClass: String, window: Int) throws -> QuotaUsage {
        let row = try db.query("""
            INSERT INTO quota_counters AS q (principal, class, window_start, count)
            SELECT \(principal), \(quotaClass), to_timestamp(\(window)), 1 FROM \(SQL.asynchronousCommit)
            ON CONFLICT (principal, class, window_start) DO UPDATE SET count = q.count + 1
            RETURNING count
            """, prepared: true)[0]
        return QuotaUsage(count: try row.decode("count"), windowEnd: Date(timeIntervalSince1970: Double(window + 3600)))
    }

    /// Takes back one counted request of the current hour (a request the quota does not
    /// cover after all, such as a refused upload).
    public func refund(principal: String, quotaClass: String) throws {
        try refund(principal: principal, quotaClass: quotaClass, window: QuotaRepository.window(of: Date()))
    }

    /// Takes back one counted request of the hour starting at `window`.
    public func refund(principal: String, quotaClass: String, window: Int) throws {
        try db.query("""
            UPDATE quota_counters SET count = greatest(count - 1, 0)
            WHERE principal = \(principal) AND class = \(quotaClass) AND window_start = to_timestamp(\(window))
            """)
    }

    /// One principal's requests in one class and hour, counted elsewhere and not yet here.
    public struct Delta: Sendable {
        public let principal: String
        public let quotaClass: String
        public let window: Int
        public let count: Int
        public init(principal: String, quotaClass: String, window: Int, count: Int) {
            (self.principal, self.quotaClass, self.window, self.count) = (principal, quotaClass, window, count)
        }
    }

    /// Adds counts (each at least 1, one delta per counter) in one statement; returns each
    /// counter's new total, in the order of `deltas`.
    public func add(_ deltas: [Delta]) throws -> [Int] {
        guard !deltas.isEmpty else { return [] }
        let rows = try db.query("""
            INSERT INTO quota_counters AS q (principal, class, window_start, count)
            SELECT u.p, u.c, to_timestamp(u.w::bigint), u.d::integer
            FROM unnest(\(deltas.map(\.principal))::text[], \(deltas.map(\.quotaClass))::text[],
                        \(deltas.map { String($0.window) })::text[], \(deltas.map { String($0.count) })::text[]) AS u(p, c, w, d),
                 \(SQL.asynchronousCommit)
            ON CONFLICT (principal, class, window_start) DO UPDATE SET count = q.count + EXCLUDED.count
            RETURNING principal, class, extract(epoch FROM window_start)::bigint AS window_epoch, count
            """)
        var totals: [String: Int] = [:]
        for row in rows {
            let window: Int = try row.decode("window_epoch")
            totals["\(try row.decode("class", as: String.self)) \(window) \(try row.decode("principal", as: String.self))"] =
                try row.decode("count")
        }
        return try deltas.map { delta in
            guard let total = totals["\(delta.quotaClass) \(delta.window) \(delta.principal)"] else {
                throw DataError.decoding(column: "quota_counters.count", expected: "a total for every counter added to",
                                         found: delta.principal)
            }
            return total
        }
    }

    /// The start of the hour `date` is in, in seconds since 1970.
    public static func window(of date: Date) -> Int {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
        return seconds - seconds % 3600
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
