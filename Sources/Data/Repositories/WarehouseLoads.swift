import Foundation

/// A column of a warehouse table as it is created: its name and its PostgreSQL type.
///
/// The type comes from Assay's own type mapping (ETL's `TypeMapper`), never from input:
/// it is spliced into `CREATE TABLE` and `ADD COLUMN` as text, since a type name cannot be
/// a bind parameter.
public struct WarehouseColumnDefinition: Sendable, Equatable {
    public let name: String
    public let sqlType: String

    public init(name: String, sqlType: String) {
        self.name = name
        self.sqlType = sqlType
    }
}

/// Loading one ETL warehouse table: `warehouse.<table>`, the staging table its rows are
/// copied into first (`<table>__load`) and, for deduplicated loads, the table of the keys
/// the source still holds (`<table>__keys`).
///
/// Each method is one statement (the swap is two); the caller decides which run, in what
/// order and in which transaction, so a load lands all at once or not at all.
public struct WarehouseLoadRepository {
    let db: Database
    /// The warehouse table being loaded (unqualified).
    public let table: String

    public init(_ db: Database, table: String) {
        self.db = db
        self.table = table
    }

    private var target: SQL { SQL.warehouseTable(table) }
    private var staging: SQL { SQL.warehouseTable(table + "__load") }
    private var keyTable: SQL { SQL.warehouseTable(table + "__keys") }

    // MARK: The table

    /// Whether the warehouse table exists.
    public func tableExists() throws -> Bool {
        // `to_regclass` takes the qualified name as a value, quoted as in SQL text.
        let name = WarehouseRepository.schema + "." + SQL.quoteIdentifier(table)
        return try db.query("SELECT to_regclass(\(name))::text AS t").first
            .flatMap { try? $0.decode("t", as: String?.self) } != nil
    }

    /// Replaces the table with the staging table (a first load): the old table is dropped
    /// and the staging table renamed in its place.
    public func replaceWithStaging() throws {
        try db.query("DROP TABLE IF EXISTS \(target)")
        try db.query("ALTER TABLE \(staging) RENAME TO \(identifier: table)")
    }

    /// A unique index on the key columns, which `mergeStaging(columns:key:newestFirstBy:)` needs.
    public func createUniqueIndex(key: [String]) throws {
        try db.query("CREATE UNIQUE INDEX ON \(target) (\(SQL.identifiers(key)))")
    }

    /// Adds a column the source has grown.
    public func addColumn(_ column: WarehouseColumnDefinition) throws {
        try db.query("ALTER TABLE \(target) ADD COLUMN \(WarehouseLoadRepository.definition(column))")
    }

    /// Sets the table's comment (who loaded it, from where, when).
    public func comment(_ text: String) throws {
        // COMMENT is a utility statement and takes no parameters: the text is a quoted literal.
        try db.query("COMMENT ON TABLE \(target) IS \(unsafeSQL: SQL.quoteLiteral(text))")
    }

    /// How many rows the table holds.
    public func rowCount() throws -> Int64 {
        try db.query("SELECT count(*) AS n FROM \(target)")[0].decode("n")
    }

    // MARK: Staging

    /// Drops the staging table if there is one (an abandoned load, a failed or finished one).
    public func dropStaging() throws {
        try db.query("DROP TABLE IF EXISTS \(staging)")
    }

    /// Creates the staging table. An `unlogged` one skips the WAL: for a table that is only
    /// merged from, not one that becomes the table.
    public func createStaging(columns: [WarehouseColumnDefinition], unlogged: Bool) throws {
        let kind: SQL = unlogged ? "UNLOGGED TABLE" : "TABLE"
        try db.query("CREATE \(kind) \(staging) (\(WarehouseLoadRepository.definitions(columns)))")
    }

    /// Copies rows into the staging table's `columns`: `feed` writes them in COPY's text
    /// format (see `Database.copyIn`).
    public func copyIntoStaging(columns: [String],
                                feed: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try db.copyIn("COPY \(staging) (\(SQL.identifiers(columns))) FROM STDIN", feed: feed)
    }

    /// The largest value of `column` in the staging table as text, nil when it has no rows
    /// (or only NULLs). A `timestamp with time zone` is given in UTC without a zone suffix
    /// (`2026-01-02 03:04:05.000006`), which both source engines accept back in a filter.
    public func stagingMaximum(of column: String, sqlType: String) throws -> String? {
        let expression: SQL = sqlType == "timestamp with time zone"
            ? "to_char(max(\(identifier: column)) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
            : "max(\(identifier: column))::text"
        return try db.query("SELECT \(expression) AS v FROM \(staging)").first
            .flatMap { try $0.decode("v", as: String?.self) }
    }

    /// Appends every staging row to the table.
    public func appendStaging(columns: [String]) throws {
        let list = SQL.identifiers(columns)
        try db.query("INSERT INTO \(target) (\(list)) SELECT \(list) FROM \(staging)")
    }

    /// Inserts the staging rows, one per key (the newest by `cursor` when there is one), and
    /// updates the table's rows with the same key (the unique index on `key` decides).
    public func mergeStaging(columns: [String], key: [String], newestFirstBy cursor: String?) throws {
        let list = SQL.identifiers(columns)
        let keyList = SQL.identifiers(key)
        let updates = columns.filter { !key.contains($0) }
            .map { "\(identifier: $0) = EXCLUDED.\(identifier: $0)" as SQL }
        var order = keyList
        if let cursor { order.append(", \(identifier: cursor) DESC") }
        let action: SQL = updates.isEmpty ? "NOTHING" : "UPDATE SET \(updates.joined(separator: ", "))"
        try db.query("""
            INSERT INTO \(target) (\(list))
            SELECT DISTINCT ON (\(keyList)) \(list) FROM \(staging) ORDER BY \(order)
            ON CONFLICT (\(keyList)) DO \(action)
            """)
    }

    // MARK: Keys

    /// Drops the key table if there is one.
    public func dropKeyTable() throws {
        try db.query("DROP TABLE IF EXISTS \(keyTable)")
    }

    /// Creates the (unlogged) key table with the key columns.
    public func createKeyTable(columns: [WarehouseColumnDefinition]) throws {
        try db.query("CREATE UNLOGGED TABLE \(keyTable) (\(WarehouseLoadRepository.definitions(columns)))")
    }

    /// Copies the keys the source holds now into the key table (all its columns, in order).
    public func copyIntoKeyTable(feed: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        try db.copyIn("COPY \(keyTable) FROM STDIN", feed: feed)
    }

    /// Deletes the table's rows whose key is not in the key table (deleted in the source);
    /// returns how many.
    public func deleteRowsMissingFromKeyTable(key: [String]) throws -> Int64 {
        let join = key.map { "k.\(identifier: $0) = t.\(identifier: $0)" as SQL }.joined(separator: " AND ")
        return try db.query("""
            WITH gone AS (DELETE FROM \(target) t WHERE NOT EXISTS (SELECT 1 FROM \(keyTable) k WHERE \(join)) RETURNING 1)
            SELECT count(*) AS n FROM gone
            """)[0].decode("n")
    }

    // MARK: Column definitions

    static func definitions(_ columns: [WarehouseColumnDefinition]) -> SQL {
        columns.map(definition).joined(separator: ", ")
    }

    static func definition(_ column: WarehouseColumnDefinition) -> SQL {
        // The type is Assay's own mapping (see `WarehouseColumnDefinition`): a type name
        // cannot be a bind parameter.
        "\(identifier: column.name) \(unsafeSQL: column.sqlType)"
    }
}
