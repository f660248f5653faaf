import Data
import Foundation
import JSONValues
import Query

/// `POST /api/query`: runs a query spec (the `Query` module) on one of the team's warehouse
/// tables and answers the result columns with their types, the rows, the SQL run and timing;
/// `GET /api/tables/{id}/profile`: what each column of a table holds.
struct QueryRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    func register(on router: Router) {
        router.post("/api/query", access.protect(scope: .documentsRead, run))
        router.get("/api/tables/{id}/profile", access.protect(scope: .documentsRead, profile))
    }

    /// `GET /api/tables/{id}/profile`: the column profile of a warehouse table.
    func profile(_ request: Request, _ principal: Principal) throws -> Response {
        guard let found = try TableProfiler(db).profile(table: try request.uuidParameter("id"), team: principal.teamID) else {
            throw APIError.notFound("no such table")
        }
        guard case .object(let members) = found.profile else { throw APIError.internalError }
        return .json(.object([
            ("table", ["id": .string(found.table.id.lower), "name": .string(found.table.tableName),
                       "source": .string(found.table.source.rawValue)]),
            ("computed_at", Present.time(found.computedAt)),
        ] + members))
    }

    func run(_ request: Request, _ principal: Principal) throws -> Response {
        let spec = try request.jsonObject(limit: context.settings.maxJSONBody).value
        let result: QueryResult
        do {
            result = try QueryRunner(db).run(spec, team: principal.teamID)
        } catch QueryFailure.noSuchTable {
            throw APIError(status: 404, code: "not_found", message: "no such table", fields: [("table", "names no table of your team")])
        } catch QueryFailure.tooSlow(let milliseconds) {
            throw APIError(status: 422, code: "query_too_slow",
                           message: "the query ran longer than \(milliseconds / 1000) s and was stopped; add filters or group it")
        }
        let rows = (try? JSON.parse(Array(result.rowsJSON.utf8))) ?? .array([])
        let count: Int = if case .array(let items) = rows { items.count } else { 0 }
        return .json([
            "table": ["id": .string(result.table.id.lower), "name": .string(result.table.tableName)],
            "columns": .array(result.outputs.map { output in
                ["name": .string(output.name), "type": .string(output.type.rawValue), "role": .string(output.role.rawValue),
                 "label": .string(output.label)]
            }),
            "rows": rows, "row_count": .int(Int64(count)), "truncated": .bool(result.truncated), "cached": .bool(result.cached),
            "sql": .string(result.sql), "parameters": .array(result.parameters.map { JSON($0) }),
            "duration_ms": .double(result.milliseconds),
        ])
    }
}
