/// Errors from the database layer. `description` is safe to show to users;
/// `debugDescription` carries the server's detail for logs.
public enum DataError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable {
    /// The database could not be reached (connect failed, or the connection broke).
    case unavailable(String)
    /// A unique constraint was violated; `constraint` names it.
    case uniqueViolation(constraint: String, detail: String)
    /// A foreign key was violated; `constraint` names it.
    case foreignKeyViolation(constraint: String, detail: String)
    /// The server reported an error with this SQLSTATE.
    case server(sqlState: String, message: String, detail: String)
    /// A column could not be decoded into the requested Swift type.
    case decoding(column: String, expected: String, found: String)
    /// Migrations could not be applied or the database is ahead of this build.
    case migration(String)

    public var description: String {
        switch self {
        case .unavailable: "the database is unavailable"
        case .uniqueViolation(let constraint, _): "unique constraint \(constraint) violated"
        case .foreignKeyViolation(let constraint, _): "foreign key \(constraint) violated"
        case .server(let state, _, _): "database error \(state)"
        case .decoding(let column, let expected, _): "column \(column) is not a \(expected)"
        case .migration(let message): message
        }
    }

    public var debugDescription: String {
        switch self {
        case .unavailable(let message): "database unavailable: \(message)"
        case .uniqueViolation(let constraint, let detail): "unique violation \(constraint): \(detail)"
        case .foreignKeyViolation(let constraint, let detail): "foreign key violation \(constraint): \(detail)"
        case .server(let state, let message, let detail): "\(state): \(message) \(detail)"
        case .decoding(let column, let expected, let found): "column \(column): expected \(expected), found \(found)"
        case .migration(let message): message
        }
    }
}

extension DataError {
    /// The error's kind as one word, for counting: `unavailable`, `unique_violation`,
    /// `foreign_key_violation`, `server`, `decoding`, `migration`.
    public var kind: String {
        switch self {
        case .unavailable: "unavailable"
        case .uniqueViolation: "unique_violation"
        case .foreignKeyViolation: "foreign_key_violation"
        case .server: "server"
        case .decoding: "decoding"
        case .migration: "migration"
        }
    }

    /// Called with each error a connection reports, just before it is thrown. The pool sets
    /// it to count database errors, so Data needs no metrics module; set it once, before any
    /// thread exists.
    nonisolated(unsafe) public static var observer: (@Sendable (DataError) -> Void)?

    /// `error`, after telling the observer.
    static func observed(_ error: DataError) -> DataError {
        observer?(error)
        return error
    }
}
