import Data
import ETL
import Foundation
import JSONValues

/// `/api/etl`: runs that copy a connection's tables into the warehouse, and schedules.
struct ETLRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    func register(on router: Router) {
        router.post("/api/etl/jobs/run/{connection_id}", access.protect(scope: .etl, runNow))
        router.get("/api/etl/jobs", access.protect(scope: .etl, listRuns))
        router.get("/api/etl/jobs/{id}", access.protect(scope: .etl, showRun))
        router.get("/api/etl/schedules", access.protect(scope: .etl, listSchedules))
        router.post("/api/etl/schedules", access.protect(scope: .etl, createSchedule))
        router.put("/api/etl/schedules/{id}", access.protect(scope: .etl, updateSchedule))
        router.delete("/api/etl/schedules/{id}", access.protect(scope: .etl, deleteSchedule))
    }

    // MARK: Table selections

    /// `tables`: "all" (default) or a list of names or `{name, schema, sync_mode,
    /// cursor_field, primary_key}`; `sync_mode` the default mode. Returns the JSON stored.
    static func readSelection(_ reader: inout FieldReader) -> JSON {
        var mode = SyncMode.fullRefresh
        if let raw = reader.string("sync_mode", required: false) {
            if let named = SyncMode(named: raw) { mode = named } else { reader.fail("sync_mode", modeMessage) }
        }
        var tables: JSON = .string("all")
        if reader.has("tables") {
            switch reader.value["tables"] {
            case .string("all")?: break
            case .array(let items)?:
                if items.isEmpty || items.count > 1000 { reader.fail("tables", "must list 1 to 1000 tables, or be \"all\"") }
                var list: [JSON] = []
                for (index, item) in items.enumerated() {
                    let at = "tables[\(index)]"
                    switch item {
                    case .string(let name) where !name.isEmpty && name.count <= 128:
                        list.append(["name": .string(name), "sync_mode": .string(mode.rawValue)])
                    case .object:
                        var table = FieldReader(item)
                        let name = table.string("name", minLength: 1, maxLength: 128)
                        let schema = table.string("schema", required: false, minLength: 1, maxLength: 128)
                        var tableMode = mode
                        if let raw = table.string("sync_mode", required: false) {
                            if let named = SyncMode(named: raw) { tableMode = named } else { table.fail("sync_mode", modeMessage) }
                        }
                        let cursor = table.string("cursor_field", required: false, minLength: 1, maxLength: 128)
                        if tableMode.isIncremental, cursor == nil {
                            table.fail("cursor_field", "is required for \(tableMode.rawValue)")
                        }
                        var keys: JSON = .null
                        if let list = table.array("primary_key", required: false, maxCount: 32) {
                            if list.isEmpty || !list.allSatisfy({ if case .string(let s) = $0 { !s.isEmpty } else { false } }) {
                                table.fail("primary_key", "must be a non-empty list of column names")
                            }
                            keys = .array(list)
                        }
                        reader.absorb(table, prefix: at)
                        if let name {
                            list.append(.object([("name", .string(name)), ("schema", JSON(schema)), ("sync_mode", .string(tableMode.rawValue)),
                                                 ("cursor_field", JSON(cursor)), ("primary_key", keys)]))
                        }
                    default:
                        reader.fail(at, "must be a table name or an object with name and sync_mode")
                    }
                }
                tables = .array(list)
            default:
                reader.fail("tables", "must be \"all\" or a list of tables")
            }
        }
        if mode.isIncremental, case .string = tables {
            reader.fail("sync_mode", "incremental modes need a cursor_field per table: list the tables")
        }
        return ["tables": tables, "sync_mode": .string(mode.rawValue)]
    }

    static let modeMessage = "must be one of: \(SyncMode.allCases.map(\.rawValue).joined(separator: ", "))"

    // MARK: Runs

    func runNow(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "run ETL jobs")
        let connectionID = try request.uuidParameter("connection_id")
        var selection: JSON = ["tables": "all", "sync_mode": .string(SyncMode.fullRefresh.rawValue)]
        if (request.contentLength ?? 0) > 0 || !(request.header("Content-Type") ?? "").isEmpty {
            var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
            selection = ETLRoutes.readSelection(&reader)
            try reader.finish()
        }
        guard let connection = try ConnectionRepository(db).find(id: connectionID, team: principal.teamID) else {
            throw APIError.notFound("no such connection")
        }
        let run = try ETLSync.enqueue(db, connection: connection, selection: selection, schedule: nil, user: principal.userID)
        access.audit(request, principal: principal, action: "etl.run_requested", resourceType: "etl_job", resourceID: run.id.lower,
                     detail: ["connection_id": .string(connection.id.lower)])
        return .json(ETLRoutes.present(run), status: 202, headers: [("Location", "/api/etl/jobs/\(run.id.lower)")])
    }

    /// The run and its job in one transaction; runs of one connection never overlap.
    func listRuns(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, defaultLimit: 20, maxLimit: 100, problems: &problems)
        let status = request.query("status", as: ETLRunStatus.self, problems: &problems)
        var connection: UUID?
        if let raw = request.query["connection_id"], !raw.isEmpty {
            if let id = UUID(uuidString: raw) { connection = id } else { problems.append(("connection_id", "must be a UUID")) }
        }
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try ETLRepository(db).listRuns(team: principal.teamID, connection: connection, status: status,
                                                  limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(page.map(ETLRoutes.present)), "next_cursor": next])
    }

    func showRun(_ request: Request, _ principal: Principal) throws -> Response {
        guard let run = try ETLRepository(db).findRun(id: try request.uuidParameter("id"), team: principal.teamID) else {
            throw APIError.notFound("no such ETL job")
        }
        return .json(ETLRoutes.present(run))
    }

    static func present(_ r: ETLRunRecord) -> JSON {
        let duration: JSON = r.startedAt.map { start in
            .double(((r.finishedAt ?? Date()).timeIntervalSince(start) * 1000).rounded() / 1000)
        } ?? .null
        return [
            "id": .string(r.id.lower), "connection_id": .string(r.connectionID.lower), "schedule_id": JSON(r.scheduleID?.lower),
            "job_id": JSON(r.jobID?.lower), "trigger": .string(r.trigger.rawValue), "status": .string(r.status.rawValue),
            "requested": (try? JSON.parse(Array(r.tables.utf8))) ?? .null,
            "tables": (try? JSON.parse(Array(r.progress.utf8))) ?? .array([]),
            "rows_read": .int(r.rowsRead), "rows_written": .int(r.rowsWritten), "bytes": .int(r.bytes),
            "duration_seconds": duration, "error": JSON(r.error),
            "created_at": Present.time(r.createdAt), "started_at": Present.time(r.startedAt), "finished_at": Present.time(r.finishedAt),
        ]
    }

    // MARK: Schedules

    struct ScheduleInput {
        var name: String
        var connection: UUID
        var selection: JSON
        var frequency: String?
        var cron: String?
        var timezone: String
        var enabled: Bool
    }

    /// The schedule a body describes, over `base` for an update; it is the request's only
    /// when the reader has no errors (the caller's `finish()` decides).
    func readSchedule(_ reader: inout FieldReader, base: ETLScheduleRecord?) -> ScheduleInput {
        let creating = base == nil
        let name = reader.string("name", required: false, minLength: 1, maxLength: 200)
        var connection: UUID?
        if let raw = reader.string("connection_id", required: creating) {
            if let id = UUID(uuidString: raw) { connection = id } else { reader.fail("connection_id", "must be a UUID") }
        }
        var frequency = reader.string("sync_frequency", required: false)
        var cron = reader.string("cron", required: false, maxLength: 200)
        if frequency != nil, cron != nil { reader.fail("cron", "give sync_frequency or cron, not both") }
        if creating, frequency == nil, cron == nil { reader.fail("sync_frequency", "is required (hourly, daily, weekly), or give cron") }
        if base != nil, frequency != nil { cron = nil } else if base != nil, cron != nil { frequency = nil }
        let timezone = reader.string("timezone", required: false, minLength: 1, maxLength: 64)
        let enabled = reader.bool("enabled", required: false)
        var selection: JSON?
        if reader.has("tables") || reader.has("sync_mode") { selection = ETLRoutes.readSelection(&reader) }
        let input = ScheduleInput(
            name: name ?? base?.name ?? "schedule", connection: connection ?? base?.connectionID ?? UUID(),
            selection: selection ?? base.flatMap { try? JSON.parse(Array($0.tables.utf8)) } ?? ["tables": "all", "sync_mode": .string(SyncMode.fullRefresh.rawValue)],
            frequency: frequency ?? (cron == nil ? base?.frequency : nil), cron: cron ?? (frequency == nil ? base?.cron : nil),
            timezone: timezone ?? base?.timezone ?? "UTC", enabled: enabled ?? base?.enabled ?? true)
        do {
            _ = try ScheduleRule(frequency: input.frequency, cron: input.cron, timezone: input.timezone)
        } catch let invalid as ScheduleRule.Invalid {
            let field = input.cron != nil && !invalid.description.contains("time zone") ? "cron"
                : invalid.description.contains("time zone") ? "timezone" : "sync_frequency"
            reader.fail(field, invalid.description)
        } catch {
            reader.fail("cron", "\(error)")
        }
        return input
    }

    static func nextRun(_ input: ScheduleInput, after date: Date = Date()) -> Date? {
        guard input.enabled, let rule = try? ScheduleRule(frequency: input.frequency, cron: input.cron, timezone: input.timezone) else {
            return nil
        }
        return rule.next(after: date)
    }

    func createSchedule(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "schedule ETL jobs")
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let input = readSchedule(&reader, base: nil)
        try reader.finish()
        guard try ConnectionRepository(db).find(id: input.connection, team: principal.teamID) != nil else {
            throw APIError(status: 404, code: "not_found", message: "no such connection", fields: [("connection_id", "names no connection")])
        }
        let record = try ETLRepository(db).createSchedule(
            team: principal.teamID, user: principal.userID, connection: input.connection, name: input.name,
            tables: input.selection.serializedText, frequency: input.frequency, cron: input.cron,
            timezone: input.timezone, enabled: input.enabled, nextRunAt: ETLRoutes.nextRun(input))
        access.audit(request, principal: principal, action: "etl.schedule_created", resourceType: "etl_schedule", resourceID: record.id.lower)
        return .json(ETLRoutes.present(record), status: 201)
    }

    func updateSchedule(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "change ETL schedules")
        let id = try request.uuidParameter("id")
        guard let base = try ETLRepository(db).findSchedule(id: id, team: principal.teamID) else { throw APIError.notFound("no such schedule") }
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let input = readSchedule(&reader, base: base)
        if reader.has("connection_id") { reader.fail("connection_id", "cannot change; create a new schedule") }
        if base.fromConnection, reader.has("cron") {
            reader.fail("cron", "this schedule follows its connection's sync_frequency (hourly, daily, weekly): change that, or create another schedule")
        }
        try reader.finish()
        let record = try db.transaction { db in
            guard let record = try ETLRepository(db).updateSchedule(
                id: id, team: principal.teamID, name: input.name, tables: input.selection.serializedText,
                frequency: input.frequency, cron: input.cron, timezone: input.timezone, enabled: input.enabled,
                nextRunAt: ETLRoutes.nextRun(input)) else { throw APIError.notFound("no such schedule") }
            // Its connection's sync_frequency follows the schedule of that frequency.
            if record.fromConnection, let frequency = record.frequency, frequency != base.frequency {
                try ConnectionRepository(db).setSyncFrequency(id: record.connectionID, frequency: frequency)
            }
            return record
        }
        access.audit(request, principal: principal, action: "etl.schedule_updated", resourceType: "etl_schedule", resourceID: id.lower)
        return .json(ETLRoutes.present(record))
    }

    func listSchedules(_ request: Request, _ principal: Principal) throws -> Response {
        .json(["items": .array(try ETLRepository(db).listSchedules(team: principal.teamID).map(ETLRoutes.present))])
    }

    func deleteSchedule(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "delete ETL schedules")
        let id = try request.uuidParameter("id")
        try db.transaction { db in
            guard let schedule = try ETLRepository(db).findSchedule(id: id, team: principal.teamID),
                  try ETLRepository(db).deleteSchedule(id: id, team: principal.teamID) else { throw APIError.notFound("no such schedule") }
            // Without its schedule, the connection's sync_frequency is manual.
            if schedule.fromConnection { try ConnectionRepository(db).setSyncFrequency(id: schedule.connectionID, frequency: "manual") }
        }
        access.audit(request, principal: principal, action: "etl.schedule_deleted", resourceType: "etl_schedule", resourceID: id.lower)
        return .json(["id": .string(id.lower), "status": "deleted"])
    }

    static func present(_ s: ETLScheduleRecord) -> JSON {
        let selection = (try? JSON.parse(Array(s.tables.utf8))) ?? .null
        return [
            "id": .string(s.id.lower), "name": .string(s.name), "connection_id": .string(s.connectionID.lower),
            "sync_frequency": JSON(s.frequency), "cron": JSON(s.cron), "timezone": .string(s.timezone), "enabled": .bool(s.enabled),
            "tables": selection["tables"] ?? .string("all"), "sync_mode": selection["sync_mode"] ?? .string(SyncMode.fullRefresh.rawValue),
            "next_run_at": Present.time(s.nextRunAt), "last_run_at": Present.time(s.lastRunAt),
            "last_job_id": JSON(s.lastJobID?.lower), "from_connection": .bool(s.fromConnection),
            "created_at": Present.time(s.createdAt), "updated_at": Present.time(s.updatedAt),
        ]
    }
}
