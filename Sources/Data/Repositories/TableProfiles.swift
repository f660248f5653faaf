import Foundation

/// Column statistics of a warehouse table, computed on the table or on a sample of it, and the
/// profiles kept (`table_profiles`).
public struct TableProfileRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// What is measured per column: extremes only where they order (numbers and dates).
    public struct ColumnRequest: Sendable {
        public let name: String
        public let ordered: Bool
        public init(name: String, ordered: Bool) {
            self.name = name
            self.ordered = ordered
        }
    }

    /// `{"rows": n, "columns": [{"non_null", "distinct", "min", "max", "avg_length", "top": [{"value", "count"}]}]}`
    /// over the whole table, or over a block sample of about `samplePercent` percent of it.
    public func statistics(tableName: String, columns: [ColumnRequest], samplePercent: Double?) throws -> String {
        var source: SQL = "SELECT \(SQL.identifiers(columns.map(\.name))) FROM \(SQL.warehouseTable(tableName))"
        if let samplePercent {
            // REPEATABLE: the same table gives the same profile.
            source.append(" TABLESAMPLE SYSTEM (\(unsafeSQL: String(format: "%.4f", samplePercent))) REPEATABLE (7)")
        }
        let perColumn: [SQL] = columns.map { column in
            let name: SQL = "\(identifier: column.name)"
            let extremes: SQL = column.ordered ? "min(\(name))::text, 'max', max(\(name))::text" : "NULL, 'max', NULL"
            return """
                (SELECT json_build_object('non_null', count(\(name)), 'distinct', count(DISTINCT \(name)), 'min', \(extremes),
                    'avg_length', avg(length(\(name)::text)),
                    'top', (SELECT coalesce(json_agg(json_build_object('value', v, 'count', k) ORDER BY k DESC, v), '[]')
                            FROM (SELECT \(name)::text AS v, count(*) AS k FROM s WHERE \(name) IS NOT NULL
                                  GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5) top)) FROM s)
                """
        }
        let statement: SQL = """
            WITH s AS MATERIALIZED (\(source))
            SELECT json_build_object('rows', (SELECT count(*) FROM s),
                                     'columns', json_build_array(\(perColumn.joined(separator: ", "))))::text AS stats
            """
        return try db.transaction { db in
            try db.query("SET TRANSACTION READ ONLY")
            return try db.query(statement)[0].decode("stats")
        }
    }

    /// The kept profile of a table, if it was computed for this `fingerprint`.
    public func kept(table: UUID, team: UUID, fingerprint: String) throws -> (profile: String, computedAt: Date)? {
        guard let row = try db.query("""
            SELECT profile::text AS profile, computed_at FROM table_profiles
            WHERE table_id = \(table) AND team_id = \(team) AND fingerprint = \(fingerprint)
            """).first else { return nil }
        return (try row.decode("profile"), try row.decode("computed_at"))
    }

    public func keep(table: UUID, team: UUID, fingerprint: String, profile: String) throws -> Date {
        try db.query("""
            INSERT INTO table_profiles (table_id, team_id, fingerprint, profile) VALUES (\(table), \(team), \(fingerprint), \(JSONText(profile))::jsonb)
            ON CONFLICT (table_id) DO UPDATE SET team_id = excluded.team_id, fingerprint = excluded.fingerprint,
                profile = excluded.profile, computed_at = now()
            RETURNING computed_at
            """)[0].decode("computed_at")
    }
}
