import Foundation

/// Pages of extracted tables this process has served, for `WarehouseRepository.page`, and
/// query results (`WarehouseQueryRepository.run`): dashboards and embeds ask for the same
/// pages and the same aggregates over and over, and building their JSON costs PostgreSQL
/// more than everything else in the request. Beside them, the shape
/// of each table read (its name and columns), from which a page not kept is read by a
/// statement of its own, prepared on the connection, instead of the
/// `extracted_table_page` function, which plans a dynamic query on every call.
///
/// An extracted table's rows never change in place: the table is replaced or dropped,
/// and both delete its metadata row, whose trigger sends `NOTIFY assay_tables, '<id>'`
/// (migration 0011); an ETL'd table's sync updates its `etl_tables` row, which does the
/// same (migration 0014). The cache listens on the connection it serves from and reads what
/// has arrived before every lookup (no round trip); a reconnect, when notifications may
/// have been missed, empties it. Pages also expire after `lifetime` seconds, and the
/// team is checked on every hit.
final class TablePageCache: @unchecked Sendable {
    static let shared = TablePageCache()
    static let channel = "assay_tables"
    /// Bytes of JSON kept per process.
    static let budget = 8 << 20
    static let lifetime: TimeInterval = 300
    /// Tables whose shape is kept: each is a prepared statement on the connection.
    static let shapeCapacity = 256

    struct Key: Hashable {
        let id: UUID
        let limit: Int
        let position: RowsPosition
    }

    /// A query's result: its table, and the statement with its parameters.
    struct ResultKey: Hashable {
        let id: UUID
        let statement: String
    }

    struct Result {
        let team: UUID
        let rowsJSON: String
        let truncated: Bool
        let stored: Date
    }

    /// Something computed from several tables (a dashboard's document, a widget's SVG).
    struct Derived {
        let team: UUID
        let tables: Set<UUID>
        let value: [UInt8]
        let stored: Date
    }

    /// A page of an extracted table (`table`) or of an ETL'd one (`connection`).
    struct Page {
        let team: UUID
        let table: ExtractedTableRecord?
        let connection: ConnectionTablePage?
        let json: String
        let count: Int
        let stored: Date
    }

    /// What a table's page statement needs; the statement re-checks it all, so a shape
    /// kept past a change answers nothing rather than something wrong.
    struct Shape {
        let tableName: String
        let columnsJSON: String
        /// The `json_build_object` arguments: each column's name and value.
        let fields: String

        init?(_ table: ExtractedTableRecord) {
            guard let data = table.columns.data(using: .utf8),
                  let columns = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
            let names = columns.compactMap { $0["name"] as? String }
            guard names.count == columns.count else { return nil }
            tableName = table.tableName
            columnsJSON = table.columns
            fields = WarehouseRepository.jsonObjectArguments(names)
        }

        /// The `extracted_table_page` function's answer as one static statement.
        func statement(id: UUID, team: UUID, limit: Int, offset: Int) -> SQL {
            """
                SELECT e.id, e.document_id, e.table_name, e.page_from, e.page_to, e.bbox::text AS bbox,
                       e.columns::text AS columns, e.row_count, e.confidence, p.rows, p.n
                FROM extracted_tables e CROSS JOIN LATERAL (
                    SELECT coalesce(json_agg(json_build_object(\(unsafeSQL: fields)) ORDER BY r._row), '[]')::text AS rows,
                           count(*) AS n
                    FROM (SELECT * FROM \(identifier: WarehouseRepository.schema).\(identifier: tableName)
                          ORDER BY _row LIMIT \(limit) OFFSET \(offset)) r) p
                WHERE e.id = \(id) AND e.team_id = \(team) AND e.table_name = \(unsafeSQL: SQL.quoteLiteral(tableName))
                """
        }
    }

    private let lock = NSLock()
    private var shapes: [UUID: Shape] = [:]
    private var connectionShapes: [UUID: ConnectionShape] = [:]
    private var pages: [Key: Page] = [:]
    private var order: [Key] = []
    private var results: [ResultKey: Result] = [:]
    private var resultOrder: [ResultKey] = []
    private var derived: [String: Derived] = [:]
    private var derivedOrder: [String] = []
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

    /// A query result kept for `team`, after applying the notifications that arrived on `db`.
    func result(_ key: ResultKey, team: UUID, db: Database) throws -> Result? {
        try synchronize(with: db)
        return lock.withLock {
            guard let result = results[key], result.team == team,
                  Date().timeIntervalSince(result.stored) < TablePageCache.lifetime else { return nil }
            return result
        }
    }

    func store(_ result: Result, for key: ResultKey, db: Database) {
        guard database === db, db.generation == generation else { return }
        let size = result.rowsJSON.utf8.count + key.statement.utf8.count
        guard size <= TablePageCache.budget / 8 else { return }
        lock.withLock {
            if let old = results.updateValue(result, forKey: key) {
                bytes -= old.rowsJSON.utf8.count + key.statement.utf8.count
            } else {
                resultOrder.append(key)
            }
            bytes += size
            var dropped = 0
            while bytes > TablePageCache.budget, dropped < resultOrder.count {
                if let old = results.removeValue(forKey: resultOrder[dropped]) {
                    bytes -= old.rowsJSON.utf8.count + resultOrder[dropped].statement.utf8.count
                }
                dropped += 1
            }
            if dropped > 0 { resultOrder.removeFirst(dropped) }
        }
    }

    func derived(_ key: String, team: UUID, db: Database) throws -> [UInt8]? {
        try synchronize(with: db)
        return lock.withLock {
            guard let entry = derived[key], entry.team == team,
                  Date().timeIntervalSince(entry.stored) < TablePageCache.lifetime else { return nil }
            return entry.value
        }
    }

    func store(_ entry: Derived, for key: String, db: Database) {
        guard database === db, db.generation == generation else { return }
        let size = entry.value.count + key.utf8.count
        guard size <= TablePageCache.budget / 8 else { return }
        lock.withLock {
            if let old = derived.updateValue(entry, forKey: key) {
                bytes -= old.value.count + key.utf8.count
            } else {
                derivedOrder.append(key)
            }
            bytes += size
            var dropped = 0
            while bytes > TablePageCache.budget, dropped < derivedOrder.count {
                if let old = derived.removeValue(forKey: derivedOrder[dropped]) { bytes -= old.value.count + derivedOrder[dropped].utf8.count }
                dropped += 1
            }
            if dropped > 0 { derivedOrder.removeFirst(dropped) }
        }
    }

    /// The shape kept for a table (`page` has applied the notifications just before).
    func shape(of id: UUID) -> Shape? { lock.withLock { shapes[id] } }

    /// Keeps (or with nil forgets) a table's shape, while fewer than `shapeCapacity` are kept.
    func keep(_ shape: Shape?, of id: UUID) {
        lock.withLock {
            guard shape == nil || shapes[id] != nil || shapes.count < TablePageCache.shapeCapacity else { return }
            shapes[id] = shape
        }
    }

    /// The shape kept for an ETL'd table (`page` has applied the notifications just before).
    func connectionShape(of id: UUID) -> ConnectionShape? { lock.withLock { connectionShapes[id] } }

    /// Keeps (or with nil forgets) an ETL'd table's shape, while fewer than `shapeCapacity` are kept.
    func keep(_ shape: ConnectionShape?, of id: UUID) {
        lock.withLock {
            guard shape == nil || connectionShapes[id] != nil || connectionShapes.count < TablePageCache.shapeCapacity else { return }
            connectionShapes[id] = shape
        }
    }

    /// Forgets the pages and shapes of tables named in notifications; forgets everything
    /// and listens again when `db` is not the connection the cache was kept for.
    private func synchronize(with db: Database) throws {
        if database === db, db.generation == generation {
            let forgotten = Set(try db.receivedNotifications().compactMap(UUID.init(uuidString:)))
            if db.generation == generation {
                if !forgotten.isEmpty { forget { forgotten.contains($0) } }
                return
            }
        }
        forget { _ in true }
        try db.query("LISTEN \(identifier: TablePageCache.channel)")
        database = db
        generation = db.generation
    }

    private func forget(tables matches: (UUID) -> Bool) {
        lock.withLock {
            for key in pages.keys where matches(key.id) {
                if let old = pages.removeValue(forKey: key) { bytes -= old.json.utf8.count }
            }
            order.removeAll { pages[$0] == nil }
            for key in results.keys where matches(key.id) {
                if let old = results.removeValue(forKey: key) { bytes -= old.rowsJSON.utf8.count + key.statement.utf8.count }
            }
            resultOrder.removeAll { results[$0] == nil }
            for (key, entry) in derived where entry.tables.contains(where: matches) {
                derived.removeValue(forKey: key)
                bytes -= entry.value.count + key.utf8.count
            }
            derivedOrder.removeAll { derived[$0] == nil }
            shapes = shapes.filter { !matches($0.key) }
            connectionShapes = connectionShapes.filter { !matches($0.key) }
        }
    }
}

/// Values computed from warehouse tables — a dashboard's document with its data, a widget's
/// SVG — kept per process like query results: until one of their tables changes (the same
/// notifications), for at most five minutes, and only for the team that computed them. The
/// key must say everything else the value depends on (the record's version, the day for
/// relative dates, the theme).
public enum DerivedResultCache {
    public static func value(_ key: String, team: UUID, db: Database) throws -> [UInt8]? {
        try TablePageCache.shared.derived(key, team: team, db: db)
    }

    public static func store(_ value: [UInt8], key: String, team: UUID, tables: Set<UUID>, db: Database) {
        TablePageCache.shared.store(TablePageCache.Derived(team: team, tables: tables, value: value, stored: Date()), for: key, db: db)
    }
}
