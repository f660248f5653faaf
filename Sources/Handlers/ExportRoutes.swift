import Data
import Exporters
import Foundation
import JSONValues

/// Exports of warehouse tables (extracted from documents or copied by ETL) and dashboards:
/// - `POST /api/export/table/{id}` streams CSV and JSON straight from PostgreSQL's COPY and
///   small Excel/PDF files from a scratch file; larger ones (or `"delivery": "job"`) become
///   an export job (202);
/// - `POST /api/export/batch` makes one zip of several tables, always as a job;
/// - `POST /api/export/dashboard/{id}` draws a dashboard as PDF, Excel, JSON or PNG, delivered
///   by the same rule (its widgets' data decides the size);
/// - `GET /api/exports`, `GET /api/exports/{id}` show jobs and progress, and
///   `GET /api/exports/{id}/download` hands the file to nginx (`X-Accel-Redirect`);
/// - `GET /api/warehouse/tables` lists every exportable table with its id.
struct ExportRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }
    var settings: ExportSettings { context.settings.exports }

    func register(on router: Router) {
        router.post("/api/export/table/{id}", access.protect(scope: .export, quota: .export, exportTable))
        router.post("/api/export/batch", access.protect(scope: .export, quota: .export, exportBatch))
        router.post("/api/export/dashboard/{id}", access.protect(scope: .export, quota: .export, exportDashboard))
        router.get("/api/exports", access.protect(scope: .export, list))
        router.get("/api/exports/{id}", access.protect(scope: .export, show))
        router.get("/api/exports/{id}/download", access.protect(scope: .export, download))
        router.get("/api/warehouse/tables", access.protect(scope: .documentsRead, listTables))
    }

    // MARK: One table

    func exportTable(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let spec = ExportSpec.read(&reader)
        try reader.finish()
        guard let ref = try WarehouseCatalogRepository(db).table(id: id, team: principal.teamID) else {
            throw APIError.notFound("no such table")
        }
        let large = !spec.streamsFromCopy && ref.rowCount > Int64(settings.syncRows)
        if try runsAsJob(spec.delivery, large: large,
                         size: "this table has \(ref.rowCount) rows; \(spec.format.rawValue) exports") {
            return try queue(request, principal, kind: .table, format: spec.format.rawValue, fileExtension: spec.fileExtension,
                             options: spec.options, tables: [ref.id], rowsTotal: ref.rowCount)
        }
        let export = TableExport(ref)
        access.audit(request, principal: principal, action: "table.exported", resourceType: "table", resourceID: id.lower,
                     detail: ["format": .string(spec.fileExtension), "rows": .int(ref.rowCount)])
        let headers = [
            ("Content-Type", spec.contentType),
            ("Content-Disposition", ExportRoutes.disposition(export.baseName, extension: spec.fileExtension)),
            ("X-Content-Type-Options", "nosniff"),
        ]
        if spec.streamsFromCopy {
            // The COPY starts here, so a failure is still an error response; the rows follow.
            let copy = try export.startCopy(spec, db: db)
            return Response(status: 200, headers: headers, body: .stream { writer in
                _ = try export.writeStreamed(spec, copy: copy, to: writer)
            })
        }
        return try streamRenderedFile(headers: headers) { path, temp in
            _ = try export.render(spec, db: db, to: path, tempDirectory: temp, progress: nil)
        }
    }

    /// Renders into a scratch file, then streams it and lets it go: the file is unlinked as
    /// soon as it is open, so neither a finished nor a failed request leaves it behind.
    private func streamRenderedFile(headers: [(String, String)], render: (String, String) throws -> Void) throws -> Response {
        let scratch = (settings.directory as NSString).appendingPathComponent("tmp")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        let path = (scratch as NSString).appendingPathComponent(UUID().lower)
        defer { unlink(path) }
        do {
            try render(path, scratch)
        } catch let error as ExportError {
            context.logger.error("export failed", metadata: ["error": "\(error)"])
            throw APIError(status: 500, code: "export_failed", message: "the export could not be written")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw APIError.internalError }
        let size = (try? handle.seekToEnd()).map(Int64.init) ?? 0
        try? handle.seek(toOffset: 0)
        return Response(status: 200, headers: headers + [("Content-Length", String(size))], body: .stream { writer in
            defer { try? handle.close() }
            while let chunk = try handle.read(upToCount: 256 * 1024), !chunk.isEmpty {
                try writer.write(Array(chunk))
            }
        })
    }

    // MARK: Batches and jobs

    func exportBatch(_ request: Request, _ principal: Principal) throws -> Response {
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let spec = ExportSpec.read(&reader)
        var ids: [UUID] = []
        if let items = reader.array("table_ids", maxCount: settings.maxBatchTables) {
            if items.isEmpty { reader.fail("table_ids", "must name at least one table") }
            for (index, item) in items.enumerated() {
                guard case .string(let text) = item, let id = UUID(uuidString: text) else {
                    reader.fail("table_ids[\(index)]", "must be a table id")
                    continue
                }
                if ids.contains(id) { reader.fail("table_ids[\(index)]", "is listed twice") } else { ids.append(id) }
            }
        }
        if spec.delivery == .download { reader.fail("delivery", "a batch is always a job") }
        try reader.finish()
        let refs = try WarehouseCatalogRepository(db).tables(ids: ids, team: principal.teamID)
        if refs.count != ids.count {
            let found = Set(refs.map(\.id))
            let missing = ids.filter { !found.contains($0) }.map(\.lower)
            throw APIError(status: 404, code: "not_found", message: "no such table: \(missing.joined(separator: ", "))")
        }
        return try queue(request, principal, kind: .batch, format: spec.format.rawValue, fileExtension: spec.fileExtension,
                         options: spec.options, tables: refs.map(\.id), rowsTotal: refs.reduce(0) { $0 + $1.rowCount })
    }

    // MARK: Dashboards

    /// A dashboard's widgets with their data (its filters applied) as PDF, Excel, JSON or PNG:
    /// streamed when its widgets can return at most `ASSAY_EXPORT_SYNC_ROWS` rows, else (or
    /// with `"delivery": "job"`) an export job, as for a table's Excel and PDF.
    func exportDashboard(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let spec = DashboardExportSpec.read(&reader)
        try reader.finish()
        guard let dashboard = try DashboardRepository(db).find(id: id, team: principal.teamID) else {
            throw APIError.notFound("no such dashboard")
        }
        let plan = try DashboardExport.plan(dashboard, db: db)
        if try runsAsJob(spec.delivery, large: plan.rowBound > Int64(settings.syncRows),
                         size: "this dashboard's widgets return up to \(plan.rowBound) rows; exports") {
            return try queue(request, principal, kind: .dashboard, format: spec.format.rawValue, fileExtension: spec.fileExtension,
                             options: spec.stored, tables: plan.tables, dashboard: id, rowsTotal: plan.rowBound)
        }
        access.audit(request, principal: principal, action: "dashboard.exported", resourceType: "dashboard", resourceID: id.lower,
                     detail: ["format": .string(spec.fileExtension), "include_data": .bool(spec.includeData)])
        return try streamRenderedFile(headers: [
            ("Content-Type", spec.contentType),
            ("Content-Disposition", ExportRoutes.disposition(dashboard.title, extension: spec.fileExtension)),
            ("X-Content-Type-Options", "nosniff"),
        ]) { path, temp in
            let export = try DashboardExport(dashboard, db: db, data: spec.format != .json || spec.includeData)
            try export.write(spec, to: path, tempDirectory: temp)
        }
    }

    // MARK: Jobs

    /// Whether an export becomes a job: when asked, or when `large` and delivery is `auto`.
    /// `download` of something large is refused (422) rather than tie up a FastCGI worker
    /// past the request timeout; `size` says how large, for that message.
    private func runsAsJob(_ delivery: ExportSpec.Delivery, large: Bool, size: @autoclosure () -> String) throws -> Bool {
        if delivery == .download, large {
            throw APIError.validation([("delivery", "\(size()) of more than \(settings.syncRows) rows run as jobs (delivery auto or job)")])
        }
        return delivery == .job || (delivery == .auto && large)
    }

    /// Creates the export and its job in one transaction; 202 with where to follow it.
    private func queue(_ request: Request, _ principal: Principal, kind: ExportRecord.Kind, format: String, fileExtension: String,
                       options: JSON, tables: [UUID], dashboard: UUID? = nil, rowsTotal: Int64) throws -> Response {
        let id = UUID()
        let record = try db.transaction { db in
            let job = try JobRepository(db).enqueue(kind: .exportRun, team: principal.teamID,
                                                    payload: JSON.object([("export_id", .string(id.lower))]).serializedText)
            return try ExportRepository(db).create(
                id: id, team: principal.teamID, user: principal.userID, kind: kind, format: format,
                options: options.serializedText, tables: tables, dashboard: dashboard, rowsTotal: rowsTotal, job: job.id)
        }
        var detail: [(String, JSON)] = [("format", .string(fileExtension)), ("kind", .string(kind.rawValue)),
                                        ("tables", .array(tables.map { .string($0.lower) }))]
        if let dashboard { detail.append(("dashboard_id", .string(dashboard.lower))) }
        access.audit(request, principal: principal, action: "export.created", resourceType: "export", resourceID: id.lower,
                     detail: .object(detail))
        return .json(present(record), status: 202, headers: [("Location", "/api/exports/\(id.lower)")])
    }

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let page = Pagination(request, problems: &problems)
        let status = request.query("status", as: ExportStatus.self, emptyIsAbsent: false, problems: &problems)
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let rows = try ExportRepository(db).list(team: principal.teamID, status: status, limit: page.limit + 1, after: page.cursor)
        let (items, next) = page.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(items.map(present)), "next_cursor": next])
    }

    func show(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        guard let record = try ExportRepository(db).find(id: id, team: principal.teamID) else { throw APIError.notFound("no such export") }
        return .json(present(record))
    }

    /// nginx sends the file from its internal location; the app only says which and how.
    func download(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        guard let record = try ExportRepository(db).find(id: id, team: principal.teamID) else { throw APIError.notFound("no such export") }
        let expired = record.expiresAt.map { $0 <= Date() } ?? false
        switch record.status {
        case .succeeded where !expired:
            break
        case .expired, .succeeded:
            throw APIError(status: 410, code: "export_expired", message: "this export has expired; export the table again")
        case .failed:
            throw APIError(status: 409, code: "export_failed", message: "this export failed: \(record.error ?? "unknown error")")
        case .queued, .running:
            throw APIError(status: 409, code: "export_not_ready",
                           message: "this export is \(record.status.rawValue); download it when GET /api/exports/\(id.lower) says succeeded")
        }
        guard let path = record.filePath, let name = record.fileName,
              FileManager.default.fileExists(atPath: (settings.directory as NSString).appendingPathComponent(path)) else {
            throw APIError(status: 410, code: "export_expired", message: "this export's file is gone; export the table again")
        }
        access.audit(request, principal: principal, action: "export.downloaded", resourceType: "export", resourceID: id.lower)
        let dot = name.lastIndex(of: ".")
        return Response(status: 200, headers: [
            ("X-Accel-Redirect", "/_protected_exports/\(path)"),
            ("Content-Type", record.contentType ?? "application/octet-stream"),
            ("Content-Disposition", ExportRoutes.disposition(dot.map { String(name[..<$0]) } ?? name,
                                                             extension: dot.map { String(name[name.index(after: $0)...]) } ?? "bin")),
            ("X-Content-Type-Options", "nosniff"),
        ])
    }

    func present(_ record: ExportRecord) -> JSON {
        var progress: [(String, JSON)] = [
            ("rows_done", .int(record.rowsDone)), ("rows_total", record.rowsTotal.map(JSON.int) ?? .null),
            ("tables_done", .int(Int64(record.tablesDone))), ("tables_total", .int(Int64(record.tableIDs.count))),
        ]
        if let total = record.rowsTotal {
            let fraction = total > 0 ? Double(record.rowsDone) / Double(total) : (record.status == .succeeded ? 1 : 0)
            progress.append(("percent", .double((min(1, fraction) * 1000).rounded() / 10)))
        }
        let file: JSON = record.status == .succeeded
            ? ["name": JSON(record.fileName), "bytes": record.bytes.map(JSON.int) ?? .null, "content_type": JSON(record.contentType)]
            : .null
        return [
            "id": .string(record.id.lower), "kind": .string(record.kind.rawValue), "format": .string(record.format),
            "options": (try? JSON.parse(Array(record.options.utf8))) ?? [:],
            "table_ids": .array(record.tableIDs.map { .string($0.lower) }),
            "dashboard_id": record.dashboardID.map { .string($0.lower) } ?? .null,
            "status": .string(record.status.rawValue), "progress": .object(progress), "file": file,
            "download_url": record.status == .succeeded ? .string("/api/exports/\(record.id.lower)/download") : .null,
            "job_id": record.jobID.map { .string($0.lower) } ?? .null,
            "error": JSON(record.error),
            "created_at": Present.time(record.createdAt), "started_at": record.startedAt.map(Present.time) ?? .null,
            "finished_at": record.finishedAt.map(Present.time) ?? .null, "expires_at": record.expiresAt.map(Present.time) ?? .null,
        ]
    }

    // MARK: Warehouse tables

    func listTables(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let page = Pagination(request, problems: &problems)
        let source = request.query("source", as: WarehouseTableRef.Source.self, emptyIsAbsent: false, problems: &problems)
        guard problems.isEmpty else { throw APIError.validation(problems) }
        let rows = try WarehouseCatalogRepository(db).listTables(team: principal.teamID, source: source, limit: page.limit + 1, after: page.cursor)
        let (items, next) = page.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(items.map { ref in
            let export = TableExport(ref)
            return ["id": .string(ref.id.lower), "name": .string(ref.tableName), "row_count": .int(ref.rowCount),
                    "columns": .array(export.columns.map { ["name": .string($0.name), "header": .string($0.header),
                                                            "kind": .string($0.kind.rawValue)] }),
                    "source": export.metadataJSON["source"] ?? .null, "created_at": Present.time(ref.createdAt)]
        }), "next_cursor": next])
    }

    // MARK: Helpers

    /// `attachment` with an ASCII fallback name and the exact name in RFC 5987 form.
    static func disposition(_ name: String, extension ext: String) -> String {
        let ascii = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" })
        let encoded = "\(name).\(ext)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ascii
        return "attachment; filename=\"\(ascii.isEmpty ? "table" : ascii).\(ext)\"; filename*=UTF-8''\(encoded)"
    }
}
