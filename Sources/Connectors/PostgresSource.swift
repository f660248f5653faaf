import CLibpq
import Data
import Foundation

/// A source PostgreSQL database through libpq.
final class PostgresSource: SourceDatabase {
    private let connection: OpaquePointer
    private var caFile: String?

    init(_ settings: SourceSettings) throws {
        var caFile: String?
        if let pem = settings.caCertificate {
            caFile = try PostgresSource.writeTemporary(pem)
        }
        // Every parameter is explicit (and dbname is not expanded), so neither a value a
        // user typed nor the process environment can add connection options.
        var pairs: [(String, String)] = [
            ("host", settings.host), ("hostaddr", settings.address), ("port", String(settings.port)),
            ("dbname", settings.database), ("user", settings.username), ("password", settings.password),
            ("connect_timeout", String(max(2, settings.connectTimeout))), ("sslmode", settings.sslmode),
            ("application_name", "assay"), ("passfile", "/dev/null"),
            ("options", "-c default_transaction_read_only=on -c statement_timeout=\(settings.statementTimeout * 1000)"
                + " -c TimeZone=UTC -c DateStyle=ISO -c client_encoding=UTF8 -c extra_float_digits=3"),
        ]
        if let caFile { pairs.append(("sslrootcert", caFile)) }
        let keys = pairs.map(\.0), values = pairs.map(\.1)
        let connection: OpaquePointer? = withCStrings(keys) { k in withCStrings(values) { v in PQconnectdbParams(k, v, 0) } }
        if let caFile { unlink(caFile) }
        guard let connection else { throw SourceError(.other, "out of memory") }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw PostgresSource.classify(message)
        }
        DatabaseNotices.route(connection)
        self.connection = connection
    }

    deinit { PQfinish(connection) }

    static func classify(_ raw: String) -> SourceError {
        // libpq prefixes "connection to server at … failed:"; keep the reason.
        let message = raw.replacingOccurrences(of: "\n", with: " ")
        let lower = message.lowercased()
        let kind: SourceError.Kind
        if lower.contains("password authentication failed") || lower.contains("no password supplied")
            || lower.contains("authentication failed") || lower.contains("role") && lower.contains("does not exist") {
            kind = .authenticationFailed
        } else if lower.contains("database") && lower.contains("does not exist") {
            kind = .databaseMissing
        } else if lower.contains("timeout expired") || lower.contains("timed out") {
            kind = .timeout
        } else if lower.contains("connection refused") || lower.contains("no route to host")
            || lower.contains("network is unreachable") || lower.contains("could not translate host name")
            || lower.contains("could not connect") {
            kind = .unreachable
        } else if lower.contains("ssl") || lower.contains("certificate") {
            kind = .tls
        } else {
            kind = .other
        }
        return SourceError(kind, message)
    }

    static func writeTemporary(_ text: String) throws -> String {
        var template = Array("\(NSTemporaryDirectory())/assay-ca-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SourceError(.other, "cannot write the CA certificate") }
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// Runs a statement with text parameters; rows as optional strings.
    func query(_ sql: String, _ parameters: [String] = []) throws -> [[String?]] {
        let result: OpaquePointer? = withCStrings(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw SourceError(.query, String(cString: PQerrorMessage(connection))) }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_TUPLES_OK || PQresultStatus(result) == PGRES_COMMAND_OK else {
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            let state = PQresultErrorField(result, Int32(Character("C").asciiValue!)).map { String(cString: $0) } ?? ""
            throw SourceError(state == "57014" ? .timeout : .query, message)
        }
        let rows = Int(PQntuples(result)), columns = Int(PQnfields(result))
        return (0..<rows).map { row in
            (0..<columns).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1 ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            }
        }
    }

    func identifier(_ name: String) -> String {
        guard let quoted = PQescapeIdentifier(connection, name, name.utf8.count) else { return "\"\"" }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    func literal(_ value: String) -> String {
        guard let quoted = PQescapeLiteral(connection, value, value.utf8.count) else { return "NULL" }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    /// `COPY (SELECT …) TO STDOUT`: rows arrive already in COPY text format and are
    /// passed on in large chunks.
    func copy(_ table: SourceTableRef, columns: [ColumnMapping], filter: CursorFilter?,
              into sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> CopyCount {
        var select = "SELECT \(columns.map { identifier($0.name) }.joined(separator: ", ")) FROM "
            + "\(identifier(table.schema)).\(identifier(table.name))"
        if let filter {
            select += " WHERE \(identifier(filter.column)) IS NOT NULL"
            if let after = filter.after { select += " AND \(identifier(filter.column)) > \(literal(after))" }
        }
        guard let start = PQexec(connection, "COPY (\(select)) TO STDOUT") else {
            throw SourceError(.query, String(cString: PQerrorMessage(connection)))
        }
        guard PQresultStatus(start) == PGRES_COPY_OUT else {
            let message = String(cString: PQresultErrorMessage(start)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQclear(start)
            throw SourceError(.query, message)
        }
        PQclear(start)
        var writer = CopyTextWriter(sink: sink)
        var rows: Int64 = 0
        var failure: Error?
        while true {
            var data: UnsafeMutablePointer<CChar>?
            let count = PQgetCopyData(connection, &data, 0)
            if count > 0, let data {
                defer { PQfreemem(data) }
                rows += 1
                if failure == nil {
                    do { try writer.raw(UnsafeRawBufferPointer(start: data, count: Int(count))) } catch { failure = error }
                }
                continue
            }
            break
        }
        var problem: String?
        while let result = PQgetResult(connection) {
            if PQresultStatus(result) != PGRES_COMMAND_OK {
                problem = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            PQclear(result)
        }
        if let failure { throw failure }
        if let problem { throw SourceError(problem.contains("statement timeout") ? .timeout : .query, problem) }
        try writer.flush()
        return CopyCount(rows: rows, bytes: writer.bytes)
    }

    func serverInfo() throws -> ServerInfo {
        let start = DispatchTime.now()
        _ = try query("SELECT 1")
        let latency = SourceConnector.milliseconds(since: start)
        let version = PQparameterStatus(connection, "server_version").map { String(cString: $0) } ?? "unknown"
        return ServerInfo(version: "PostgreSQL \(version)", latencyMilliseconds: latency)
    }

    func schema() throws -> [SourceTable] {
        let rows = try query("""
            SELECT n.nspname, c.relname, c.relkind::text, c.reltuples::bigint, a.attname,
                   format_type(a.atttypid, a.atttypmod), NOT a.attnotnull,
                   COALESCE(a.attnum = ANY (i.indkey::int2[]), false)
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
            LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
              AND has_table_privilege(c.oid, 'SELECT')
            ORDER BY 1, 2, a.attnum
            """)
        var tables: [SourceTable] = []
        for row in rows {
            let schema = row[0] ?? "", name = row[1] ?? ""
            if tables.last?.schema != schema || tables.last?.name != name {
                let estimate = row[3].flatMap { Int64($0) }.flatMap { $0 < 0 ? nil : $0 }
                let kind = ["v", "m"].contains(row[2] ?? "") ? "view" : "table"
                tables.append(SourceTable(schema: schema, name: name, kind: kind, rowEstimate: estimate, columns: []))
            }
            tables[tables.count - 1].columns.append(SourceColumn(
                name: row[4] ?? "", type: row[5] ?? "", nullable: row[6] == "t", primaryKey: row[7] == "t"))
        }
        let keys = SourceKey.choose(from: try uniqueIndexColumns())
        for index in tables.indices {
            tables[index].key = keys[SourceTableRef(schema: tables[index].schema, name: tables[index].name)]
        }
        return tables
    }

    /// The key columns (not INCLUDE columns) of every valid primary key and unique index that
    /// is not partial, one row per column; an expression's position has no column.
    func uniqueIndexColumns() throws -> [SourceKey.IndexColumn] {
        try query("""
            SELECT n.nspname, c.relname, x.relname, i.indisprimary, s.pos, a.attname, COALESCE(a.attnotnull, false)
            FROM pg_index i
            JOIN pg_class c ON c.oid = i.indrelid
            JOIN pg_class x ON x.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            CROSS JOIN LATERAL generate_series(0, i.indnkeyatts - 1) s(pos)
            LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[s.pos] AND a.attnum > 0
            WHERE (i.indisprimary OR i.indisunique) AND i.indisvalid AND i.indpred IS NULL
              AND n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
              AND has_table_privilege(c.oid, 'SELECT')
            ORDER BY 1, 2, 3, 5
            """).map { row in
            SourceKey.IndexColumn(schema: row[0] ?? "", table: row[1] ?? "", index: row[2] ?? "", primary: row[3] == "t",
                                  position: Int(row[4] ?? "") ?? 0, column: row[5], notNull: row[6] == "t")
        }
    }
}

/// Passes Swift strings to C as `const char *const *`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    let constants = pointers.map { UnsafePointer($0) } + [nil]
    return constants.withUnsafeBufferPointer { body($0.baseAddress!) }
}
