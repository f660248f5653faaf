import Data
import Foundation
import JSONValues

/// `GET /api/audit-logs`: the active team's audit trail, newest first, keyset-paginated.
struct AuditRoutes: RouteGroup {
    let access: AccessControl

    func register(on router: Router) {
        router.get("/api/audit-logs", access.protect(scope: .admin, list))
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .admin, to: "read the audit log")
        let query = request.query
        var problems: [(String, String)] = []
        var filter = AuditFilter(team: principal.teamID)
        func uuid(_ name: String) -> UUID? {
            guard let raw = query[name] else { return nil }
            guard let id = UUID(uuidString: raw) else { problems.append((name, "must be a UUID")); return nil }
            return id
        }
        func date(_ name: String) -> Date? {
            guard let raw = query[name] else { return nil }
            guard let value = ISO8601.parse(raw) else { problems.append((name, "must be an ISO 8601 date-time")); return nil }
            return value
        }
        filter.user = uuid("user_id")
        filter.action = query["action"].flatMap { $0.isEmpty ? nil : $0 }
        filter.resourceType = query["resource_type"].flatMap { $0.isEmpty ? nil : $0 }
        filter.resourceID = query["resource_id"].flatMap { $0.isEmpty ? nil : $0 }
        filter.since = date("since")
        filter.until = date("until")
        if let raw = query["limit"] {
            if let limit = Int(raw), (1...200).contains(limit) { filter.limit = limit } else { problems.append(("limit", "must be between 1 and 200")) }
        }
        if let raw = query["cursor"], !raw.isEmpty {
            if let cursor = Int64(raw), cursor > 0 { filter.beforeID = cursor } else { problems.append(("cursor", "is not a cursor from next_cursor")) }
        }
        if !problems.isEmpty { throw APIError.validation(problems) }
        let wanted = filter.limit
        filter.limit = wanted + 1
        let rows = try AuditRepository(context.database).list(filter)
        let page = rows.prefix(wanted)
        let next: JSON = rows.count > wanted ? .string(String(page.last!.id)) : .null
        let items: [JSON] = try page.map { row in
            let e = row.entry
            return [
                "id": .int(row.id), "created_at": Present.time(row.createdAt),
                "user_id": JSON(e.userID?.lower), "api_key_id": JSON(e.apiKeyID?.lower), "team_id": JSON(e.teamID?.lower),
                "action": .string(e.action), "resource_type": JSON(e.resourceType), "resource_id": JSON(e.resourceID),
                "ip_address": JSON(e.ipAddress), "user_agent": JSON(e.userAgent), "request_id": JSON(e.requestID),
                "detail": try JSON.parse(Array(e.detail.utf8)),
            ]
        }
        return .json(["items": .array(items), "next_cursor": next])
    }
}
