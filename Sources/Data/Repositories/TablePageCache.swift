import Foundation

/// Pages of extracted tables this process has served, for `WarehouseRepository.page`:
/// dashboards and embeds ask for the same pages over and over, and building a page's
/// JSON costs PostgreSQL more than everything else in the request.
///
/// An extracted table's rows never change in place: the table is replaced or dropped,
/// and both delete its metadata row, whose trigger sends `NOTIFY assay_tables, '<id>'`
/// (migration 0011). The cache listens on the connection it serves from and reads what
/// has arrived before every lookup (no round trip); a reconnect, when notifications may
/// have been missed, empties it. Entries also expire after `lifetime` seconds, and the
/// team is checked on every hit.
final class TablePageCache: @unchecked Sendable {
    static let shared = TablePageCache()
    static let channel = "assay_tables"
    /// Bytes of JSON kept per process.
    static let budget = 8 << 20
    static let lifetime: TimeInterval = 300

    struct Key: Hashable {
        let id: UUID
        let limit: Int
        let offset: Int
    }

    struct Page {
        let team: UUID
        let table: ExtractedTableRecord
        let json: String
        let count: Int
        let stored: Date
    }

    private let lock = NSLock()
    private var pages: [Key: Page] = [:]
    private var order: [Key] = []
    private var bytes = 0
    /// The connection the cache is kept for, and its generation when LISTEN was sent.
    private weak var database: Database?
    private var generation = -1

    /// A page kept for `team`, after applying the notifications that arrived on `db`.
    func page(_ key: Key, team: UUID, db: Database) throws -> Page? {
        try synchronize(with: db)
        return lock.withLock {
            guard let page = pages[key] else { return nil }
            guard page.team == team, Date().timeIntervalSince(page.stored) < TablePageCache.lifetime else { return nil }
            return page
        }
    }

    func store(_ page: Page, for key: Key, db: Database) {
        guard database === db, db.generation == generation else { return }
        let size = page.json.utf8.count
        guard size <= TablePageCache.budget / 8 else { return }
        lock.withLock {
            if let old = pages.updateValue(page, forKey: key) {
                bytes -= old.json.utf8.count
            } else {
                order.append(key)
            }
            bytes += size
            // Oldest first, until the budget holds again.
            var dropped = 0
            while bytes > TablePageCache.budget, dropped < order.count {
                if let old = pages.removeValue(forKey: order[dropped]) { bytes -= old.json.utf8.count }
                dropped += 1
            }
            if dropped > 0 { order.removeFirst(dropped) }
        }
    }

    /// Forgets the pages of tables named in notifications; forgets everything and listens
    /// again when `db` is not the connection the cache was kept for.
    private func synchronize(with db: Database) throws {
        if database === db, db.generation == generation {
            let forgotten = Set(try db.receivedNotifications().compactMap(UUID.init(uuidString:)))
            if db.generation == generation {
                if !forgotten.isEmpty { forget { forgotten.contains($0.id) } }
                return
            }
        }
        forget { _ in true }
        try db.query("LISTEN \(identifier: TablePageCache.channel)")
        database = db
        generation = db.generation
    }

    private func forget(where matches: (Key) -> Bool) {
        lock.withLock {
            for key in pages.keys where matches(key) {
                if let old = pages.removeValue(forKey: key) { bytes -= old.json.utf8.count }
            }
            order.removeAll { pages[$0] == nil }
        }
    }
}
