import Crypto
import Data
import Documents
import Exporters
import Extraction
import Foundation
import JSONValues
import Multipart

/// `/api/documents/upload`, `/api/documents`, `/api/documents/{id}`, `/api/documents/{id}/status`.
struct DocumentRoutes: RouteGroup {
    let access: AccessControl
    var settings: DocumentSettings { context.settings.documents }
    var db: Database { context.database }

    func register(on router: Router) {
        router.post("/api/documents/upload", access.protect(scope: .documentsWrite, quota: .upload, upload))
        router.get("/api/documents", access.protect(scope: .documentsRead, list))
        router.get("/api/documents/{id}", access.protect(scope: .documentsRead, show))
        router.get("/api/documents/{id}/status", access.protect(scope: .documentsRead, status))
        router.delete("/api/documents/{id}", access.protect(scope: .documentsWrite, remove))
        router.get("/api/documents/{id}/tables", access.protect(scope: .documentsRead, tables))
        router.get("/api/tables/{id}/rows", access.protect(scope: .documentsRead, rows))
    }

    // MARK: Upload

    func upload(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "upload documents")
        let received = try UploadReceiver(directory: settings.uploadsDirectory).receive(request, limit: settings.maxUploadBytes)
        let (type, facts) = try DocumentRoutes.accept(received, settings: settings)
        let documentID = UUID()
        let document = try db.transaction { db -> DocumentRecord in
            let job = try JobRepository(db).enqueue(
                kind: .documentExtract, team: principal.teamID,
                payload: JSON.object([("document_id", .string(documentID.lower))]).serializedText,
                concurrencyKey: DocumentRoutes.concurrencyKey(documentID))
            return try DocumentRepository(db).create(
                id: documentID, team: principal.teamID, user: principal.userID, filename: received.filename ?? "upload",
                contentType: type.contentType, size: Int64(received.size), sha256: received.sha256, pages: facts.pages, job: job.id)
        }
        access.audit(request, principal: principal, action: "document.uploaded", resourceType: "document",
                     resourceID: document.id.lower,
                     detail: ["filename": .string(document.filename), "size_bytes": .int(document.sizeBytes), "pages": .int(Int64(facts.pages))])
        return .json(DocumentRoutes.present(document), status: 202,
                     headers: [("Location", "/api/documents/\(document.id.lower)/status")])
    }

    /// Checks an uploaded file (type by content, structure, limits) and moves it to its
    /// content-addressed place; the temporary file is removed whatever happens.
    static func accept(_ received: UploadReceiver.Received, settings: DocumentSettings) throws -> (FileType, FileFacts) {
        // After the rename the temporary name is gone and this does nothing.
        defer { unlink(received.path) }
        guard received.size > 0 else { throw APIError.validation([("file", "is empty")]) }
        guard let type = FileType.recognize(path: received.path, head: received.head) else {
            throw APIError(status: 415, code: "unsupported_media_type",
                           message: "the file is not a PDF, PNG, JPEG, TIFF, XLSX workbook or delimited text such as CSV (recognised by content, not by name)")
        }
        let facts: FileFacts
        do {
            facts = try FileInspector.inspect(path: received.path, type: type, maxPages: settings.maxPages, maxPixels: settings.maxPixels)
        } catch let problem as DocumentProblem {
            throw APIError(status: 422, code: problem.code, message: problem.description, fields: [("file", problem.description)])
        }
        // Content-addressed storage: identical uploads share one file.
        let finalPath = "\(settings.uploadsDirectory)/\(received.sha256)"
        if !FileManager.default.fileExists(atPath: finalPath) {
            guard rename(received.path, finalPath) == 0 else { throw APIError.internalError }
        }
        return (type, facts)
    }

    /// Jobs that read or use the same document never run at the same time.
    static func concurrencyKey(_ document: UUID) -> String { "document:\(document.lower)" }

    // MARK: Reading

    func list(_ request: Request, _ principal: Principal) throws -> Response {
        var problems: [(String, String)] = []
        let paging = Pagination(request, defaultLimit: 20, maxLimit: 100, problems: &problems)
        let status = request.query("status", as: DocumentStatus.self, problems: &problems)
        if !problems.isEmpty { throw APIError.validation(problems) }
        let rows = try DocumentRepository(db).list(team: principal.teamID, status: status, limit: paging.limit + 1, after: paging.cursor)
        let (page, next) = paging.page(rows) { ($0.createdAt, $0.id) }
        return .json(["items": .array(page.map(DocumentRoutes.present)), "next_cursor": next])
    }

    private func document(_ request: Request, _ principal: Principal) throws -> DocumentRecord {
        guard let document = try DocumentRepository(db).find(id: try request.uuidParameter("id"), team: principal.teamID) else {
            throw APIError.notFound("no such document")
        }
        return document
    }

    func show(_ request: Request, _ principal: Principal) throws -> Response {
        let document = try document(request, principal)
        guard case .object(var members) = DocumentRoutes.present(document) else { throw APIError.internalError }
        let pages = try DocumentRepository(db).pages(document: document.id)
        members.append(("pages", .array(pages.map { page in
            [
                "page": .int(Int64(page.page)), "source": .string(page.source), "word_count": .int(Int64(page.wordCount)),
                "confidence": page.confidence.map { .double(($0 * 1000).rounded() / 1000) } ?? .null,
            ]
        })))
        return .json(.object(members))
    }

    func status(_ request: Request, _ principal: Principal) throws -> Response {
        let document = try document(request, principal)
        return .json([
            "id": .string(document.id.lower), "status": .string(document.status.rawValue),
            "pages_done": .int(Int64(document.pagesDone)), "pages_total": .int(Int64(document.pageCount)),
            "error": JSON(document.error), "warnings": DocumentRoutes.warnings(document), "job_id": JSON(document.jobID?.lower),
            "updated_at": Present.time(document.updatedAt), "processed_at": Present.time(document.processedAt),
        ])
    }

    func remove(_ request: Request, _ principal: Principal) throws -> Response {
        try principal.require(role: .editor, to: "delete documents")
        let id = try request.uuidParameter("id")
        guard try DocumentRepository(db).find(id: id, team: principal.teamID) != nil else { throw APIError.notFound("no such document") }
        let (deleted, shared) = try db.transaction { db in
            try WarehouseRepository(db).dropTables(document: id)
            return try DocumentRepository(db).delete(id: id, team: principal.teamID)
        }
        guard let deleted else { throw APIError.notFound("no such document") }
        if !shared { unlink("\(settings.uploadsDirectory)/\(deleted.sha256)") }
        access.audit(request, principal: principal, action: "document.deleted", resourceType: "document", resourceID: id.lower,
                     detail: ["filename": .string(deleted.filename)])
        return .json(["id": .string(id.lower), "status": "deleted"])
    }

    // MARK: Tables

    func tables(_ request: Request, _ principal: Principal) throws -> Response {
        let document = try document(request, principal)
        let warehouse = WarehouseRepository(db)
        let items: [JSON] = try warehouse.tables(document: document.id).map { table in
            let sample = try warehouse.rows(tableName: table.tableName, limit: 5, offset: 0)
            return DocumentRoutes.present(table, extra: [("sample_rows", .array(DocumentRoutes.typedRows(sample)))])
        }
        return .json(["document_id": .string(document.id.lower), "items": .array(items)])
    }

    /// A page of a warehouse table's rows in key order: after a `cursor` (the `next_cursor` of
    /// the page before: an index range scan however deep) or after `offset` rows (kept for
    /// older clients; cost grows with the offset).
    func rows(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        var problems: [(String, String)] = []
        func number(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) -> Int {
            guard let raw = request.query[name] else { return fallback }
            guard let value = Int(raw), range.contains(value) else {
                problems.append((name, "must be between \(range.lowerBound) and \(range.upperBound)"))
                return fallback
            }
            return value
        }
        let limit = number("limit", 100, 1...1000), offset = number("offset", 0, 0...Int(Int32.max))
        var cursor: RowCursor?
        if let token = request.query["cursor"] {
            cursor = RowCursor(token: token)
            if cursor == nil || cursor?.belongs(to: id) == false {
                problems.append(("cursor", "is not a next_cursor this table's rows returned"))
            }
            if request.query["offset"] != nil { problems.append(("offset", "cannot be combined with cursor")) }
        }
        if !problems.isEmpty { throw APIError.validation(problems) }
        // PostgreSQL finds the table and builds the rows' JSON (typed, in column order) in one round trip.
        let presented: JSON, total: Int64, rows: String
        // Where the page starts, when known (not after a cursor into an ETL'd table), and where the next one does.
        var start: Int?, nextOffset: Int?, nextKey: [String]?
        // An extracted table's key `_row` numbers its rows from 1: the rows after key k are the rows after offset k.
        let extractedOffset = cursor == nil ? offset : cursor.flatMap { $0.key.count == 1 ? Int($0.key[0]) : nil }
            .flatMap { (0...Int(Int32.max)).contains($0) ? $0 : nil }
        // A table this process has read as an ETL'd one skips the look for an extracted table.
        if !WarehouseRepository.isKnownConnectionTable(id), let extractedOffset,
           let (table, json, n) = try WarehouseRepository(db).page(id: id, team: principal.teamID, limit: limit, offset: extractedOffset) {
            (presented, total, rows) = (DocumentRoutes.present(table, extra: []), Int64(table.rowCount), json)
            start = extractedOffset
            if Int64(extractedOffset + n) < total {
                nextOffset = extractedOffset + n
                nextKey = [String(extractedOffset + n)]
            }
        } else {
            // A table copied from a connection by ETL, in its key's order.
            let page: ConnectionTablePage?
            do {
                page = try WarehouseRepository(db).connectionPage(
                    id: id, team: principal.teamID, limit: limit, position: cursor.map { .after($0.key) } ?? .offset(offset))
            } catch let invalid as InvalidRowCursor {
                throw APIError.validation([("cursor", invalid.description)])
            }
            guard let page else { throw APIError.notFound("no such table") }
            let ref = page.table
            let export = TableExport(ref)
            // The surrogate key is Assay's, not a column of the table.
            let key: JSON = page.keySource == "surrogate" ? .array([]) : .array(ref.orderColumns.map(JSON.string))
            presented = .object([
                ("id", .string(ref.id.lower)), ("schema", .string(WarehouseRepository.schema)), ("name", .string(ref.tableName)),
                ("source", export.metadataJSON["source"] ?? .null),
                ("columns", (try? JSON.parse(Array(ref.columns.utf8))) ?? .array([])), ("row_count", .int(ref.rowCount)),
                ("key", .object([("columns", key), ("source", .string(page.keySource))])),
            ])
            (total, rows, nextKey) = (ref.rowCount, page.json, page.nextKey)
            if cursor == nil {
                start = offset
                nextOffset = nextKey == nil ? nil : offset + limit
            }
        }
        var body: [UInt8] = JSON.object([
            ("table", presented), ("total", .int(total)),
            ("limit", .int(Int64(limit))), ("offset", JSON(start)), ("next_offset", JSON(nextOffset)),
            ("next_cursor", JSON(nextKey.map { RowCursor(table: id, key: $0).token })),
        ]).serialized()
        body.removeLast()
        body += Array(",\"rows\":".utf8) + Array(rows.utf8) + [UInt8(ascii: "}")]
        return .json(bytes: body)
    }

    static func present(_ t: ExtractedTableRecord, extra: [(String, JSON)]) -> JSON {
        .object([
            ("id", .string(t.id.lower)), ("document_id", .string(t.documentID.lower)),
            ("schema", .string(WarehouseRepository.schema)), ("name", .string(t.tableName)),
            ("page", .int(Int64(t.pageFrom))), ("pages", .array([.int(Int64(t.pageFrom)), .int(Int64(t.pageTo))])),
            ("bbox", (try? JSON.parse(Array(t.bbox.utf8))) ?? .null),
            ("columns", (try? JSON.parse(Array(t.columns.utf8))) ?? .array([])),
            ("row_count", .int(Int64(t.rowCount))), ("confidence", .double((t.confidence * 1000).rounded() / 1000)),
        ] + extra)
    }

    /// Warehouse rows as JSON objects with typed values (numbers, booleans, ISO dates).
    static func typedRows(_ rows: Rows) -> [JSON] {
        // Positions and types once per result, not per cell.
        let columns = rows.columnNames.enumerated().filter { $0.element != "_row" }
            .map { (position: $0.offset, name: $0.element, oid: rows.typeOID(of: $0.element) ?? 25) }
        return rows.map { row in
            .object(columns.map { column in
                guard let text = row.text(at: column.position) else { return (column.name, .null) }
                switch column.oid {
                case 20, 21, 23: return (column.name, Int64(text).map(JSON.int) ?? .string(text))
                case 700, 701, 1700: return (column.name, Double(text).map(JSON.double) ?? .string(text))
                case 16: return (column.name, .bool(text == "t"))
                default: return (column.name, .string(text))
                }
            })
        }
    }

    static func present(_ d: DocumentRecord) -> JSON {
        [
            "id": .string(d.id.lower), "filename": .string(d.filename), "content_type": .string(d.contentType),
            "size_bytes": .int(d.sizeBytes), "sha256": .string(d.sha256), "page_count": .int(Int64(d.pageCount)),
            "status": .string(d.status.rawValue),
            "progress": ["pages_done": .int(Int64(d.pagesDone)), "pages_total": .int(Int64(d.pageCount))],
            "error": JSON(d.error), "warnings": warnings(d), "job_id": JSON(d.jobID?.lower),
            "created_at": Present.time(d.createdAt), "updated_at": Present.time(d.updatedAt),
            "processed_at": Present.time(d.processedAt),
        ]
    }

    /// The document's warnings as stored (an array; empty when there are none).
    static func warnings(_ d: DocumentRecord) -> JSON {
        (try? JSON.parse(Array(d.warningsJSON.utf8))) ?? []
    }
}

/// Streams the `file` part of a multipart/form-data body to a temporary file in the
/// uploads directory, hashing it on the way; nothing is held in memory.
struct UploadReceiver {
    struct Received {
        let path: String
        let size: Int
        let sha256: String
        let head: [UInt8]
        let filename: String?
    }

    /// A whole multipart form: the file part when there is one, and the other parts as text.
    struct Form {
        let file: Received?
        let fields: [String: String]
    }

    let directory: String
    /// The largest text part besides the file.
    var maxFieldBytes = 256 * 1024

    /// The `file` part; 422 when there is none.
    func receive(_ request: Request, limit: Int) throws -> Received {
        guard let file = try receiveForm(request, limit: limit).file else {
            throw APIError.validation([("file", "is required (a multipart part named file)")])
        }
        return file
    }

    func receiveForm(_ request: Request, limit: Int) throws -> Form {
        let type = request.header("Content-Type") ?? ""
        guard type.lowercased().hasPrefix("multipart/form-data"), let boundary = UploadReceiver.boundary(type) else {
            throw APIError.unsupportedMediaType("multipart/form-data with a `file` part")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = "\(directory)/.upload-\(UUID().uuidString.lowercased())"
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw APIError.internalError
        }
        var completed = false
        defer {
            try? handle.close()
            if !completed { unlink(path) }
        }

        let parser = MultipartParser(boundary: boundary)
        var partHeaders: [String: String] = [:]
        var inFile = false
        var seenFile = false
        var filename: String?
        var hasher = SHA256()
        var size = 0
        var head: [UInt8] = []
        var writeError: Error?
        var fields: [String: [UInt8]] = [:]
        var fieldName: String?
        var tooLarge: String?
        parser.onHeader = { name, value in partHeaders[name.lowercased()] = value }
        // Which part this is, from its headers: at its first body bytes, or at its end for an
        // empty part (a zero-byte file is still the file part, and "is empty", not missing).
        let classify = {
            if !inFile, fieldName == nil, let disposition = partHeaders["content-disposition"],
               let name = UploadReceiver.parameter("name", in: disposition) {
                if name == "file", !seenFile {
                    inFile = true
                    filename = UploadReceiver.parameter("filename", in: disposition)
                } else if name != "file" {
                    fieldName = name
                }
            }
        }
        parser.onBody = { buffer in
            classify()
            if let name = fieldName {
                let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
                if fields[name, default: []].count + bytes.count > maxFieldBytes { tooLarge = name } else { fields[name, default: []] += bytes }
                return
            }
            guard inFile, writeError == nil else { return }
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            if head.count < 16 { head += bytes.prefix(16 - head.count) }
            hasher.update(data: bytes)
            size += bytes.count
            do { try handle.write(contentsOf: bytes) } catch { writeError = error }
        }
        parser.onPartComplete = {
            classify()
            if inFile { seenFile = true }
            if let name = fieldName, fields[name] == nil { fields[name] = [] }
            inFile = false
            fieldName = nil
            partHeaders = [:]
        }
        do {
            try request.streamBody(limit: limit) { chunk in try parser.execute(Array(chunk)) }
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError(status: 400, code: "invalid_multipart", message: "the multipart body is malformed or truncated")
        }
        if let writeError { throw writeError }
        if let tooLarge { throw APIError.validation([(tooLarge, "must be at most \(maxFieldBytes) bytes")]) }
        if let name = fields.first(where: { $0.key.utf8.contains(0) || $0.value.contains(0) })?.key {
            throw APIError.nulCharacter(in: name)
        }
        let text = fields.mapValues { String(decoding: $0, as: UTF8.self) }
        // A body that ends inside the file part never completed it: the upload was cut off.
        guard seenFile || size > 0 else { return Form(file: nil, fields: text) }
        guard seenFile else {
            throw APIError(status: 400, code: "invalid_multipart", message: "the multipart body ended before the file part did")
        }
        completed = true
        let digest = hasher.finalize().map { String(format: "%02x", $0) }.joined()
        return Form(file: Received(path: path, size: size, sha256: digest, head: head,
                                   filename: filename.map { String($0.prefix(255)) }), fields: text)
    }

    static func boundary(_ contentType: String) -> String? {
        parameter("boundary", in: contentType).flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 }
    }

    /// A `name=value` or `name="value"` parameter of a header value.
    static func parameter(_ name: String, in header: String) -> String? {
        for part in header.split(separator: ";").dropFirst() {
            let pieces = part.split(separator: "=", maxSplits: 1)
            guard pieces.count == 2, pieces[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            var value = pieces[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
