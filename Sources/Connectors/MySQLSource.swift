import CMariaDB
import Foundation

/// A source MySQL or MariaDB database through libmariadb (MariaDB Connector/C).
final class MySQLSource: SourceDatabase {
    private let handle: UnsafeMutablePointer<MYSQL>

    init(_ settings: SourceSettings) throws {
        guard let handle = mysql_init(nil) else { throw SourceError(.other, "out of memory") }
        var timeout = UInt32(max(2, settings.connectTimeout))
        var readTimeout = UInt32(max(10, settings.statementTimeout))
        // TCP only: a host of "localhost" must never mean the local unix socket.
        var proto = UInt32(MYSQL_PROTOCOL_TCP.rawValue)
        var off: UInt8 = 0
        mysql_options(handle, MYSQL_OPT_CONNECT_TIMEOUT, &timeout)
        mysql_options(handle, MYSQL_OPT_READ_TIMEOUT, &readTimeout)
        mysql_options(handle, MYSQL_OPT_WRITE_TIMEOUT, &readTimeout)
        mysql_options(handle, MYSQL_OPT_PROTOCOL, &proto)
        mysql_options(handle, MYSQL_OPT_LOCAL_INFILE, &off)
        mysql_options(handle, MYSQL_SET_CHARSET_NAME, "utf8mb4")
        var caFile: String?
        defer { if let caFile { unlink(caFile) } }
        if settings.sslmode != "disable" && settings.sslmode != "prefer" {
            var on: UInt8 = 1
            mysql_options(handle, MYSQL_OPT_SSL_ENFORCE, &on)
            if settings.sslmode == "verify-ca" || settings.sslmode == "verify-full" {
                mysql_options(handle, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on)
            }
            if let pem = settings.caCertificate {
                caFile = try PostgresSource.writeTemporary(pem)
                mysql_options(handle, MYSQL_OPT_SSL_CA, caFile)
            }
        }
        guard mysql_real_connect(handle, settings.address, settings.username, settings.password,
                                 settings.database.isEmpty ? nil : settings.database,
                                 UInt32(settings.port), nil, 0) != nil else {
            let code = mysql_errno(handle)
            var error = MySQLSource.classify(code: code, message: String(cString: mysql_error(handle)))
            mysql_close(handle)
            // MySQL answers "access denied to database" for a database that does not
            // exist too; a second look without one tells the two apart.
            if Int32(code) == ER_DBACCESS_DENIED_ERROR, MySQLSource.databaseIsMissing(settings) {
                error = SourceError(.databaseMissing, "database \(settings.database) does not exist (or this user cannot see it)")
            }
            throw error
        }
        self.handle = handle
        // A read-only session whose statements are bounded (MariaDB's variable, else MySQL's).
        _ = try execute("SET SESSION TRANSACTION READ ONLY")
        _ = try execute("SET time_zone = '+00:00'")
        do {
            _ = try execute("SET SESSION max_statement_time = \(settings.statementTimeout)")
        } catch {
            _ = try? execute("SET SESSION max_execution_time = \(settings.statementTimeout * 1000)")
        }
    }

    deinit { mysql_close(handle) }

    static func databaseIsMissing(_ settings: SourceSettings) -> Bool {
        var without = settings
        without.database = ""
        guard let probe = try? MySQLSource(without) else { return false }
        let rows = (try? probe.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = \(probe.literal(settings.database))")) ?? [[]]
        return rows.isEmpty
    }

    static func classify(code: UInt32, message: String) -> SourceError {
        let kind: SourceError.Kind
        switch Int32(code) {
        case ER_ACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR, 1698 /* ER_ACCESS_DENIED_NO_PASSWORD_ERROR */:
            kind = .authenticationFailed
        case ER_BAD_DB_ERROR:
            kind = .databaseMissing
        case CR_CONN_HOST_ERROR, CR_UNKNOWN_HOST, CR_CONNECTION_ERROR, CR_SERVER_LOST, CR_SERVER_GONE_ERROR:
            // errno 110 is ETIMEDOUT: the server accepted but never answered in time.
            let lower = message.lowercased()
            kind = lower.contains("timed out") || lower.contains("timeout") || lower.contains("error: 110") || lower.contains("(110)")
                ? .timeout : .unreachable
        case CR_SSL_CONNECTION_ERROR:
            kind = .tls
        default:
            kind = .other
        }
        return SourceError(kind, message)
    }

    /// Runs a statement; its rows as optional strings (none for statements without).
    func execute(_ sql: String) throws -> [[String?]] {
        guard mysql_real_query(handle, sql, UInt(sql.utf8.count)) == 0 else {
            let code = mysql_errno(handle)
            let message = String(cString: mysql_error(handle))
            throw SourceError(code == 1969 || code == 3024 ? .timeout : .query, message)
        }
        guard let result = mysql_store_result(handle) else {
            if mysql_field_count(handle) == 0 { return [] }
            throw SourceError(.query, String(cString: mysql_error(handle)))
        }
        defer { mysql_free_result(result) }
        let columns = Int(mysql_num_fields(result))
        var rows: [[String?]] = []
        while let row = mysql_fetch_row(result) {
            let lengths = mysql_fetch_lengths(result)
            rows.append((0..<columns).map { index in
                guard let value = row[index] else { return nil }
                let length = Int(lengths?[index] ?? 0)
                return String(decoding: UnsafeRawBufferPointer(start: value, count: length), as: UTF8.self)
            })
        }
        return rows
    }

    func identifier(_ name: String) -> String {
        "`" + name.replacingOccurrences(of: "`", with: "``") + "`"
    }

    func literal(_ value: String) -> String {
        let bytes = Array(value.utf8)
        var out = [CChar](repeating: 0, count: bytes.count * 2 + 1)
        let length = mysql_real_escape_string(handle, &out, value, UInt(bytes.count))
        return "'" + String(decoding: out.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) + "'"
    }

    /// An unbuffered SELECT (rows are read as they arrive), converted row by row to COPY text.
    func copy(_ table: SourceTableRef, columns: [ColumnMapping], filter: CursorFilter?,
              into sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> CopyCount {
        var select = "SELECT \(columns.map { identifier($0.name) }.joined(separator: ", ")) FROM "
            + "\(identifier(table.schema)).\(identifier(table.name))"
        if let filter {
            select += " WHERE \(identifier(filter.column)) IS NOT NULL"
            if let after = filter.after { select += " AND \(identifier(filter.column)) > \(literal(after))" }
        }
        guard mysql_real_query(handle, select, UInt(select.utf8.count)) == 0 else {
            let code = mysql_errno(handle)
            throw SourceError(code == 1969 || code == 3024 ? .timeout : .query, String(cString: mysql_error(handle)))
        }
        guard let result = mysql_use_result(handle) else { throw SourceError(.query, String(cString: mysql_error(handle))) }
        defer { mysql_free_result(result) }
        var writer = CopyTextWriter(sink: sink)
        var rows: Int64 = 0
        let conversions = columns.map(\.conversion)
        while let row = mysql_fetch_row(result) {
            guard let lengths = mysql_fetch_lengths(result) else { break }
            for index in conversions.indices {
                let value = row[index].map { UnsafeRawBufferPointer(start: $0, count: Int(lengths[index])) }
                writer.field(value, conversion: conversions[index], first: index == 0)
            }
            try writer.endRow()
            rows += 1
        }
        if mysql_errno(handle) != 0 {
            let code = mysql_errno(handle)
            throw SourceError(code == 1969 || code == 3024 ? .timeout : .query, String(cString: mysql_error(handle)))
        }
        try writer.flush()
        return CopyCount(rows: rows, bytes: writer.bytes)
    }

    func serverInfo() throws -> ServerInfo {
        let start = DispatchTime.now()
        _ = try execute("SELECT 1")
        let latency = SourceConnector.milliseconds(since: start)
        let version = String(cString: mysql_get_server_info(handle))
        let flavour = version.lowercased().contains("mariadb") ? "MariaDB" : "MySQL"
        return ServerInfo(version: "\(flavour) \(version)", latencyMilliseconds: latency)
    }

    func schema() throws -> [SourceTable] {
        let rows = try execute("""
            SELECT c.TABLE_SCHEMA, c.TABLE_NAME, t.TABLE_TYPE, t.TABLE_ROWS, c.COLUMN_NAME, c.COLUMN_TYPE,
                   c.IS_NULLABLE, c.COLUMN_KEY
            FROM information_schema.COLUMNS c
            JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
            WHERE c.TABLE_SCHEMA = DATABASE()
            ORDER BY c.TABLE_SCHEMA, c.TABLE_NAME, c.ORDINAL_POSITION
            """)
        var tables: [SourceTable] = []
        for row in rows {
            let schema = row[0] ?? "", name = row[1] ?? ""
            if tables.last?.schema != schema || tables.last?.name != name {
                let kind = (row[2] ?? "").uppercased().contains("VIEW") ? "view" : "table"
                tables.append(SourceTable(schema: schema, name: name, kind: kind, rowEstimate: row[3].flatMap { Int64($0) },
                                          columns: []))
            }
            tables[tables.count - 1].columns.append(SourceColumn(
                name: row[4] ?? "", type: row[5] ?? "", nullable: row[6] == "YES", primaryKey: row[7] == "PRI"))
        }
        let keys = SourceKey.choose(from: try uniqueIndexColumns())
        for index in tables.indices {
            tables[index].key = keys[SourceTableRef(schema: tables[index].schema, name: tables[index].name)]
        }
        return tables
    }

    /// The columns of the connection's database's PRIMARY and UNIQUE keys, one row per
    /// column (MySQL 8's functional key parts have no column).
    func uniqueIndexColumns() throws -> [SourceKey.IndexColumn] {
        try execute("""
            SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NULLABLE
            FROM information_schema.STATISTICS
            WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0
            ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
            """).map { row in
            SourceKey.IndexColumn(schema: row[0] ?? "", table: row[1] ?? "", index: row[2] ?? "", primary: row[2] == "PRIMARY",
                                  position: Int(row[3] ?? "") ?? 0, column: row[4], notNull: (row[5] ?? "") != "YES")
        }
    }
}
