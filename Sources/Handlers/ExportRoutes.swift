import Data
import Foundation

/// `/api/export/table/{id}`: a warehouse table streamed as CSV, JSON or NDJSON straight
/// from PostgreSQL's COPY, never built in memory.
struct ExportRoutes: RouteGroup {
    let access: AccessControl
    var db: Database { context.database }

    static let formats = ["csv", "excel", "json", "pdf"]
    static let options: [String: [String]] = [
        "csv": ["delimiter", "bom", "header", "formula_protection"],
        "json": ["ndjson"],
        "excel": [], "pdf": [],
    ]
    static let delimiters = [",", ";", "\t", "|"]

    func register(on router: Router) {
        router.post("/api/export/table/{id}", access.protect(scope: .export, quota: .export, exportTable))
    }

    struct CSVOptions {
        var delimiter = ","
        var bom = false
        var header = true
        var formulaProtection = true
    }

    /// Reads `format` and `options`, refusing unknown ones with the valid list.
    static func readRequest(_ reader: inout FieldReader) -> (format: String, csv: CSVOptions, ndjson: Bool)? {
        let format = reader.choice("format", formats)
        var csv = CSVOptions()
        var ndjson = false
        if let format, var options = reader.object("options", required: false) {
            let allowed = ExportRoutes.options[format] ?? []
            if case .object(let members) = options.value {
                for (name, _) in members where !allowed.contains(name) {
                    options.fail(name, allowed.isEmpty ? "\(format) takes no options"
                                 : "is not an option of \(format); valid: \(allowed.joined(separator: ", "))")
                }
            }
            if format == "csv" {
                if let delimiter = options.choice("delimiter", delimiters, required: false) { csv.delimiter = delimiter }
                csv.bom = options.bool("bom", required: false) ?? false
                csv.header = options.bool("header", required: false) ?? true
                csv.formulaProtection = options.bool("formula_protection", required: false) ?? true
            }
            if format == "json" { ndjson = options.bool("ndjson", required: false) ?? false }
            reader.absorb(options, prefix: "options")
        }
        guard reader.errors.isEmpty, let format else { return nil }
        return (format, csv, ndjson)
    }

    func exportTable(_ request: Request, _ principal: Principal) throws -> Response {
        let id = try request.uuidParameter("id")
        var reader = try request.jsonObject(limit: context.settings.maxJSONBody)
        let parsed = ExportRoutes.readRequest(&reader)
        try reader.finish()
        guard let (format, csv, ndjson) = parsed else { throw APIError.internalError }
        guard let table = try WarehouseRepository(db).table(id: id, team: principal.teamID) else {
            throw APIError.notFound("no such table")
        }
        guard format == "csv" || format == "json" else {
            throw APIError(status: 501, code: "format_not_available",
                           message: "\(format) export is not available in this release; csv and json are")
        }
        let columns = ExportRoutes.columns(table)
        let extensionName = format == "csv" ? "csv" : (ndjson ? "ndjson" : "json")
        let contentType = format == "csv" ? "text/csv; charset=utf-8" : (ndjson ? "application/x-ndjson" : "application/json")
        access.audit(request, principal: principal, action: "table.exported", resourceType: "table", resourceID: id.lower,
                     detail: ["format": .string(extensionName), "rows": .int(Int64(table.rowCount))])
        // The COPY starts here, so a failure is still an error response; the rows follow.
        let body: Response.Body
        if format == "csv" {
            let copy = try db.startCopyOut(ExportRoutes.csvStatement(table, columns: columns, options: csv))
            body = .stream { writer in try ExportRoutes.writeCSV(copy, columns: columns, options: csv, to: writer) }
        } else {
            let metadata = try ExportRoutes.metadata(table, db: db)
            let copy = try db.startCopyOut(ExportRoutes.jsonStatement(table, columns: columns))
            body = .stream { writer in
                try ExportRoutes.writeJSON(copy, columns: columns, metadata: metadata, ndjson: ndjson, to: writer)
            }
        }
        return Response(status: 200, headers: [
            ("Content-Type", contentType),
            ("Content-Disposition", ExportRoutes.disposition(table.tableName, extension: extensionName)),
            ("X-Content-Type-Options", "nosniff"),
        ], body: body)
    }

    struct Column {
        let name: String
        let header: String
        let type: String
    }

    static func columns(_ table: ExtractedTableRecord) -> [Column] {
        guard case .array(let items)? = try? JSON.parse(Array(table.columns.utf8)) else { return [] }
        return items.compactMap { item in
            guard case .string(let name)? = item["name"] else { return nil }
            let header: String = if case .string(let h)? = item["header"] { h } else { name }
            let type: String = if case .string(let t)? = item["type"] { t } else { "text" }
            return Column(name: name, header: header, type: type)
        }
    }

    /// `attachment` with an ASCII fallback name and the exact name in RFC 5987 form.
    static func disposition(_ name: String, extension ext: String) -> String {
        let ascii = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) ? $0 : "_" })
        let encoded = "\(name).\(ext)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ascii
        return "attachment; filename=\"\(ascii.isEmpty ? "table" : ascii).\(ext)\"; filename*=UTF-8''\(encoded)"
    }

    static func metadata(_ table: ExtractedTableRecord, db: Database) throws -> JSON {
        let document = try db.query("""
            SELECT d.filename FROM documents d WHERE d.id = \(table.documentID)
            """).first.flatMap { try $0.decode("filename", as: String?.self) }
        return [
            "table_id": .string(table.id.lower), "table": .string(table.tableName),
            "source": ["kind": "document", "document_id": .string(table.documentID.lower), "filename": JSON(document),
                       "pages": .array([.int(Int64(table.pageFrom)), .int(Int64(table.pageTo))])],
            "confidence": .double((table.confidence * 1000).rounded() / 1000), "row_count": .int(Int64(table.rowCount)),
            "exported_at": Present.time(Date()),
        ]
    }

    /// CSV (RFC 4180: CRLF line ends, quotes doubled) from `COPY … (FORMAT csv)`. Text
    /// cells starting with `=`, `+`, `-`, `@`, tab or CR get a leading `'` so spreadsheets
    /// show them as text instead of running them as formulas.
    static func csvStatement(_ table: ExtractedTableRecord, columns: [Column], options: CSVOptions) -> SQL {
        let select = columns.map { column -> String in
            let name = SQL.quoteIdentifier(column.name)
            guard column.type == "text", options.formulaProtection else { return name }
            return "CASE WHEN \(name) ~ '^[-=+@\\t\\r]' THEN '''' || \(name) ELSE \(name) END"
        }.joined(separator: ", ")
        let delimiter = options.delimiter == "\t" ? "E'\\t'" : "'\(options.delimiter)'"
        return SQL(unsafeSQL: "COPY (SELECT \(select) FROM \(WarehouseRepository.schema).\(SQL.quoteIdentifier(table.tableName)) "
            + "ORDER BY _row) TO STDOUT (FORMAT csv, DELIMITER \(delimiter))")
    }

    static func writeCSV(_ copy: Database.CopyOut, columns: [Column], options: CSVOptions, to writer: BodyWriter) throws {
        var out: [UInt8] = []
        if options.bom { out += [0xEF, 0xBB, 0xBF] }
        if options.header {
            out += Array(columns.map { csvField($0.header, delimiter: options.delimiter, protect: options.formulaProtection) }
                .joined(separator: options.delimiter).utf8) + [0x0D, 0x0A]
        }
        try writer.write(out)
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(256 * 1024)
        try copy.drain { row in
            // Each COPY row ends in "\n": RFC 4180 wants CRLF.
            out.append(contentsOf: row.prefix(row.count - 1))
            out.append(contentsOf: [0x0D, 0x0A])
            if out.count >= 128 * 1024 {
                try writer.write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        try writer.write(out)
    }

    static func csvField(_ text: String, delimiter: String, protect: Bool) -> String {
        var value = text
        if protect, let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        guard value.contains(delimiter) || value.contains("\"") || value.contains("\n") || value.contains("\r") else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `{"metadata", "columns", "rows": [...]}` or one row object per line (NDJSON), the
    /// rows typed by PostgreSQL's `row_to_json` and streamed through COPY.
    static func jsonStatement(_ table: ExtractedTableRecord, columns: [Column]) -> SQL {
        let select = columns.map { SQL.quoteIdentifier($0.name) }.joined(separator: ", ")
        return SQL(unsafeSQL: "COPY (SELECT row_to_json(r) FROM (SELECT \(select) FROM \(WarehouseRepository.schema)."
            + "\(SQL.quoteIdentifier(table.tableName)) ORDER BY _row) r) TO STDOUT")
    }

    static func writeJSON(_ copy: Database.CopyOut, columns: [Column], metadata: JSON, ndjson: Bool, to writer: BodyWriter) throws {
        if !ndjson {
            let head: JSON = ["metadata": metadata,
                              "columns": .array(columns.map { ["name": .string($0.name), "header": .string($0.header), "type": .string($0.type)] })]
            var bytes = head.serialized()
            bytes.removeLast() // the closing brace: rows follow
            bytes += Array(",\"rows\":[".utf8)
            try writer.write(bytes)
        }
        var out: [UInt8] = []
        out.reserveCapacity(256 * 1024)
        var first = true
        try copy.drain { row in
            if !ndjson, !first { out.append(0x2C) }
            first = false
            // COPY's text format escapes backslashes (JSON has no raw tabs or newlines).
            var index = 0
            let end = row.count - 1
            while index < end {
                let byte = row[index]
                if byte == 0x5C, index + 1 < end {
                    let next = row[index + 1]
                    out.append(next == 0x6E ? 0x0A : next == 0x74 ? 0x09 : next == 0x72 ? 0x0D : next)
                    index += 2
                } else {
                    out.append(byte)
                    index += 1
                }
            }
            if ndjson { out.append(0x0A) }
            if out.count >= 128 * 1024 {
                try writer.write(out)
                out.removeAll(keepingCapacity: true)
            }
        }
        if !ndjson { out += Array("]}".utf8) }
        try writer.write(out)
    }
}
