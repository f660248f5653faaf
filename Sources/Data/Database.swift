import CLibpq
import Foundation

/// One libpq connection, used by one process at a time (FastCGI and job workers are
/// single-threaded), so it is deliberately not `Sendable`.
///
/// Only `SQL` values can be executed: every interpolated value is a bind parameter.
/// A connection the server closed while it was idle is replaced before the next
/// statement; when the server goes away during a statement, a `SELECT` outside a
/// transaction is run again on a new connection, and anything else throws
/// `DataError.unavailable` (the HTTP layer answers 503) and the next call reconnects.
public final class Database {
    private var connection: OpaquePointer?
    private var transactionDepth = 0
    private let conninfo: String
    /// The session's `application_name` unless the URL names one: which kind of process it
    /// is, for `pg_stat_activity` (and for ending one kind's sessions on purpose).
    private let application: String
    /// Counts connections opened; a change means session state (LISTEN, SET) was lost.
    public private(set) var generation = 0

    /// The URL or conninfo it connects with, for a second connection to the same database.
    public var url: String { conninfo }

    /// Creates a handle; the connection opens on first use.
    public init(url: String, application: String = "assay") {
        conninfo = url
        self.application = application
    }

    deinit {
        if let connection { PQfinish(connection) }
    }

    /// Opens the connection now, or throws why it cannot.
    public func connect() throws {
        _ = try liveConnection()
    }

    /// Closes the connection; the next query opens a new one.
    public func close() {
        if let connection { PQfinish(connection) }
        connection = nil
    }

    private func liveConnection() throws -> OpaquePointer {
        if let connection, PQstatus(connection) == CONNECTION_OK {
            // An idle connection the server has closed since (a restart, an idle timeout)
            // is noticed here, before any statement is sent, so no request fails for it.
            let state = PQtransactionStatus(connection)
            if state == PQTRANS_INTRANS || state == PQTRANS_INERROR { return connection }
            // ACTIVE here means a COPY whose rows were never read (its response was never
            // sent): the connection cannot be used again, so it is replaced.
            if state == PQTRANS_IDLE, idleConnectionIsOpen(connection) { return connection }
        }
        close()
        // Assay's defaults come first; values in the URL (expanded from the last
        // "dbname" entry) override them.
        let keywords = ["connect_timeout", "options", "fallback_application_name", "dbname"]
        let values = ["5", "-c TimeZone=UTC -c client_encoding=UTF8 -c client_min_messages=warning", application, conninfo]
        let newConnection: OpaquePointer? = withCStringArray(keywords) { keys in
            withCStringArray(values) { vals in
                // expand_dbname = 1: the first "dbname" value may be a URL or conninfo.
                PQconnectdbParams(keys, vals, 1)
            }
        }
        guard let newConnection else { throw DataError.unavailable("out of memory") }
        guard PQstatus(newConnection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(newConnection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(newConnection)
            throw DataError.observed(.unavailable(message))
        }
        DatabaseNotices.route(newConnection)
        connection = newConnection
        generation += 1
        return newConnection
    }

    /// Whether an idle connection is still open, without waiting. Nothing waiting on the
    /// socket (one `poll`) means open. Otherwise what arrived is read (non-blocking), which
    /// also takes in notifications: a server that ends a session (pg_terminate_backend, an
    /// idle timeout) first sends a FATAL message, which one read takes, and then closes,
    /// which the second read sees.
    private func idleConnectionIsOpen(_ connection: OpaquePointer) -> Bool {
        var socket = pollfd(fd: PQsocket(connection), events: Int16(POLLIN), revents: 0)
        if poll(&socket, 1, 0) == 0 { return true }
        return PQconsumeInput(connection) != 0 && PQconsumeInput(connection) != 0 && PQstatus(connection) == CONNECTION_OK
    }

    /// Waits up to `timeout` seconds for a `NOTIFY` on a channel this connection
    /// listens to; returns the payloads received (empty on timeout). The wait also ends
    /// when `interrupt` (e.g. a signal handler's self-pipe) becomes readable.
    public func waitForNotifications(timeout: Double, interrupt: Int32 = -1) throws -> [String] {
        let conn = try liveConnection()
        var payloads = drainNotifications(conn)
        if !payloads.isEmpty { return payloads }
        var descriptors = [
            pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0),
            pollfd(fd: interrupt, events: Int16(POLLIN), revents: 0),
        ]
        let ready = poll(&descriptors, interrupt >= 0 ? 2 : 1, Int32(timeout * 1000))
        if ready > 0, descriptors[0].revents != 0 {
            if PQconsumeInput(conn) == 0 {
                let message = String(cString: PQerrorMessage(conn))
                close()
                throw DataError.unavailable(message)
            }
            payloads = drainNotifications(conn)
        }
        return payloads
    }

    /// The `NOTIFY` payloads that have arrived on this connection since last asked,
    /// without waiting or a round trip.
    public func receivedNotifications() throws -> [String] {
        let conn = try liveConnection()
        return drainNotifications(conn)
    }

    private func drainNotifications(_ conn: OpaquePointer) -> [String] {
        var payloads: [String] = []
        while let notification = PQnotifies(conn) {
            payloads.append(String(cString: notification.pointee.extra))
            PQfreemem(notification)
        }
        return payloads
    }

    /// Runs a statement and returns its rows. `prepared` keeps the statement parsed and
    /// planned on this connection (a server-side prepared statement named by its text), for
    /// the few statements every request runs: authentication, quotas, table lookups.
    ///
    /// A `SELECT` outside a transaction whose connection is lost while it runs (the server
    /// ended the session between the liveness check and the statement, or during it) is run
    /// once more on a new connection: reading twice is harmless, and the request does not
    /// fail for a restart or an idle timeout. Anything else fails as `unavailable`, never
    /// repeated, since the server may have committed it before the connection went.
    @discardableResult
    public func query(_ sql: SQL, prepared: Bool = false) throws -> Rows {
        let generationBefore = generation
        let conn = try liveConnection()
        do {
            return try run(sql, prepared: prepared, on: conn)
        } catch DataError.unavailable where transactionDepth == 0 && connection == nil
                    && generation == generationBefore && Database.isRead(sql.text) {
            // Not when the connection was opened for this statement (the server is down) or
            // is still open (the failure was the statement's own).
            return try run(sql, prepared: prepared, on: liveConnection())
        }
    }

    /// Whether a statement only reads: its first word is `SELECT` (Assay's statements that
    /// write are INSERT, UPDATE, DELETE or a data-modifying `WITH`).
    public static func isRead(_ text: String) -> Bool {
        let firstWord = text.drop { $0.isWhitespace }.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return firstWord.lowercased() == "select"
    }

    private func run(_ sql: SQL, prepared: Bool, on conn: OpaquePointer) throws -> Rows {
        let binds = sql.binds
        let text = sql.text
        if prepared {
            let name = try preparedName(text, parameters: binds.count, connection: conn)
            let result: OpaquePointer? = withOptionalCStringArray(binds) { values in
                PQexecPrepared(conn, name, Int32(binds.count), values, nil, nil, 0)
            }
            return try check(result, connection: conn)
        }
        let result: OpaquePointer? = withOptionalCStringArray(binds) { values in
            PQexecParams(conn, text, Int32(binds.count), nil, values, nil, nil, 0)
        }
        return try check(result, connection: conn)
    }

    /// Statements prepared on the current connection (`generation`), by text.
    private var preparedStatements: [String: String] = [:]
    private var preparedGeneration = -1

    private func preparedName(_ text: String, parameters: Int, connection conn: OpaquePointer) throws -> String {
        if preparedGeneration != generation {
            preparedStatements.removeAll()
            preparedGeneration = generation
        }
        if let name = preparedStatements[text] { return name }
        let name = "assay_\(preparedStatements.count)"
        _ = try check(PQprepare(conn, name, text, Int32(parameters), nil), connection: conn)
        preparedStatements[text] = name
        return name
    }

    /// Runs `COPY … FROM STDIN` (a statement without parameters) and hands `feed` a
    /// writer for the data in COPY's text format; nothing is buffered here. When `feed`
    /// throws, the COPY is cancelled (no row lands) and the error rethrown.
    public func copyIn(_ statement: SQL, feed: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        precondition(statement.binds.isEmpty, "COPY takes no parameters")
        let conn = try liveConnection()
        let start = PQexec(conn, statement.text)
        guard let start, PQresultStatus(start) == PGRES_COPY_IN else {
            _ = try check(start, connection: conn)
            throw DataError.server(sqlState: "", message: "COPY did not start", detail: "")
        }
        PQclear(start)
        var failure: Error?
        do {
            try feed { chunk in
                guard chunk.count > 0 else { return }
                let sent = chunk.withMemoryRebound(to: CChar.self) { PQputCopyData(conn, $0.baseAddress, Int32($0.count)) }
                if sent != 1 {
                    throw DataError.unavailable(String(cString: PQerrorMessage(conn)))
                }
            }
        } catch {
            failure = error
        }
        _ = PQputCopyEnd(conn, failure == nil ? nil : "cancelled by the source")
        var problem: Error?
        while let result = PQgetResult(conn) {
            do { _ = try check(result, connection: conn) } catch { problem = problem ?? error }
        }
        if let failure { throw failure }
        if let problem { throw problem }
    }

    /// Starts `COPY … TO STDOUT` (a statement without parameters): a bad statement, a
    /// missing table or a privilege problem throws here, before anything is sent to a
    /// client; the rows are read with `drain` (nothing else may use the connection until then).
    public func startCopyOut(_ statement: SQL) throws -> CopyOut {
        precondition(statement.binds.isEmpty, "COPY takes no parameters")
        let conn = try liveConnection()
        let start = PQexec(conn, statement.text)
        guard let start, PQresultStatus(start) == PGRES_COPY_OUT else {
            _ = try check(start, connection: conn)
            throw DataError.server(sqlState: "", message: "COPY did not start", detail: "")
        }
        PQclear(start)
        return CopyOut(database: self, connection: conn)
    }

    /// Runs `COPY … TO STDOUT` and hands each data row to `consume` as it arrives.
    public func copyOut(_ statement: SQL, consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        try startCopyOut(statement).drain(consume)
    }

    /// A started `COPY … TO STDOUT`.
    public final class CopyOut {
        let database: Database
        let connection: OpaquePointer

        init(database: Database, connection: OpaquePointer) {
            self.database = database
            self.connection = connection
        }

        /// Hands each data row to `consume`; when it throws, the rest is drained unread.
        public func drain(_ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
            var failure: Error?
            while true {
                var data: UnsafeMutablePointer<CChar>?
                let count = PQgetCopyData(connection, &data, 0)
                guard count > 0, let data else { break }
                if failure == nil {
                    do { try consume(UnsafeRawBufferPointer(start: data, count: Int(count))) } catch { failure = error }
                }
                PQfreemem(data)
            }
            var problem: Error?
            while let result = PQgetResult(connection) {
                do { _ = try database.check(result, connection: connection) } catch { problem = problem ?? error }
            }
            if let failure { throw failure }
            if let problem { throw problem }
        }
    }

    /// Runs several statements in one round trip without parameters (migrations).
    public func execute(unsafeScript script: String) throws {
        let conn = try liveConnection()
        _ = try check(PQexec(conn, script), connection: conn)
    }

    /// Runs `body` in a transaction: committed when it returns, rolled back when it throws.
    /// A transaction inside a transaction joins the outer one.
    public func transaction<T>(_ body: (Database) throws -> T) throws -> T {
        if transactionDepth > 0 {
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            return try body(self)
        }
        transactionDepth = 1
        defer { transactionDepth = 0 }
        try query("BEGIN")
        do {
            let value = try body(self)
            try query("COMMIT")
            return value
        } catch {
            if let connection, PQstatus(connection) == CONNECTION_OK {
                _ = try? query("ROLLBACK")
            }
            throw error
        }
    }

    fileprivate func check(_ result: OpaquePointer?, connection conn: OpaquePointer) throws -> Rows {
        guard let result else {
            let message = String(cString: PQerrorMessage(conn))
            if PQstatus(conn) != CONNECTION_OK { close() }
            throw DataError.observed(.unavailable(message))
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_COPY_IN, PGRES_COPY_OUT:
            return Rows(result: result)
        default:
            defer { PQclear(result) }
            if PQstatus(conn) != CONNECTION_OK {
                let message = String(cString: PQerrorMessage(conn))
                close()
                throw DataError.observed(.unavailable(message.trimmingCharacters(in: .whitespacesAndNewlines)))
            }
            func field(_ code: Character) -> String {
                guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return "" }
                return String(cString: value)
            }
            let state = field("C")
            let message = field("M")
            let detail = field("D")
            let constraint = field("n")
            switch state {
            case "23505": throw DataError.observed(.uniqueViolation(constraint: constraint, detail: detail))
            case "23503": throw DataError.observed(.foreignKeyViolation(constraint: constraint, detail: detail))
            // Connection-class errors and "server shutting down" mean the database is unavailable.
            case _ where state.hasPrefix("08"), "57P01", "57P02", "57P03":
                close()
                throw DataError.observed(.unavailable(message))
            default:
                throw DataError.observed(.server(sqlState: state, message: message, detail: detail))
            }
        }
    }
}

/// Passes Swift strings to C as a NULL-terminated `char *[]`.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    withOptionalCStringArray(strings.map { Optional($0) }, body)
}

/// Like `withCStringArray`, with `nil` entries passed as NULL pointers.
func withOptionalCStringArray<R>(_ strings: [String?], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { $0.map { strdup($0)! } }
    defer { pointers.forEach { free($0) } }
    let constPointers = pointers.map { UnsafePointer($0) } + [nil]
    return constPointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Where the server's notices and warnings on a connection go. libpq prints them to stderr;
/// Assay's processes set `handler` to log them (FCGIApp). The text has no trailing newline.
public enum DatabaseNotices {
    nonisolated(unsafe) public static var handler: (String) -> Void = { message in
        FileHandle.standardError.write(Data((message + "\n").utf8))
    }

    /// Sends `connection`'s notices to `handler` (a PGconn of this module or of Connectors).
    public static func route(_ connection: OpaquePointer) {
        PQsetNoticeProcessor(connection, { _, message in
            guard let message else { return }
            DatabaseNotices.handler(String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines))
        }, nil)
    }
}
