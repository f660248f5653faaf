import Chat
import Data
import Foundation
import JSONValues
import Query

/// Questions in plain words (the seed's `POST /chat/ask`), answered from a table, a document's
/// tables or a dashboard's, and the conversations they make.
struct ChatRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    func register(on router: Router) {
        router.post("/api/chat/ask", access.protect(scope: .chat, quota: .chat, ask))
        router.get("/api/chat/conversations", access.protect(scope: .chat, list))
        router.get("/api/chat/conversations/{id}", access.protect(scope: .chat, show))
        router.delete("/api/chat/conversations/{id}", access.protect(scope: .chat, remove))
    }

    func ask(_ request: Request, _ principal: Principal) throws -> Response {
        var body = try request.jsonObject(limit: context.settings.maxJSONBody)
        let question = body.string("question", minLength: 1, maxLength: 1000)
        func uuid(_ field: String) -> UUID? {
            guard let raw = body.string(field, required: false, maxLength: 64) else { return nil }
            guard let id = UUID(uuidString: raw) else { body.fail(field, "must be a UUID"); return nil }
            return id
        }
        let tableID = uuid("table_id"), documentID = uuid("document_id"), dashboardID = uuid("dashboard_id")
        let conversationID = uuid("conversation_id")
        let given = [body.has("table_id"), body.has("document_id"), body.has("dashboard_id")].filter { $0 }.count
        if given > 1 { body.fail("table_id", "give one of table_id, document_id or dashboard_id") }
        if given == 0, !body.has("conversation_id") {
            body.fail("document_id", "give one of document_id, table_id or dashboard_id (or a conversation_id to continue)")
        }
        if let question, question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { body.fail("question", "must not be blank") }
        try body.finish()

        let subject: ChatSubject? = tableID.map(ChatSubject.table) ?? documentID.map(ChatSubject.document) ?? dashboardID.map(ChatSubject.dashboard)
        do {
            let reply = try ChatService(db, llm: context.settings.extraction.llm)
                .ask(question!, subject: subject, conversation: conversationID, team: principal.teamID, user: principal.userID)
            return .json(reply)
        } catch ChatFailure.noSuchSubject(let field) {
            throw APIError(status: 404, code: "not_found", message: "no such \(field.replacingOccurrences(of: "_id", with: ""))",
                           fields: [(field, "names nothing of your team")])
        } catch ChatFailure.noTables(let message) {
            throw APIError(status: 409, code: "no_tables", message: message)
        } catch ChatFailure.noSuchConversation {
            throw APIError(status: 404, code: "not_found", message: "no such conversation", fields: [("conversation_id", "names no conversation of your team")])
        } catch ChatFailure.conversationMismatch {
            throw APIError.validation([("conversation_id", "is about another table, document or dashboard")])
        } catch QueryFailure.tooSlow(let milliseconds) {
            throw APIError(status: 422, code: "query_too_slow",
                           message: "answering took longer than \(milliseconds / 1000) s and was stopped; ask about fewer rows")
        }
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, problems: &problems)
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try ChatRepository(db).list(team: principal.teamID, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.updatedAt, $0.id) }
        return .json(["items": .array(page.map { record in
            ["id": .string(record.id.lower), "title": .string(record.title),
             "subject": (try? JSON.parse(Array(record.subject.utf8))) ?? .null,
             "created_at": Present.time(record.createdAt), "updated_at": Present.time(record.updatedAt)]
        }), "next_cursor": next])
    }

    func show(_ request: Request, _ principal: Principal) throws -> Response {
        guard let conversation = try ChatService(db, llm: nil).conversation(try request.uuidParameter("id"), team: principal.teamID) else {
            throw APIError.notFound("no such conversation")
        }
        return .json(conversation)
    }

    func remove(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        guard try ChatRepository(db).delete(id: id, team: principal.teamID) else { throw APIError.notFound("no such conversation") }
        return .json(["id": .string(id.lower), "status": "deleted"])
    }
}
