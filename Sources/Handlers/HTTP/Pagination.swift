import Data
import Foundation
import JSONValues

/// Keyset pagination on (created_at, id), newest first: `limit` and an opaque `cursor`
/// in the query, `next_cursor` in the answer.
struct Pagination {
    let limit: Int
    let cursor: (Date, UUID)?

    /// Reads `limit` (1…`maxLimit`, default `defaultLimit`) and `cursor`; problems are
    /// added to `problems` so one 422 can name every bad parameter.
    init(_ request: Request, defaultLimit: Int = 20, maxLimit: Int = 100, problems: inout [(String, String)]) {
        var limit = defaultLimit
        if let raw = request.query["limit"] {
            if let value = Int(raw), (1...maxLimit).contains(value) {
                limit = value
            } else {
                problems.append(("limit", "must be between 1 and \(maxLimit)"))
            }
        }
        var cursor: (Date, UUID)?
        if let raw = request.query["cursor"], !raw.isEmpty {
            if let decoded = Base64URL.decode(raw).map({ String(decoding: $0, as: UTF8.self) }),
               let bar = decoded.firstIndex(of: "|"), let time = PostgresTime.parse(String(decoded[..<bar])),
               let id = UUID(uuidString: String(decoded[decoded.index(after: bar)...])) {
                cursor = (time, id)
            } else {
                problems.append(("cursor", "is not a cursor from next_cursor"))
            }
        }
        self.limit = limit
        self.cursor = cursor
    }

    /// The page (rows were fetched with `limit + 1`) and its `next_cursor`.
    func page<T>(_ rows: [T], key: (T) -> (Date, UUID)) -> (items: [T], next: JSON) {
        let items = Array(rows.prefix(limit))
        guard rows.count > limit, let last = items.last else { return (items, .null) }
        let (time, id) = key(last)
        return (items, .string(Base64URL.encode(Array("\(PostgresTime.format(time))|\(id.lower)".utf8))))
    }
}
