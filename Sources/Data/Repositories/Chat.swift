import Foundation

public struct ChatConversationRecord: Sendable {
    public let id: UUID
    public let teamID: UUID
    /// What the conversation is about (`{"table_id"}`, `{"document_id"}`, `{"dashboard_id"}`), as JSON.
    public let subject: String
    public let title: String
    public let createdAt: Date
    public let updatedAt: Date

    init(_ row: Row) throws {
        id = try row.decode("id")
        teamID = try row.decode("team_id")
        subject = try row.decode("subject")
        title = try row.decode("title")
        createdAt = try row.decode("created_at")
        updatedAt = try row.decode("updated_at")
    }
}

public struct ChatTurnRecord: Sendable {
    public let position: Int
    public let question: String
    /// The answer as given, as JSON.
    public let answer: String
    public let createdAt: Date

    init(_ row: Row) throws {
        position = Int(try row.decode("position") as Int32)
        question = try row.decode("question")
        answer = try row.decode("answer")
        createdAt = try row.decode("created_at")
    }
}

/// Chat conversations and their turns.
public struct ChatRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    static let columns = SQL(unsafeSQL: "id, team_id, subject::text AS subject, title, created_at, updated_at")

    public func create(team: UUID, user: UUID?, subject: String, title: String) throws -> ChatConversationRecord {
        try ChatConversationRecord(db.query("""
            INSERT INTO chat_conversations (team_id, created_by, subject, title)
            VALUES (\(team), \(user), \(JSONText(subject))::jsonb, \(title))
            RETURNING \(ChatRepository.columns)
            """)[0])
    }

    public func find(id: UUID, team: UUID) throws -> ChatConversationRecord? {
        try db.query("SELECT \(ChatRepository.columns) FROM chat_conversations WHERE id = \(id) AND team_id = \(team)")
            .first.map(ChatConversationRecord.init)
    }

    /// Most recently active first, keyset-paginated on (updated_at, id).
    public func list(team: UUID, limit: Int, after cursor: (Date, UUID)?) throws -> [ChatConversationRecord] {
        var sql: SQL = "SELECT \(ChatRepository.columns) FROM chat_conversations WHERE team_id = \(team)"
        if let (time, id) = cursor { sql.append(" AND (updated_at, id) < (\(time)::timestamptz, \(id)::uuid)") }
        sql.append(" ORDER BY updated_at DESC, id DESC LIMIT \(limit)")
        return try db.query(sql).map(ChatConversationRecord.init)
    }

    /// The last `limit` turns, oldest first.
    public func turns(conversation: UUID, limit: Int) throws -> [ChatTurnRecord] {
        try db.query("""
            SELECT position, question, answer::text AS answer, created_at FROM (
                SELECT * FROM chat_turns WHERE conversation_id = \(conversation) ORDER BY position DESC LIMIT \(limit)) t
            ORDER BY position
            """).map(ChatTurnRecord.init)
    }

    /// Appends a turn (after the last one) and marks the conversation active; the position given.
    public func append(conversation: UUID, question: String, answer: String) throws -> Int {
        try db.transaction { db in
            let row = try db.query("""
                INSERT INTO chat_turns (conversation_id, position, question, answer)
                SELECT \(conversation), coalesce(max(position), 0) + 1, \(question), \(JSONText(answer))::jsonb
                FROM chat_turns WHERE conversation_id = \(conversation)
                RETURNING position
                """)[0]
            try db.query("UPDATE chat_conversations SET updated_at = now() WHERE id = \(conversation)")
            return Int(try row.decode("position") as Int32)
        }
    }

    public func delete(id: UUID, team: UUID) throws -> Bool {
        try db.query("DELETE FROM chat_conversations WHERE id = \(id) AND team_id = \(team) RETURNING id").count > 0
    }
}

/// The distinct values of a warehouse table's columns, for matching the words of a question
/// against what the table holds.
public struct WarehouseValuesRepository {
    let db: Database
    public init(_ db: Database) { self.db = db }

    /// Up to `limit` distinct non-null values of each column as text (numbers as PostgreSQL
    /// prints them, dates as ISO), and whether that was all of them. One read-only statement.
    public func distinctValues(tableName: String, columns: [String], limit: Int) throws -> [(values: [String], complete: Bool)] {
        guard !columns.isEmpty else { return [] }
        let parts: [SQL] = columns.map { name in
            """
            (SELECT coalesce(json_agg(v), '[]'::json) FROM (SELECT DISTINCT \(identifier: name)::text AS v
                FROM \(SQL.warehouseTable(tableName)) WHERE \(identifier: name) IS NOT NULL LIMIT \(limit + 1)) d)
            """
        }
        let text: String = try db.transaction { db in
            try db.query("SET TRANSACTION READ ONLY")
            try db.query("SELECT set_config('statement_timeout', '10000', true)")
            return try db.query("SELECT json_build_array(\(parts.joined(separator: ", ")))::text AS v")[0].decode("v")
        }
        guard let data = text.data(using: .utf8),
              let lists = try JSONSerialization.jsonObject(with: data) as? [[Any]] else { return [] }
        return lists.map { list in
            let values = list.compactMap { $0 as? String }
            return (Array(values.prefix(limit)), values.count <= limit)
        }
    }
}
