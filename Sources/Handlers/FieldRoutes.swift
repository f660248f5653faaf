import Data
import Documents
import Extraction
import Foundation
import JSONValues
import Jobs

/// Field extraction: `/api/documents/tables` (configurations of the fields to read),
/// `/api/documents/extract`, and `/api/documents/results` (what was read).
struct FieldRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }
    var documents: DocumentSettings { context.settings.documents }
    var extraction: ExtractionSettings { context.settings.extraction }

    /// The configuration used when a request names `invoice` and the team has none by that id.
    static let builtinKey = "invoice"

    func register(on router: Router) {
        router.get("/api/documents/tables", access.protect(scope: .documentsRead, listTables))
        router.post("/api/documents/tables", access.protect(scope: .documentsWrite, saveTable))
        router.get("/api/documents/tables/{table_id}", access.protect(scope: .documentsRead, showTable))
        router.delete("/api/documents/tables/{table_id}", access.protect(scope: .documentsWrite, deleteTable))
        router.post("/api/documents/extract", access.protect(scope: .documentsWrite, quota: .upload, extract))
        router.get("/api/documents/results", access.protect(scope: .documentsRead, listResults))
        router.get("/api/documents/results/{id}", access.protect(scope: .documentsRead, showResult))
        router.delete("/api/documents/results/{id}", access.protect(scope: .documentsWrite, deleteResult))
        router.post("/api/documents/results/{id}/re-extract", access.protect(scope: .documentsWrite, reExtract))
        router.get("/api/documents/results/{id}/versions/{version}", access.protect(scope: .documentsRead, showResultVersion))
    }

    // MARK: Configurations

    /// A configuration as sent by a client, validated.
    struct Config {
        let key: String
        let name: String
        let description: String?
        let fields: [FieldRow]
    }

    static let keyPattern = #"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"#
    static let fieldIDPattern = #"^[A-Za-z_][A-Za-z0-9_]{0,63}$"#

    /// Reads a configuration (`id`, `name`, `description`, `fields`); problems are
    /// reported under `prefix`.
    static func readConfig(_ value: JSON, prefix: String = "") throws -> Config {
        guard case .object = value else { throw APIError.validation([(prefix.isEmpty ? "body" : prefix, "must be a JSON object")]) }
        var reader = FieldReader(value)
        let key = reader.string("id", maxLength: 64)
        if let key, key.range(of: keyPattern, options: .regularExpression) == nil {
            reader.fail("id", "must be 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit")
        }
        let name = reader.string("name", minLength: 1, maxLength: 200)
        let description = reader.string("description", required: false, maxLength: 2000)
        var rows: [FieldRow] = []
        if let items = reader.array("fields", maxCount: 100) {
            if items.isEmpty { reader.fail("fields", "must list at least one field") }
            var seen: Set<String> = []
            let types = FieldType.allCases.map(\.rawValue)
            for (index, item) in items.enumerated() {
                let at = "fields[\(index)]"
                guard case .object = item else { reader.fail(at, "must be an object"); continue }
                var field = FieldReader(item)
                let id = field.string("field_id", maxLength: 64)
                if let id {
                    if id.range(of: fieldIDPattern, options: .regularExpression) == nil {
                        field.fail("field_id", "must be 1-64 letters, digits or '_', not starting with a digit")
                    } else if !seen.insert(id.lowercased()).inserted {
                        field.fail("field_id", "is used by another field")
                    }
                }
                let fieldName = field.string("name", minLength: 1, maxLength: 200)
                let type = field.choice("field_type", types)
                var synonyms: [String] = []
                if let list = field.array("synonyms", required: false, maxCount: 20) {
                    for case let entry in list {
                        guard case .string(let text) = entry, (1...100).contains(text.count) else {
                            field.fail("synonyms", "must be strings of 1-100 characters")
                            break
                        }
                        synonyms.append(text)
                    }
                }
                let fieldDescription = field.string("description", required: false, maxLength: 500)
                let required = field.bool("required", required: false) ?? false
                reader.absorb(field, prefix: at)
                if let id, let fieldName, let type {
                    rows.append(FieldRow(fieldID: id, name: fieldName, fieldType: type, synonyms: synonyms,
                                         description: fieldDescription, required: required))
                }
            }
        }
        var nested = reader
        if !prefix.isEmpty {
            var outer = FieldReader(.object([]))
            outer.absorb(reader, prefix: prefix)
            nested = outer
        }
        try nested.finish()
        return Config(key: key!, name: name!, description: description, fields: rows)
    }

    static var builtin: Config {
        Config(key: builtinKey, name: "Invoice", description: "Built-in: total payable, date, number, issuer and currency.",
               fields: InvoiceFields.specs.map { spec in
                   FieldRow(fieldID: spec.id, name: spec.name, fieldType: spec.type.rawValue, synonyms: spec.synonyms,
                            description: spec.description, required: false)
               })
    }

    static func present(_ record: DocumentTableRecord) -> JSON {
        [
            "id": .string(record.key), "uuid": .string(record.id.lower), "name": .string(record.name),
            "description": JSON(record.description), "fields": FieldExtraction.configJSON(record.fields), "builtin": false,
            "created_at": Present.time(record.createdAt), "updated_at": Present.time(record.updatedAt),
        ]
    }

    static func present(builtin config: Config) -> JSON {
        [
            "id": .string(config.key), "uuid": .null, "name": .string(config.name), "description": JSON(config.description),
            "fields": FieldExtraction.configJSON(config.fields), "builtin": true, "created_at": .null, "updated_at": .null,
        ]
    }

    func listTables(_ request: Request, _ principal: Principal) throws -> Response {
        let saved = try DocumentTableRepository(db).list(team: principal.teamID)
        var items = saved.map(FieldRoutes.present)
        if !saved.contains(where: { $0.key == FieldRoutes.builtinKey }) { items.append(FieldRoutes.present(builtin: FieldRoutes.builtin)) }
        return .json(["items": .array(items)])
    }

    func saveTable(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "configure document tables")
        let reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let config = try FieldRoutes.readConfig(reader.value)
        let (record, created) = try save(config, principal: principal)
        access.audit(request, principal: principal, action: created ? "document_table.created" : "document_table.updated",
                     resourceType: "document_table", resourceID: record.key, detail: ["fields": .int(Int64(record.fields.count))])
        return .json(FieldRoutes.present(record), status: created ? 201 : 200)
    }

    func save(_ config: Config, principal: Principal) throws -> (DocumentTableRecord, Bool) {
        try DocumentTableRepository(db).upsert(team: principal.teamID, user: principal.userID, key: config.key, name: config.name,
                                               description: config.description, fields: config.fields)
    }

    func showTable(_ request: Request, _ principal: Principal) throws -> Response {
        let key = request.pathParameters["table_id"] ?? ""
        if let record = try DocumentTableRepository(db).find(key: key, team: principal.teamID) {
            return .json(FieldRoutes.present(record))
        }
        if key == FieldRoutes.builtinKey { return .json(FieldRoutes.present(builtin: FieldRoutes.builtin)) }
        throw APIError.notFound("no such document table")
    }

    func deleteTable(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "delete document tables")
        let key = request.pathParameters["table_id"] ?? ""
        guard let record = try DocumentTableRepository(db).delete(key: key, team: principal.teamID) else {
            if key == FieldRoutes.builtinKey {
                throw APIError(status: 409, code: "builtin_table", message: "the built-in invoice table cannot be deleted")
            }
            throw APIError.notFound("no such document table")
        }
        access.audit(request, principal: principal, action: "document_table.deleted", resourceType: "document_table",
                     resourceID: record.key)
        return .json(["id": .string(record.key), "status": "deleted"])
    }

    /// The configuration a request names: an inline `table` (validated here, saved
    /// under its id by `saveIfInline` once the rest of the request is accepted) or the
    /// `table_id` of a saved one (or the built-in `invoice`).
    func resolveConfig(table: JSON?, tableID: String?, principal: Principal) throws -> (record: DocumentTableRecord?, config: Config) {
        if let table { return (nil, try FieldRoutes.readConfig(table, prefix: "table")) }
        guard let tableID, !tableID.isEmpty else {
            throw APIError.validation([("table", "is required: a table configuration, or table_id naming a saved one")])
        }
        if let record = try DocumentTableRepository(db).find(key: tableID, team: principal.teamID) {
            return (record, Config(key: record.key, name: record.name, description: record.description, fields: record.fields))
        }
        if tableID == FieldRoutes.builtinKey { return (nil, FieldRoutes.builtin) }
        throw APIError(status: 404, code: "not_found", message: "no such document table", fields: [("table_id", "names no saved table")])
    }

    func saveIfInline(_ resolved: (record: DocumentTableRecord?, config: Config), inline: Bool,
                      principal: Principal) throws -> DocumentTableRecord? {
        guard inline else { return resolved.record }
        return try save(resolved.config, principal: principal).0
    }

    // MARK: Extraction

    func extract(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "extract documents")
        var table: JSON?
        var tableID: String?
        var documentID: UUID?
        var received: UploadReceiver.Received?
        defer { if let received { unlink(received.path) } }
        let type = request.header("Content-Type")?.lowercased() ?? ""
        if type.hasPrefix("multipart/form-data") {
            let form = try UploadReceiver(directory: documents.uploadsDirectory).receiveForm(request, limit: documents.maxUploadBytes)
            received = form.file
            if let text = form.fields["table"] {
                do {
                    table = try JSON.parse(Array(text.utf8))
                } catch {
                    throw APIError.validation([("table", "is not valid JSON")])
                }
                if let path = table?.pathOfNUL("table") { throw APIError.nulCharacter(in: path) }
            }
            tableID = form.fields["table_id"]
            if let raw = form.fields["document_id"] {
                guard let id = UUID(uuidString: raw) else { throw APIError.validation([("document_id", "must be a UUID")]) }
                documentID = id
            }
        } else {
            var body = try request.jsonObject(limit: context.settings.maxJSONBody)
            if body.has("table") { table = body.value["table"] }
            tableID = body.string("table_id", required: false, maxLength: 64)
            if let raw = body.string("document_id", required: true) {
                if let id = UUID(uuidString: raw) { documentID = id } else { body.fail("document_id", "must be a UUID") }
            }
            try body.finish()
        }
        if received == nil, documentID == nil {
            throw APIError.validation([("file", "is required (a multipart part named file), or give document_id")])
        }
        if received != nil, documentID != nil {
            throw APIError.validation([("document_id", "cannot be given together with a file")])
        }
        // The configuration is checked before the file is accepted or any work starts.
        let resolved = try resolveConfig(table: table, tableID: tableID, principal: principal)
        let config = resolved.config
        let configText = FieldExtraction.configJSON(config.fields).serializedText

        var document: DocumentRecord
        var syncPossible = extraction.llm == nil
        if let file = received {
            let (type, facts) = try DocumentRoutes.accept(file, settings: documents)
            syncPossible = syncPossible && type == .pdf && facts.pages <= extraction.syncMaxPages
                && FieldRoutes.hasTextLayer("\(documents.uploadsDirectory)/\(file.sha256)")
            document = try createDocument(file, type: type, pages: facts.pages, principal: principal)
        } else {
            try access.countAsGeneral(request, principal: principal)
            guard let found = try DocumentRepository(db).find(id: documentID!, team: principal.teamID) else {
                throw APIError(status: 404, code: "not_found", message: "no such document", fields: [("document_id", "names no document")])
            }
            document = found
            syncPossible = syncPossible && found.status == .done
        }
        let record = try saveIfInline(resolved, inline: table != nil, principal: principal)
        let resultID = UUID()
        let response: Response
        if syncPossible {
            _ = try DocumentResultRepository(db).create(
                id: resultID, team: principal.teamID, user: principal.userID, document: document.id, table: record?.id,
                tableKey: config.key, tableName: config.name, config: configText, job: nil)
            try runNow(result: resultID, document: document)
            response = .json(try presentResult(resultID, team: principal.teamID), status: 200)
        } else {
            try db.transaction { db in
                let job = try JobRepository(db).enqueue(
                    kind: .documentFields, team: principal.teamID,
                    payload: JSON.object([("result_id", .string(resultID.lower))]).serializedText,
                    concurrencyKey: DocumentRoutes.concurrencyKey(document.id))
                if document.status == .queued, document.jobID == nil {
                    try DocumentRepository(db).assignJob(id: document.id, job: job.id)
                }
                _ = try DocumentResultRepository(db).create(
                    id: resultID, team: principal.teamID, user: principal.userID, document: document.id, table: record?.id,
                    tableKey: config.key, tableName: config.name, config: configText, job: job.id)
            }
            response = .json(try presentResult(resultID, team: principal.teamID), status: 202,
                             headers: [("Location", "/api/documents/results/\(resultID.lower)")])
        }
        access.audit(request, principal: principal, action: "document.extracted", resourceType: "document_result",
                     resourceID: resultID.lower,
                     detail: ["document_id": .string(document.id.lower), "table_id": .string(config.key),
                              "mode": .string(syncPossible ? "direct" : "job")])
        return response
    }

    func createDocument(_ file: UploadReceiver.Received, type: FileType, pages: Int, principal: Principal) throws -> DocumentRecord {
        try DocumentRepository(db).create(
            id: UUID(), team: principal.teamID, user: principal.userID, filename: file.filename ?? "upload",
            contentType: type.contentType, size: Int64(file.size), sha256: file.sha256, pages: pages, job: nil)
    }

    /// True when every page of the PDF has a usable text layer (no OCR needed).
    static func hasTextLayer(_ path: String) -> Bool {
        guard let pdf = try? PDFDocument(path: path) else { return false }
        return (0..<pdf.pageCount).allSatisfy { (try? pdf.page($0))?.source == .text }
    }

    /// Reads the document if needed and extracts the fields inside the request.
    func runNow(result id: UUID, document: DocumentRecord) throws {
        let results = DocumentResultRepository(db)
        guard let result = try results.find(id: id, team: nil) else { throw APIError.notFound("no such result") }
        try results.markProcessing(id: id)
        do {
            let pages = document.status == .done
                ? try DocumentExtraction.storedPages(document: document.id, database: db)
                : try DocumentExtraction.process(document, database: db, uploadsDirectory: documents.uploadsDirectory,
                                                 logger: context.logger) { _, _ in }.pages
            // No region is read again here: OCR (tesseract's model, the page's image) has no
            // place in a FastCGI worker's memory or a request's time. The job path re-reads.
            let outcome = try FieldExtraction.extract(pages: pages, specs: try FieldExtraction.specs(fromConfig: result.config),
                                                      settings: extraction, logger: context.logger)
            try results.complete(id: id, extractor: outcome.extractor, fallbackReason: outcome.fallbackReason,
                                 fields: FieldExtraction.present(outcome.fields).serializedText)
        } catch let error as PermanentJobError {
            try results.fail(id: id, error: error.description)
        }
    }

    // MARK: Results

    /// The result (its newest run) and the list of its earlier versions.
    func presentResult(_ id: UUID, team: UUID) throws -> JSON {
        let results = DocumentResultRepository(db)
        guard let result = try results.find(id: id, team: team) else { throw APIError.notFound("no such result") }
        guard case .object(var members) = FieldRoutes.present(result) else { return .null }
        members.append(("versions", .array(try results.versions(result: id, team: team).map { v in
            [
                "version": .int(Int64(v.version)), "table": ["id": .string(v.tableKey), "name": .string(v.tableName)],
                "status": .string(v.status.rawValue), "extractor": JSON(v.extractor),
                "started_at": Present.time(v.runStartedAt), "completed_at": Present.time(v.completedAt),
                "url": .string("/api/documents/results/\(id.lower)/versions/\(v.version)"),
            ]
        })))
        return .object(members)
    }

    /// One earlier version of a result, in the shape of the result itself.
    func showResultVersion(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        guard let raw = request.pathParameters["version"], let number = Int(raw), number >= 1 else {
            throw APIError.notFound("no such version")
        }
        let results = DocumentResultRepository(db)
        guard let current = try results.find(id: id, team: principal.teamID) else { throw APIError.notFound("no such result") }
        guard let version = try results.version(number, result: id, team: principal.teamID) else {
            throw APIError.notFound(number == current.version
                ? "version \(number) is the result itself: GET /api/documents/results/\(id.lower)"
                : "no such version: this result has versions 1 to \(current.version)")
        }
        guard case .object(var members) = FieldRoutes.present(version) else { return .json(.null) }
        members.append(("current_version", .int(Int64(current.version))))
        return .json(.object(members))
    }

    static func present(_ r: DocumentResultRecord) -> JSON {
        let fields = r.fields.flatMap { try? JSON.parse(Array($0.utf8)) } ?? .null
        var values: [(String, JSON)] = []
        var missingRequired: [JSON] = []
        let config = (try? JSON.parse(Array(r.config.utf8))) ?? .array([])
        if case .array(let items) = fields {
            for case .object(let members) in items {
                let map = Dictionary(members, uniquingKeysWith: { first, _ in first })
                if case .string(let id)? = map["field_id"] { values.append((id, map["value"] ?? .null)) }
            }
        }
        if r.status == .done, case .array(let specs) = config {
            let found = Dictionary(values, uniquingKeysWith: { first, _ in first })
            for case .object(let members) in specs {
                let map = Dictionary(members, uniquingKeysWith: { first, _ in first })
                if case .string(let id)? = map["field_id"], map["required"] == .bool(true), (found[id] ?? .null) == .null {
                    missingRequired.append(.string(id))
                }
            }
        }
        return [
            "id": .string(r.id.lower), "document_id": .string(r.documentID.lower),
            "table": ["id": .string(r.tableKey), "name": .string(r.tableName), "saved": .bool(r.tableID != nil)],
            "status": .string(r.status.rawValue), "extractor": JSON(r.extractor), "fallback_reason": JSON(r.fallbackReason),
            "fields": fields == .null ? .array([]) : fields, "values": .object(values),
            "missing_required": .array(missingRequired), "error": JSON(r.error), "job_id": JSON(r.jobID?.lower),
            "version": .int(Int64(r.version)), "run_started_at": Present.time(r.runStartedAt),
            "created_at": Present.time(r.createdAt), "updated_at": Present.time(r.updatedAt),
            "completed_at": Present.time(r.completedAt),
        ]
    }

    func listResults(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, defaultLimit: 20, maxLimit: 100, problems: &problems)
        let status = request.query("status", as: DocumentStatus.self, problems: &problems)
        var document: UUID?
        if let raw = request.query["document_id"], !raw.isEmpty {
            if let id = UUID(uuidString: raw) { document = id } else { problems.append(("document_id", "must be a UUID")) }
        }
        let tableKey = request.query["table_id"].flatMap { $0.isEmpty ? nil : $0 }
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try DocumentResultRepository(db).list(team: principal.teamID, document: document, tableKey: tableKey,
                                                         status: status, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(page.map(FieldRoutes.present)), "next_cursor": next])
    }

    func showResult(_ request: Request, _ principal: Principal) throws -> Response {
        .json(try presentResult(try request.uuidParameter("id"), team: principal.teamID))
    }

    func deleteResult(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "delete extraction results")
        let id = try request.uuidParameter("id")
        guard try DocumentResultRepository(db).delete(id: id, team: principal.teamID) else { throw APIError.notFound("no such result") }
        access.audit(request, principal: principal, action: "document_result.deleted", resourceType: "document_result", resourceID: id.lower)
        return .json(["id": .string(id.lower), "status": "deleted"])
    }

    func reExtract(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "re-extract documents")
        let id = try request.uuidParameter("id")
        let results = DocumentResultRepository(db)
        guard let result = try results.find(id: id, team: principal.teamID) else { throw APIError.notFound("no such result") }
        // An optional body names another configuration.
        var table: JSON?
        var tableID: String?
        if (request.contentLength ?? 0) > 0 || !(request.header("Content-Type") ?? "").isEmpty {
            var body = try request.jsonObject(limit: context.settings.maxJSONBody)
            if body.has("table") { table = body.value["table"] }
            tableID = body.string("table_id", required: false, maxLength: 64)
            try body.finish()
        }
        guard result.status == .done || result.status == .failed else {
            throw APIError(status: 409, code: "extraction_running", message: "this result is still being extracted; try again when it is done")
        }
        var record: DocumentTableRecord?
        var config: Config
        if table != nil || tableID != nil {
            let resolved = try resolveConfig(table: table, tableID: tableID, principal: principal)
            record = try saveIfInline(resolved, inline: table != nil, principal: principal)
            config = resolved.config
        } else if let saved = try result.tableID.flatMap({ try DocumentTableRepository(db).find(id: $0) }) {
            // The configuration as it is now, so edits to it apply.
            record = saved
            config = Config(key: saved.key, name: saved.name, description: saved.description, fields: saved.fields)
        } else {
            config = Config(key: result.tableKey, name: result.tableName, description: nil,
                            fields: try FieldExtraction.fieldRows(FieldRoutes.array(result.config)))
        }
        let configText = FieldExtraction.configJSON(config.fields).serializedText
        guard let document = try DocumentRepository(db).find(id: result.documentID, team: principal.teamID) else {
            throw APIError.notFound("the result's document no longer exists")
        }
        let response: Response
        if extraction.llm == nil, document.status == .done {
            try results.restart(id: id, table: record?.id, tableKey: config.key, tableName: config.name, config: configText, job: nil)
            try runNow(result: id, document: document)
            response = .json(try presentResult(id, team: principal.teamID))
        } else {
            try db.transaction { db in
                let job = try JobRepository(db).enqueue(
                    kind: .documentFields, team: principal.teamID, payload: JSON.object([("result_id", .string(id.lower))]).serializedText,
                    concurrencyKey: DocumentRoutes.concurrencyKey(document.id))
                try DocumentResultRepository(db).restart(id: id, table: record?.id, tableKey: config.key, tableName: config.name,
                                                         config: configText, job: job.id)
            }
            response = .json(try presentResult(id, team: principal.teamID), status: 202,
                             headers: [("Location", "/api/documents/results/\(id.lower)")])
        }
        access.audit(request, principal: principal, action: "document.re_extracted", resourceType: "document_result",
                     resourceID: id.lower, detail: ["table_id": .string(config.key)])
        return response
    }

    static func array(_ text: String) -> [JSON] {
        if case .array(let items)? = try? JSON.parse(Array(text.utf8)) { return items }
        return []
    }
}
