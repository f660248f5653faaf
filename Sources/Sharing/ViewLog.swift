import Data
import Foundation

/// The access log of share pages and embeds: one row per view, written after the page was
/// sent (the viewer never waits for it), counted on its link or widget in the same
/// statement. Raw addresses and user agents are cleared after the retention period.
public struct ViewLog {
    let db: Database
    let settings: SharingSettings

    public init(_ db: Database, settings: SharingSettings) {
        self.db = db
        self.settings = settings
    }

    /// The row for one view. `counted`: the view was counted already (links with
    /// `max_access` count before the page is drawn).
    public func entry(team: UUID, shareID: String? = nil, widgetID: String? = nil, address: String, userAgent: String?,
                      referer: String?, user: UUID?, counted: Bool) -> AccessLogEntry {
        let agent = userAgent.map { String($0.prefix(512)) }
        return AccessLogEntry(team: team, shareID: shareID, widgetID: widgetID, clientAddress: address.isEmpty ? nil : address,
                              userAgent: agent, referrer: ViewerHash.referrerOrigin(referer), user: user,
                              viewerHash: ViewerHash.compute(address: address, userAgent: agent ?? "", settings: settings),
                              count: !counted)
    }

    /// A writer of batches on this log's connection, which then commits asynchronously (it
    /// must be a connection of its own).
    public func batchWriter() -> ([AccessLogEntry]) throws -> Void {
        // The setting lasts as long as the connection: made again after a reconnect.
        var connection = -1
        return { [self] entries in
            if connection != db.generation || db.generation == 0 {
                try SharingRepository(db).commitViewsAsynchronously()
                connection = db.generation
            }
            try write(entries)
        }
    }

    /// Writes the views; now and then also clears raw viewer data past the retention period.
    public func write(_ entries: [AccessLogEntry]) throws {
        try SharingRepository(db).record(entries)
        if Int.random(in: 0..<500) == 0 { try SharingRepository(db).forgetRawViewers(olderThanDays: settings.logRetentionDays) }
    }
}

/// Views waiting to be written, per worker process: written together by a small thread of
/// the worker's, with its own database connection, when the oldest is a second old (checked
/// four times a second, so a worker waiting for its next request still writes them); by the
/// worker itself after a response only if 1,024 gathered first; and at once when the worker
/// stops or is recycled. One COPY per batch instead of a statement per view, off the request
/// path: measured, batches of 64 written by the worker cost the pages 13 % of their
/// throughput, these about 5 %. A worker killed outright loses at most its last second.
public final class ViewBuffer: @unchecked Sendable {
    public static let shared = ViewBuffer()
    public static let batchSize = 1024
    public static let maxAge: TimeInterval = 1
    /// Views kept while the database cannot take them; older ones beyond this are dropped.
    static let limit = 10_000

    private let lock = NSLock()
    /// One batch written at a time (the writer's connection is not shared).
    private let writing = NSLock()
    private var entries: [AccessLogEntry] = []
    private var oldest: Date?
    private var writer: (([AccessLogEntry]) throws -> Void)?
    private var onError: ((Error) -> Void)?

    public init() {}

    /// Keeps a view. The first one starts the thread that writes views when due, with the
    /// writer `makeWriter` gives (on a connection of its own); `onError` hears of failures.
    public func add(_ entry: AccessLogEntry, makeWriter: () -> ([AccessLogEntry]) throws -> Void, onError: @escaping (Error) -> Void) {
        let start: Bool = lock.withLock {
            if entries.isEmpty { oldest = Date() }
            entries.append(entry)
            if entries.count > ViewBuffer.limit { entries.removeFirst(entries.count - ViewBuffer.limit) }
            return writer == nil
        }
        guard start else { return }
        let write = makeWriter()
        lock.withLock {
            writer = write
            self.onError = onError
        }
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: ViewBuffer.maxAge / 4)
                flushReporting(force: false)
            }
        }
        thread.name = "assay-view-log"
        thread.start()
    }

    /// Writes the views kept when `force`d, when a batch is full or the oldest is due; a
    /// failure is reported and the views stay for the next try.
    public func flushReporting(force: Bool, now: Date = Date()) {
        // Unforced, a batch being written already is enough: the caller does not wait for it.
        if force { writing.lock() } else if !writing.try() { return }
        defer { writing.unlock() }
        let (batch, write, report): ([AccessLogEntry], (([AccessLogEntry]) throws -> Void)?, ((Error) -> Void)?) = lock.withLock {
            guard let oldest, force || entries.count >= ViewBuffer.batchSize || now.timeIntervalSince(oldest) >= ViewBuffer.maxAge
            else { return ([], nil, nil) }
            let batch = entries
            entries.removeAll(keepingCapacity: true)
            self.oldest = nil
            return (batch, writer, onError)
        }
        guard !batch.isEmpty, let write else { return }
        do {
            try write(batch)
        } catch {
            lock.withLock {
                entries.insert(contentsOf: batch, at: 0)
                if entries.count > ViewBuffer.limit { entries.removeFirst(entries.count - ViewBuffer.limit) }
                oldest = min(oldest ?? now, now)
            }
            report?(error)
        }
    }
}
