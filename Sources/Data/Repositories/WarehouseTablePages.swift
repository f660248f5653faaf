import Foundation

/// Where the next page of a table's rows starts: an opaque token naming the table and the
/// key of the last row served (`next_cursor` in the rows endpoint's answer).
///
/// `v1.<first 8 hex digits of the table id>.<base64url of a JSON array of the key's values
/// as text>`: the values go back to PostgreSQL as parameters cast to the key's types, so a
/// page after a cursor is an index range scan however deep it is.
public struct RowCursor: Equatable, Sendable {
    /// The first 8 hex digits of the table's id.
    public let tablePrefix: String
    /// The last row's key, each value as PostgreSQL writes it as text.
    public let key: [String]

    public init(table: UUID, key: [String]) {
        tablePrefix = RowCursor.prefix(of: table)
        self.key = key
    }

    /// Longest token read; a key is a few values, not a document.
    public static let maxTokenLength = 4096

    public var token: String {
        let json = (try? JSONSerialization.data(withJSONObject: key, options: [])) ?? Data("[]".utf8)
        return "v1.\(tablePrefix).\(RowCursor.base64URL(json))"
    }

    /// Reads a token; nil when it is not one `token` wrote.
    public init?(token: String) {
        guard token.utf8.count <= RowCursor.maxTokenLength else { return nil }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", parts[1].count == 8,
              parts[1].allSatisfy({ $0.isASCII && $0.isHexDigit && !$0.isUppercase }),
              let data = RowCursor.decodeBase64URL(String(parts[2])),
              let values = (try? JSONSerialization.jsonObject(with: data, options: [])) as? [Any],
              (1...32).contains(values.count) else { return nil }
        let key = values.compactMap { $0 as? String }
        guard key.count == values.count else { return nil }
        tablePrefix = String(parts[1])
        self.key = key
    }

    /// Whether the token was written for `table`.
    public func belongs(to table: UUID) -> Bool { tablePrefix == RowCursor.prefix(of: table) }

    static func prefix(of id: UUID) -> String { String(id.uuidString.lowercased().prefix(8)) }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decodeBase64URL(_ text: String) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}

/// Where a page of rows starts.
public enum RowsPosition: Hashable, Sendable {
    /// After this many rows in key order (the `offset` parameter).
    case offset(Int)
    /// After the row with this key (a `RowCursor`'s values).
    case after([String])
}

/// A page of an ETL'd table: its catalog entry, its rows as a JSON array of objects (keys in
/// column order, values typed by PostgreSQL), how many, and the key of the last row when more
/// rows follow.
public struct ConnectionTablePage: Sendable {
    public let table: WarehouseTableRef
    /// Where the table's key came from (`primary_key`, `unique`, `requested`, `surrogate`, `none`).
    public let keySource: String
    public let json: String
    public let count: Int
    public let nextKey: [String]?
}

/// A cursor whose values are not the table's key (another table's, a table reloaded with
/// another key, or edited by hand).
public struct InvalidRowCursor: Error, CustomStringConvertible, Sendable {
    public let description: String
}

extension WarehouseRepository {
    /// A page of a table copied from a connection by ETL, in its key's order, with its
    /// catalog entry, in one round trip; nil when the team has no such table.
    ///
    /// Like `page(id:team:limit:offset:)` for extracted tables: pages served are kept in this
    /// process (`TablePageCache`) until a sync changes the table; a page not kept is a
    /// statement of the table's own (its columns and key spelled out, prepared on the
    /// connection) that ranges over the key's index. Anything unexpected (the table
    /// replaced with other columns or another key) reads the catalog again.
    public func connectionPage(id: UUID, team: UUID, limit: Int, position: RowsPosition) throws -> ConnectionTablePage? {
        let key = TablePageCache.Key(id: id, limit: limit, position: position)
        let cache = TablePageCache.shared
        if let kept = try cache.page(key, team: team, db: db), let page = kept.connection {
            return page
        }
        guard let page = try readConnectionPage(id: id, team: team, limit: limit, position: position) else { return nil }
        cache.store(.init(team: team, table: nil, connection: page, json: page.json, count: page.count, stored: Date()),
                    for: key, db: db)
        return page
    }

    /// Whether this process has read `id` as an ETL'd table (and still keeps its shape): no
    /// need to look for an extracted table of that id first.
    public static func isKnownConnectionTable(_ id: UUID) -> Bool {
        TablePageCache.shared.connectionShape(of: id) != nil
    }

    private func readConnectionPage(id: UUID, team: UUID, limit: Int, position: RowsPosition) throws -> ConnectionTablePage? {
        let cache = TablePageCache.shared
        if let shape = cache.connectionShape(of: id) {
            if let page = try readConnectionPage(shape, id: id, team: team, limit: limit, position: position) { return page }
            cache.keep(nil as TablePageCache.ConnectionShape?, of: id)
        }
        guard let ref = try WarehouseCatalogRepository(db).table(id: id, team: team), ref.source == .connection else { return nil }
        guard let shape = TablePageCache.ConnectionShape(ref) else {
            throw DataError.decoding(column: "etl_tables.columns", expected: "the table's columns and key", found: ref.columns)
        }
        cache.keep(shape, of: id)
        return try readConnectionPage(shape, id: id, team: team, limit: limit, position: position)
    }

    /// The page by `shape`'s statement; nil when the table no longer has that shape.
    private func readConnectionPage(_ shape: TablePageCache.ConnectionShape, id: UUID, team: UUID, limit: Int,
                                    position: RowsPosition) throws -> ConnectionTablePage? {
        if case .after(let values) = position, values.count != shape.key.count {
            throw InvalidRowCursor(description: "does not belong to this table (or the table was reloaded with another key)")
        }
        let row: Row
        do {
            guard let found = try db.query(shape.statement(id: id, team: team, limit: limit, position: position), prepared: true).first
            else { return nil }
            row = found
        } catch DataError.server(let state, _, _) where state == "42P01" || state == "42703" || state == "0A000" {
            // Dropped, or its columns changed, since the shape was read.
            return nil
        } catch DataError.server(let state, _, _) where state.hasPrefix("22") {
            // A value the key's type does not read.
            throw InvalidRowCursor(description: "does not belong to this table (or the table was reloaded with another key)")
        }
        let table = try WarehouseTableRef(row)
        guard table.columns == shape.columnsJSON, table.orderColumns == shape.key else { return nil }
        let n: Int = try row.decode("n")
        var nextKey: [String]?
        if n > limit, let last = try row.decode("last", as: String?.self),
           let values = (try? JSONSerialization.jsonObject(with: Data(last.utf8))) as? [String] {
            nextKey = values
        }
        return ConnectionTablePage(table: table, keySource: try row.decode("key_source"), json: try row.decode("rows"),
                                   count: min(n, limit), nextKey: nextKey)
    }
}

extension TablePageCache {
    /// What an ETL'd table's page statement needs: its name, columns, key and the key's types.
    /// The statement re-checks the name; the caller compares the columns and key it returns.
    struct ConnectionShape {
        let tableName: String
        let columnsJSON: String
        let key: [String]
        let keyTypes: [String]
        /// The `json_build_object` arguments: each column's name and value.
        let fields: String

        init?(_ table: WarehouseTableRef) {
            guard let data = table.columns.data(using: .utf8),
                  let columns = try? JSONSerialization.jsonObject(with: data) as? [[String: Any]] else { return nil }
            let names = columns.compactMap { $0["name"] as? String }
            guard names.count == columns.count, !table.orderColumns.isEmpty else { return nil }
            var types: [String: String] = [:]
            for column in columns {
                if let name = column["name"] as? String, let type = column["type"] as? String { types[name] = type }
            }
            types[WarehouseLoadRepository.surrogateKey] = types[WarehouseLoadRepository.surrogateKey] ?? "bigint"
            let keyTypes = table.orderColumns.compactMap { types[$0] }
            // The types are Assay's own mapping (ETL's `TypeMapper`); spliced as casts, so
            // checked to be type names all the same.
            guard keyTypes.count == table.orderColumns.count,
                  keyTypes.allSatisfy({ $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || " (),_".contains($0)) } })
            else { return nil }
            tableName = table.tableName
            columnsJSON = table.columns
            key = table.orderColumns
            self.keyTypes = keyTypes
            fields = WarehouseRepository.jsonObjectArguments(names)
        }

        /// The table's catalog entry (as `WarehouseCatalogRepository` gives it) and one page of
        /// its rows in key order, `limit + 1` read to know whether more follow.
        func statement(id: UUID, team: UUID, limit: Int, position: RowsPosition) -> SQL {
            let order = key.map { "r.\(SQL.quoteIdentifier($0))" }.joined(separator: ", ")
            let keyText = key.map { "r.\(SQL.quoteIdentifier($0))::text" }.joined(separator: ", ")
            var rows: SQL = "SELECT * FROM \(SQL.warehouseTable(tableName))"
            switch position {
            case .offset(let offset):
                rows.append(" ORDER BY \(SQL.identifiers(key)) LIMIT \(limit + 1) OFFSET \(offset)")
            case .after(let values):
                let bound = zip(values, keyTypes).map { value, type in "\(value)::\(unsafeSQL: type)" as SQL }
                    .joined(separator: ", ")
                rows.append(" WHERE (\(SQL.identifiers(key))) > (\(bound)) ORDER BY \(SQL.identifiers(key)) LIMIT \(limit + 1)")
            }
            return """
                SELECT e.id, e.team_id, 'connection' AS source, e.warehouse_table AS table_name, e.columns::text AS columns,
                       e.row_count, e.connection_id AS source_id, c.name AS source_name, NULL::integer AS page_from,
                       NULL::integer AS page_to, NULL::double precision AS confidence, NULL::integer AS table_number,
                       e.source_schema || '.' || e.source_table AS source_table, e.last_sync_at, e.primary_key AS order_columns,
                       e.created_at, e.key_source, p.rows, p.n, p.last
                FROM etl_tables e JOIN connections c ON c.id = e.connection_id CROSS JOIN LATERAL (
                    SELECT coalesce(array_to_json((array_agg(json_build_object(\(unsafeSQL: fields)) ORDER BY \(unsafeSQL: order)))[1:\(limit)]),
                                    '[]')::text AS rows,
                           count(*)::integer AS n,
                           (array_agg(json_build_array(\(unsafeSQL: keyText))::text ORDER BY \(unsafeSQL: order)))[\(limit)] AS last
                    FROM (\(rows)) r) p
                WHERE e.id = \(id) AND e.team_id = \(team) AND e.warehouse_table = \(unsafeSQL: SQL.quoteLiteral(tableName))
                """
        }
    }
}
