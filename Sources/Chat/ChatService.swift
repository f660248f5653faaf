import Data
import Foundation
import Integrations
import JSONValues
import Query

/// What a question is about.
public enum ChatSubject: Sendable {
    case table(UUID)
    /// The warehouse tables extracted from a document.
    case document(UUID)
    /// The tables a dashboard's widgets read.
    case dashboard(UUID)

    var json: JSON {
        switch self {
        case .table(let id): ["table_id": .string(id.lower)]
        case .document(let id): ["document_id": .string(id.lower)]
        case .dashboard(let id): ["dashboard_id": .string(id.lower)]
        }
    }

    init?(_ json: JSON) {
        func id(_ key: String) -> UUID? { if case .string(let text)? = json[key] { UUID(uuidString: text) } else { nil } }
        if let table = id("table_id") { self = .table(table) }
        else if let document = id("document_id") { self = .document(document) }
        else if let dashboard = id("dashboard_id") { self = .dashboard(dashboard) }
        else { return nil }
    }
}

public enum ChatFailure: Error, Sendable {
    /// The subject (field named) is not one of the team's.
    case noSuchSubject(field: String)
    /// The subject has no warehouse tables yet (a document still extracting, a dashboard without widgets).
    case noTables(String)
    case noSuchConversation
    /// The conversation is about something else than the subject given.
    case conversationMismatch
}

/// Answers questions about a team's tables: reads the question (an LLM's query spec when one is
/// configured and answers well, else the `QuestionParser`), runs it through the query layer,
/// says what it found, and keeps the turn in the conversation.
public struct ChatService {
    /// Turns read back for follow-ups and shown in a conversation.
    public static let historyLimit = 50

    let db: Database
    let llm: LLMSettings?

    public init(_ db: Database, llm: LLMSettings?) {
        self.db = db
        self.llm = llm
    }

    public func ask(_ question: String, subject: ChatSubject?, conversation conversationID: UUID?, team: UUID, user: UUID?,
                    today: Date = Date()) throws -> JSON {
        let started = DispatchTime.now()
        let chats = ChatRepository(db)
        var conversation: ChatConversationRecord?
        var previous: JSON?
        var subject = subject
        if let conversationID {
            guard let found = try chats.find(id: conversationID, team: team) else { throw ChatFailure.noSuchConversation }
            let kept = (try? JSON.parse(Array(found.subject.utf8))).flatMap(ChatSubject.init)
            if let subject, let kept, subject.json != kept.json { throw ChatFailure.conversationMismatch }
            subject = subject ?? kept
            conversation = found
            if let last = try chats.turns(conversation: found.id, limit: 1).last {
                previous = try? JSON.parse(Array(last.answer.utf8))
            }
        }
        guard let subject else { throw ChatFailure.noSuchSubject(field: "table_id") }
        let tables = try self.tables(for: subject, team: team)

        var reply = try answer(question, tables: tables, previous: previous, team: team, today: today)
        if conversation == nil {
            let title = question.count > 80 ? String(question.prefix(79)) + "…" : question
            conversation = try chats.create(team: team, user: user, subject: subject.json.serializedText, title: title)
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000
        reply.insert(("duration_ms", .double((elapsed * 100).rounded() / 100)), at: 0)
        let position = try chats.append(conversation: conversation!.id, question: question, answer: JSON.object(reply).serializedText)
        return .object([("conversation_id", .string(conversation!.id.lower)), ("turn", .int(Int64(position))),
                        ("question", .string(question))] + reply)
    }

    /// A conversation and its turns, oldest first; nil when the team has no such conversation.
    public func conversation(_ id: UUID, team: UUID) throws -> JSON? {
        let chats = ChatRepository(db)
        guard let found = try chats.find(id: id, team: team) else { return nil }
        let turns = try chats.turns(conversation: id, limit: ChatService.historyLimit)
        return [
            "id": .string(found.id.lower), "title": .string(found.title),
            "subject": (try? JSON.parse(Array(found.subject.utf8))) ?? .null,
            "created_at": .string(PostgresTime.format(found.createdAt)),
            "updated_at": .string(PostgresTime.format(found.updatedAt)),
            "turns": .array(turns.map { turn in
                [
                    "turn": .int(Int64(turn.position)), "question": .string(turn.question),
                    "asked_at": .string(PostgresTime.format(turn.createdAt)),
                    "reply": (try? JSON.parse(Array(turn.answer.utf8))) ?? .null,
                ]
            }),
        ]
    }

    func tables(for subject: ChatSubject, team: UUID) throws -> [WarehouseTableRef] {
        let catalog = WarehouseCatalogRepository(db)
        switch subject {
        case .table(let id):
            guard let table = try catalog.table(id: id, team: team) else { throw ChatFailure.noSuchSubject(field: "table_id") }
            return [table]
        case .document(let id):
            guard try DocumentRepository(db).find(id: id, team: team) != nil else { throw ChatFailure.noSuchSubject(field: "document_id") }
            let tables = try catalog.tables(from: id, team: team)
            if tables.isEmpty { throw ChatFailure.noTables("the document has no tables (yet): ask again when its extraction is done") }
            return tables
        case .dashboard(let id):
            guard let dashboard = try DashboardRepository(db).find(id: id, team: team) else { throw ChatFailure.noSuchSubject(field: "dashboard_id") }
            var ids: [UUID] = []
            if case .array(let widgets)? = (try? JSON.parse(Array(dashboard.config.utf8)))?["widgets"] {
                for widget in widgets {
                    if case .string(let text)? = widget["table"], let id = UUID(uuidString: text), !ids.contains(id) { ids.append(id) }
                }
            }
            let tables = try catalog.tables(ids: ids, team: team)
            if tables.isEmpty { throw ChatFailure.noTables("the dashboard has no widgets over a table") }
            return tables
        }
    }

    // MARK: Answering

    /// The reply's members (without the conversation's).
    func answer(_ question: String, tables: [WarehouseTableRef], previous: JSON?, team: UUID, today: Date) throws -> [(String, JSON)] {
        let vocabularies = try tables.map { try VocabularyCache.shared.vocabulary(for: $0, db: db) }
        var fallback: String?
        if let llm {
            do {
                return try LLMQuestionReader(settings: llm).answer(question, tables: tables, vocabularies: vocabularies,
                                                                    previous: previous, db: db, team: team, today: today)
            } catch {
                fallback = "\(error)"
            }
        }
        // The parser: the table whose words the question matches best.
        var best: (index: Int, reading: Interpretation, score: Double)?
        for (index, vocabulary) in vocabularies.enumerated() {
            var reading = QuestionParser(vocabulary).interpret(question, today: today)
            if let previous, case .string(let id)? = previous["table"]?["id"], id == tables[index].id.lower {
                reading = FollowUp.merge(reading, previous: previous, table: vocabulary, question: question)
            }
            let score = (reading.answerable ? 10 : 0) + reading.confidence + 0.05 * Double(reading.conditions.count)
                + (reading.selectNamed ? 0.2 : 0)
            if best == nil || score > best!.score { best = (index, reading, score) }
        }
        guard let (index, reading, _) = best else { throw ChatFailure.noTables("no tables to ask") }
        let table = tables[index], vocabulary = vocabularies[index]
        var reply: [(String, JSON)] = [("method", "parser")]
        if let fallback { reply.append(("llm_fallback", .string(fallback))) }
        reply.append(("table", ["id": .string(table.id.lower), "name": .string(table.tableName)]))
        reply.append(("understood", FollowUp.understood(reading, table: vocabulary)))
        func unanswered(_ problem: String) -> [(String, JSON)] {
            reply + [
                ("answered", false),
                ("answer", ["text": .string("I could not answer that from \(table.tableName): \(problem)."), "values": []]),
                ("confidence", 0),
            ]
        }
        guard reading.answerable else { return unanswered(reading.problem ?? "") }
        let spec = ChatQuery.spec(reading, table: vocabulary)
        let result: QueryResult
        do {
            result = try QueryRunner(db).run(spec, on: table, team: team, today: today)
        } catch let failure as ValidationFailure {
            // A reading the query layer refuses is a question not understood, not a bad request.
            return unanswered("the question reads as a query this table cannot run (\(failure.fields.map { "\($0.0) \($0.1)" }.joined(separator: "; ")))")
        }
        let answer = ChatQuery.answer(reading, result: result, table: vocabulary)
        return reply + ChatService.members(answer: answer, spec: spec, result: result,
                                           confidence: max(0.05, min(1, reading.confidence)))
    }

    static func members(answer: ChatQuery.Answer, spec: JSON, result: QueryResult, confidence: Double) -> [(String, JSON)] {
        var body: [(String, JSON)] = [("text", .string(answer.text)), ("values", .array(answer.values))]
        body.append(("columns", .array(answer.columns)))
        body.append(("rows", .array(answer.rows.map { .array($0) })))
        if let chart = answer.chart { body.append(("chart", chart)) }
        return [
            ("answered", true), ("answer", .object(body)), ("query", spec), ("sql", .string(result.sql)),
            ("parameters", .array(result.parameters.map { JSON($0) })), ("truncated", .bool(result.truncated)),
            ("confidence", .double((confidence * 100).rounded() / 100)),
        ]
    }
}

/// Per process: each table's vocabulary, until the table changes (its row count, columns,
/// creation or last sync differ).
final class VocabularyCache: @unchecked Sendable {
    static let shared = VocabularyCache()
    static let capacity = 16

    private let lock = NSLock()
    private var entries: [UUID: (fingerprint: String, vocabulary: TableVocabulary, used: UInt64)] = [:]
    private var clock: UInt64 = 0

    func vocabulary(for table: WarehouseTableRef, db: Database) throws -> TableVocabulary {
        let fingerprint = "\(table.rowCount)|\(table.columns)|\(table.createdAt.timeIntervalSince1970)|\(table.lastSyncAt?.timeIntervalSince1970 ?? 0)"
        if let kept = lock.withLock({ () -> TableVocabulary? in
            guard let entry = entries[table.id], entry.fingerprint == fingerprint else { return nil }
            clock += 1
            entries[table.id]?.used = clock
            return entry.vocabulary
        }) {
            return kept
        }
        let columns = QueryColumn.list(fromCatalog: table.columns)
        let distinct = try WarehouseValuesRepository(db).distinctValues(tableName: table.tableName, columns: columns.map(\.name),
                                                                       limit: TableVocabulary.valueLimit)
        let vocabulary = TableVocabulary(columns: columns, distinct: distinct)
        lock.withLock {
            clock += 1
            entries[table.id] = (fingerprint, vocabulary, clock)
            if entries.count > VocabularyCache.capacity, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
                entries.removeValue(forKey: oldest)
            }
        }
        return vocabulary
    }
}
