import Foundation

/// An analytical query over one warehouse table, already checked by the `Query` module against
/// the table's columns and types (every column named here exists, every value parses as its
/// column's type). This file compiles it to one parameterized statement: values are bound,
/// columns quoted, and the only raw text is Assay's own (operators, casts, functions).
public struct WarehouseQuery: Sendable {
    /// How a column's values compare and aggregate.
    public enum ValueType: String, Sendable {
        case number, date, timestamp, boolean, text

        /// The cast a bound value gets to compare with a column of this type.
        var cast: String {
            switch self {
            case .number: "numeric"
            case .date: "date"
            case .timestamp: "timestamptz"
            case .boolean: "boolean"
            case .text: "text"
            }
        }
    }

    public enum Bucket: String, Sendable, CaseIterable {
        case day, week, month, quarter, year
    }

    /// What a result row is grouped by.
    public enum Dimension: Sendable {
        /// The column's values as they are.
        case value(column: String)
        /// A date or timestamp column truncated to the start of its day, week (Monday), month,
        /// quarter or year, as a date.
        case bucket(column: String, Bucket)
        /// A numeric column in `count` equal-width bins between its minimum and maximum (after
        /// the filters); the value is the bin's lower edge.
        case bins(column: String, count: Int)
    }

    public enum Aggregate: String, Sendable, CaseIterable {
        case count, countDistinct = "count_distinct", sum, avg, min, max, median
    }

    public struct Measure: Sendable {
        public let aggregate: Aggregate
        /// nil only for `count` (rows).
        public let column: String?
        public let type: ValueType
        public init(aggregate: Aggregate, column: String?, type: ValueType) {
            self.aggregate = aggregate
            self.column = column
            self.type = type
        }
    }

    public enum Comparison: String, Sendable, CaseIterable {
        case equal = "=", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    /// A condition on one column; values are text in the column type's literal form.
    public enum Condition: Sendable {
        case compare(Comparison, String)
        case oneOf([String])
        /// Both ends included.
        case between(String, String)
        /// Case-insensitive substring of the value as text.
        case contains(String)
        case isNull(Bool)
        /// `from` included, `until` excluded (relative dates resolve to this).
        case range(from: String, until: String)
    }

    public struct Filter: Sendable {
        public let column: String
        public let type: ValueType
        public let condition: Condition
        public init(column: String, type: ValueType, condition: Condition) {
            self.column = column
            self.type = type
            self.condition = condition
        }
    }

    /// A result column: what it is, and the name it has in the result.
    public enum Output: Sendable {
        case dimension(Dimension)
        case measure(Measure)
        /// Rows mode (no measures, no dimensions): a column as it is.
        case column(String)
    }

    public struct Order: Sendable {
        /// The result column's name.
        public let output: String
        public let descending: Bool
        public init(output: String, descending: Bool) {
            self.output = output
            self.descending = descending
        }
    }

    public let tableName: String
    public let outputs: [(name: String, output: Output)]
    public let filters: [Filter]
    public let order: [Order]
    public let limit: Int

    public init(tableName: String, outputs: [(name: String, output: Output)], filters: [Filter], order: [Order], limit: Int) {
        self.tableName = tableName
        self.outputs = outputs
        self.filters = filters
        self.order = order
        self.limit = limit
    }

    /// Grouped when it has a measure; rows mode lists rows.
    var grouped: Bool {
        outputs.contains { if case .measure = $0.output { true } else { false } }
    }

    // MARK: Compiling

    /// The statement: one row per result row, `limit + 1` at most (one more tells the caller
    /// the result was cut).
    public var statement: SQL {
        var bins: [(alias: String, column: String, count: Int)] = []
        var select: [SQL] = []
        var groupBy: [SQL] = []
        for (index, (name, output)) in outputs.enumerated() {
            let expression: SQL
            switch output {
            case .column(let column):
                expression = "\(identifier: column)"
            case .dimension(.value(let column)):
                expression = "\(identifier: column)"
            case .dimension(.bucket(let column, let bucket)):
                // As a timestamp without zone (a date column would otherwise become timestamptz, row by
                // row); timestamptz columns read in the session's zone, as date_trunc would.
                expression = "date_trunc(\(unsafeSQL: SQL.quoteLiteral(bucket.rawValue)), \(identifier: column)::timestamp)::date"
            case .dimension(.bins(let column, let count)):
                let alias = "b\(bins.count)"
                bins.append((alias, column, count))
                expression = """
                    CASE WHEN \(identifier: alias).w = 0 THEN \(identifier: alias).lo \
                    ELSE \(identifier: alias).lo + \(identifier: alias).w * least(floor((\(identifier: column)::numeric - \(identifier: alias).lo) / \(identifier: alias).w), \(unsafeSQL: String(count - 1))) END
                    """
            case .measure(let measure):
                expression = WarehouseQuery.aggregate(measure)
            }
            select.append("\(expression) AS \(identifier: name)")
            if case .dimension = output { groupBy.append("\(unsafeSQL: String(index + 1))") }
        }
        // NOT MATERIALIZED: a histogram reads src twice (its extremes, then its bins); inlined,
        // that is two scans instead of one scan copying every row into a tuplestore first.
        var sql: SQL = "WITH src AS NOT MATERIALIZED (SELECT * FROM \(SQL.warehouseTable(tableName))"
        if !filters.isEmpty {
            sql.append(" WHERE \(filters.map(WarehouseQuery.condition).joined(separator: " AND "))")
        }
        sql.append(")")
        for bin in bins {
            sql.append("""
                , \(identifier: bin.alias) AS (SELECT min(\(identifier: bin.column))::numeric AS lo, \
                (max(\(identifier: bin.column))::numeric - min(\(identifier: bin.column))::numeric) / \(unsafeSQL: String(bin.count)) AS w FROM src)
                """)
        }
        sql.append(" SELECT \(select.joined(separator: ", ")) FROM src")
        for bin in bins { sql.append(" CROSS JOIN \(identifier: bin.alias)") }
        if grouped, !groupBy.isEmpty { sql.append(" GROUP BY \(groupBy.joined(separator: ", "))") }
        if !order.isEmpty {
            sql.append(" ORDER BY \(order.map { "\(identifier: $0.output) \(unsafeSQL: $0.descending ? "DESC NULLS LAST" : "ASC NULLS LAST")" as SQL }.joined(separator: ", "))")
        }
        sql.append(" LIMIT \(limit + 1)")
        return sql
    }

    static func aggregate(_ measure: Measure) -> SQL {
        guard let column = measure.column else { return "count(*)" }
        let name: SQL = "\(identifier: column)"
        switch measure.aggregate {
        case .count: return "count(\(name))"
        case .countDistinct: return "count(DISTINCT \(name))"
        case .sum: return "sum(\(name))"
        case .avg: return "avg(\(name))"
        case .min: return "min(\(name))"
        case .max: return "max(\(name))"
        case .median:
            return measure.type == .number
                ? "percentile_cont(0.5) WITHIN GROUP (ORDER BY \(name))"
                : "percentile_disc(0.5) WITHIN GROUP (ORDER BY \(name))"
        }
    }

    static func condition(_ filter: Filter) -> SQL {
        let column: SQL = "\(identifier: filter.column)"
        let cast = filter.type.cast
        switch filter.condition {
        case .compare(let comparison, let value):
            let op = comparison == .notEqual ? "IS DISTINCT FROM" : comparison.rawValue
            return "\(column) \(unsafeSQL: op) \(value)::\(unsafeSQL: cast)"
        case .oneOf(let values):
            return "\(column) = ANY(\(values)::\(unsafeSQL: cast)[])"
        case .between(let low, let high):
            return "\(column) BETWEEN \(low)::\(unsafeSQL: cast) AND \(high)::\(unsafeSQL: cast)"
        case .contains(let text):
            return "strpos(lower(\(column)::text), lower(\(text))) > 0"
        case .isNull(let null):
            return "\(column) \(unsafeSQL: null ? "IS NULL" : "IS NOT NULL")"
        case .range(let from, let until):
            return "(\(column) >= \(from)::\(unsafeSQL: cast) AND \(column) < \(until)::\(unsafeSQL: cast))"
        }
    }
}

/// Runs `WarehouseQuery`s.
public struct WarehouseQueryRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// The result as a JSON array of row arrays (in the query's output order), whether more
    /// rows than the limit existed, whether it came from this process's cache, and the
    /// statement's text and parameters. Runs in a read-only transaction with
    /// `timeoutMilliseconds` as its statement timeout (a timeout is `DataError.server` with
    /// SQLSTATE 57014). Results are kept per process until their table changes
    /// (`TablePageCache`); `table` is the table's id, `team` the caller's.
    public func run(_ query: WarehouseQuery, table: UUID, team: UUID, timeoutMilliseconds: Int) throws
        -> (rowsJSON: String, truncated: Bool, cached: Bool, sql: String, binds: [String?]) {
        let statement = query.statement
        let key = TablePageCache.ResultKey(id: table, statement: statement.text + "\u{0}" + statement.binds.map { $0 ?? "\u{1}" }.joined(separator: "\u{0}"))
        if let kept = try TablePageCache.shared.result(key, team: team, db: db) {
            return (kept.rowsJSON, kept.truncated, true, statement.text, statement.binds)
        }
        let columns = query.outputs.map { "q.\(SQL.quoteIdentifier($0.name))" }.joined(separator: ", ")
        // The rows in the statement's order, numbered, the one past the limit left out.
        let wrapped: SQL = """
            SELECT coalesce(json_agg(json_build_array(\(unsafeSQL: columns)) ORDER BY q.__rn) FILTER (WHERE q.__rn <= \(query.limit)), '[]')::text AS rows,
                   count(*) AS n
            FROM (SELECT s.*, row_number() OVER () AS __rn FROM (\(statement)) s) q
            """
        let row = try db.transaction { db in
            try db.query("SET TRANSACTION READ ONLY")
            try db.query("SELECT set_config('statement_timeout', \(String(timeoutMilliseconds)), true)")
            return try db.query(wrapped)[0]
        }
        let count: Int = try row.decode("n")
        let json: String = try row.decode("rows")
        TablePageCache.shared.store(TablePageCache.Result(team: team, rowsJSON: json, truncated: count > query.limit, stored: Date()),
                                    for: key, db: db)
        return (json, count > query.limit, false, statement.text, statement.binds)
    }
}
