import Data
import Foundation
import JSONValues
import Query

/// `POST /api/query`: runs a query spec (the `Query` module) on one of the team's warehouse
/// tables and answers the result columns with their types, the rows, the SQL run and timing.
struct QueryRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    func register(on router: Router) {
        router.post("/api/query", access.protect(scope: .documentsRead, run))
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
