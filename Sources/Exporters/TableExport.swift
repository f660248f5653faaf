import Data
import Foundation
import JSONValues
import Observability

/// One warehouse table on its way out: its columns, where it came from, and the COPY that
/// reads its rows in a stable order. Every format is written from here, to an HTTP body or
/// to a file.
public struct TableExport {
    public let ref: WarehouseTableRef
    public let columns: [ExportColumn]
    /// Each column's type as declared (the JSON export names it): Assay's extracted-table
    /// types, or the PostgreSQL type of an ETL table.
    let declaredTypes: [String]
    let exportedAt: Date

    public init(_ ref: WarehouseTableRef, exportedAt: Date = Date()) {
        self.ref = ref
        self.exportedAt = exportedAt
        var columns: [ExportColumn] = [], types: [String] = []
        if case .array(let items)? = try? JSON.parse(Array(ref.columns.utf8)) {
            for item in items {
                guard case .string(let name)? = item["name"] else { continue }
                let header: String = if case .string(let h)? = item["header"] { h } else { name }
                let type: String = if case .string(let t)? = item["type"] { t } else { "text" }
                let currency: String? = if case .string(let c)? = item["currency"] { c } else { nil }
                columns.append(ExportColumn(name: name, header: header, kind: ExportKind(declaredType: type), currency: currency))
                types.append(type)
            }
        }
        self.columns = columns
        declaredTypes = types
    }

    /// The file name a download gets (without extension).
    public var baseName: String { ref.tableName }

    /// The name a reader knows the table by: the document's file name with the table's place
    /// in it (`invoice.pdf, table 2, page 1`), or the connection's name with the source table
    /// (`Shop, public.orders`); never the internal warehouse name. PDF titles, Excel sheets
    /// and batch zip entries use it.
    public var humanName: String {
        switch ref.source {
        case .document:
            var parts = [ref.sourceName ?? "document \(ref.sourceID.lower.prefix(8))"]
            if let number = ref.tableNumber { parts.append("table \(number)") }
            if let from = ref.pageFrom, let to = ref.pageTo { parts.append(from == to ? "page \(from)" : "pages \(from)–\(to)") }
            return parts.joined(separator: ", ")
        case .connection:
            let name = ref.sourceName ?? "connection \(ref.sourceID.lower.prefix(8))"
            return ref.sourceTable.map { "\(name), \($0)" } ?? name
        }
    }

    // MARK: Metadata

    /// For people (PDF block, Excel metadata sheet).
    var metadataPairs: [(label: String, value: String)] {
        var pairs: [(label: String, value: String)] = [("Warehouse table", ref.tableName)]
        switch ref.source {
        case .document:
            pairs.append(("Source document", ref.sourceName ?? ref.sourceID.lower))
            pairs.append(("Document id", ref.sourceID.lower))
            if let from = ref.pageFrom, let to = ref.pageTo { pairs.append(("Pages", from == to ? "\(from)" : "\(from)–\(to)")) }
            if let confidence = ref.confidence { pairs.append(("Extraction confidence", String(format: "%.2f", confidence))) }
        case .connection:
            pairs.append(("Source connection", ref.sourceName ?? ref.sourceID.lower))
            pairs.append(("Connection id", ref.sourceID.lower))
            if let table = ref.sourceTable { pairs.append(("Source table", table)) }
            if let synced = ref.lastSyncAt { pairs.append(("Last synced", PostgresTime.format(synced))) }
        }
        pairs.append(("Rows", String(ref.rowCount)))
        pairs.append(("Exported at", PostgresTime.format(exportedAt)))
        return pairs
    }

    /// For programs (the JSON export's `metadata`).
    public var metadataJSON: JSON {
        var source: [(String, JSON)] = [("kind", .string(ref.source.rawValue)), ("name", JSON(ref.sourceName))]
        switch ref.source {
        case .document:
            source += [("document_id", .string(ref.sourceID.lower)), ("filename", JSON(ref.sourceName)),
                       ("pages", .array([.int(Int64(ref.pageFrom ?? 0)), .int(Int64(ref.pageTo ?? 0))]))]
        case .connection:
            source += [("connection_id", .string(ref.sourceID.lower)), ("table", JSON(ref.sourceTable)),
                       ("last_sync_at", ref.lastSyncAt.map { .string(PostgresTime.format($0)) } ?? .null)]
        }
        var metadata: [(String, JSON)] = [
            ("table_id", .string(ref.id.lower)), ("table", .string(ref.tableName)), ("source", .object(source)),
            ("row_count", .int(ref.rowCount)), ("exported_at", .string(PostgresTime.format(exportedAt))),
        ]
        if let confidence = ref.confidence { metadata.append(("confidence", .double((confidence * 1000).rounded() / 1000))) }
        return .object(metadata)
    }

    /// The renderers' view, with the cells extraction was unsure of.
    public func exportTable(db: Database, lowConfidence: Double, title: String? = nil) throws -> ExportTable {
        ExportTable(title: title ?? humanName, columns: columns, metadata: metadataPairs,
                    notes: try notes(db: db, below: lowConfidence), rowCount: Int(ref.rowCount))
    }

    /// Document tables keep each cell's original text and confidence (`[[text, conf], …]`
    /// per row, in `_row` order); connection tables have none.
    private func notes(db: Database, below threshold: Double) throws -> [Int: [Int: CellNote]] {
        guard ref.source == .document, let text = try ExportRepository(db).cells(tableID: ref.id),
              case .array(let rows)? = try? JSON.parse(Array(text.utf8)) else { return [:] }
        var notes: [Int: [Int: CellNote]] = [:]
        for (rowIndex, row) in rows.enumerated() {
            guard case .array(let cells) = row else { continue }
            for (columnIndex, cell) in cells.enumerated() {
                guard case .array(let pair) = cell, pair.count == 2, case .string(let original) = pair[0] else { continue }
                let confidence: Double? = switch pair[1] {
                case .double(let value): value
                case .int(let value): Double(value)
                default: nil
                }
                if let confidence, confidence < threshold {
                    notes[rowIndex, default: [:]][columnIndex] = CellNote(original: original, confidence: confidence)
                }
            }
        }
        return notes
    }

    // MARK: Reading rows

    /// Starts `COPY … TO STDOUT` of this table's columns in its stable order.
    private func startCopyOut(_ format: WarehouseCopyFormat, db: Database) throws -> Database.CopyOut {
        try WarehouseRepository(db).startCopyOut(tableName: ref.tableName, columns: columns.map(\.name),
                                                 orderBy: ref.orderColumns, format: format)
    }

    /// The rows as the renderers take them, decoded from COPY's text format on a second
    /// thread while the renderer works (Excel and PDF spend their time in C, so reading overlaps it),
    /// handed over in batches through a short queue. When the renderer throws, the reader
    /// stops (the rest of the COPY is drained unread) before this returns, so the connection
    /// is never used by two threads at once.
    static func prefetchedRowStream(_ copy: Database.CopyOut, columnCount: Int) -> RowStream {
        { each in
            let channel = RowBatches()
            let source = UncheckedBox(copy)
            let reader = Thread {
                var batch: [[String?]] = []
                batch.reserveCapacity(RowBatches.batchSize)
                var values = [String?](repeating: nil, count: columnCount)
                do {
                    try source.value.drain { row in
                        CopyText.decode(row, into: &values)
                        batch.append(values)
                        if batch.count == RowBatches.batchSize {
                            try channel.put(batch)
                            batch.removeAll(keepingCapacity: true)
                        }
                    }
                    if !batch.isEmpty { try channel.put(batch) }
                    channel.finish(nil)
                } catch {
                    channel.finish(error)
                }
            }
            reader.start()
            do {
                while let batch = try channel.take() {
                    for row in batch { try each(row) }
                }
            } catch {
                channel.cancel()
                channel.waitFinished()
                throw error
            }
        }
    }

    // MARK: Writing

    /// Writes CSV or JSON from a COPY that has started; returns the rows written.
    public func writeStreamed(_ spec: ExportSpec, copy: Database.CopyOut, to writer: BodyWriter,
                       progress: ExportProgress? = nil) throws -> Int {
        let rows = switch spec.format {
        case .csv: try writeCSV(copy, options: spec.csv, to: writer, progress: progress)
        default: try writeJSON(copy, ndjson: spec.ndjson, to: writer, progress: progress)
        }
        Metrics.counter(.exportRows, ["format": spec.fileExtension]).add(UInt64(rows))
        return rows
    }

    /// Starts the COPY a streamed format reads from (so a failure is still an error response).
    public func startCopy(_ spec: ExportSpec, db: Database) throws -> Database.CopyOut {
        let format: WarehouseCopyFormat = switch spec.format {
        case .csv:
            // Text cells that would start a spreadsheet formula are written as text.
            .csv(delimiter: spec.csv.delimiter, protectingFormulasIn: spec.csv.formulaProtection
                ? Set(columns.filter { $0.kind == .text }.map(\.name)) : [],
                 booleans: Set(columns.filter { $0.kind == .boolean }.map(\.name)))
        case .json: .json
        default: .text
        }
        return try startCopyOut(format, db: db)
    }

    /// Writes any format into the file at `path`; returns the rows written.
    public func render(_ spec: ExportSpec, db: Database, to path: String, tempDirectory: String,
                progress: ExportProgress?) throws -> Int {
        switch spec.format {
        case .csv, .json:
            let file = try FileSink(path: path)
            let rows = try writeStreamed(spec, copy: try startCopy(spec, db: db), to: file, progress: progress)
            try file.close()
            return rows
        case .excel:
            let table = try exportTable(db: db, lowConfidence: spec.lowConfidence)
            let workbook = try XLSXWorkbook(path: path, tempDirectory: tempDirectory, options: spec.xlsx)
            let rows = try workbook.addTable(table, rows: TableExport.prefetchedRowStream(try startCopyOut(.text, db: db),
                                                                                            columnCount: columns.count),
                                             progress: progress)
            try workbook.close()
            Metrics.counter(.exportRows, ["format": spec.fileExtension]).add(UInt64(rows))
            return rows
        case .pdf:
            let table = try exportTable(db: db, lowConfidence: spec.lowConfidence, title: spec.title)
            // Pages are written as they fill, so the page count for "Page N of M" comes from
            // laying the table out once before, into nothing.
            let pages = try renderPDF(table, options: spec.pdf, db: db, to: "/dev/null", totalPages: nil, progress: nil).pages
            let rows = try renderPDF(table, options: spec.pdf, db: db, to: path, totalPages: pages, progress: progress).rows
            Metrics.counter(.exportRows, ["format": spec.fileExtension]).add(UInt64(rows))
            return rows
        }
    }

    private func renderPDF(_ table: ExportTable, options: PDFOptions, db: Database, to path: String, totalPages: Int?,
                           progress: ExportProgress?) throws -> (rows: Int, pages: Int) {
        let report = try PDFReport(path: path, options: options, totalPages: totalPages)
        report.title(table.title)
        report.keyValues(table.metadata)
        let rows = try report.table(table, rows: TableExport.prefetchedRowStream(try startCopyOut(.text, db: db),
                                                                                columnCount: columns.count),
                                    progress: progress)
        try report.close()
        return (rows, report.pageCount)
    }

    private func writeCSV(_ copy: Database.CopyOut, options: ExportSpec.CSVOptions, to writer: BodyWriter,
                          progress: ExportProgress?) throws -> Int {
        var out: [UInt8] = []
        if options.bom { out += [0xEF, 0xBB, 0xBF] }
        if options.header {
            out += Array(columns.map { TableExport.csvField($0.header, delimiter: options.delimiter, protect: options.formulaProtection) }
                .joined(separator: options.delimiter).utf8) + [0x0D, 0x0A]
        }
        try writer.write(out)
        out.removeAll(keepingCapacity: true)
        out.reserveCapacity(256 * 1024)
        var rows = 0
        try copy.drain { row in
            // Each COPY row ends in "\n": RFC 4180 wants CRLF.
            out.append(contentsOf: row.prefix(row.count - 1))
            out.append(contentsOf: [0x0D, 0x0A])
            rows += 1
            if out.count >= 128 * 1024 {
                try writer.write(out)
                out.removeAll(keepingCapacity: true)
                progress?(rows)
            }
        }
        try writer.write(out)
        return rows
    }

    static func csvField(_ text: String, delimiter: String, protect: Bool) -> String {
        var value = text
        if protect, let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { value = "'" + value }
        guard value.contains(delimiter) || value.contains("\"") || value.contains("\n") || value.contains("\r") else { return value }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// `{"metadata", "columns", "rows": [...]}` or one row object per line (NDJSON).
    private func writeJSON(_ copy: Database.CopyOut, ndjson: Bool, to writer: BodyWriter, progress: ExportProgress?) throws -> Int {
        if !ndjson {
            let head: JSON = ["metadata": metadataJSON,
                              "columns": .array(zip(columns, declaredTypes).map { column, type in
                                  ["name": .string(column.name), "header": .string(column.header), "type": .string(type)]
                              })]
            var bytes = head.serialized()
            bytes.removeLast() // the closing brace: rows follow
            bytes += Array(",\"rows\":[".utf8)
            try writer.write(bytes)
        }
        var out: [UInt8] = []
        out.reserveCapacity(256 * 1024)
        var rows = 0
        try copy.drain { row in
            if !ndjson, rows > 0 { out.append(0x2C) }
            rows += 1
            CopyText.unescape(row, into: &out)
            if ndjson { out.append(0x0A) }
            if out.count >= 128 * 1024 {
                try writer.write(out)
                out.removeAll(keepingCapacity: true)
                progress?(rows)
            }
        }
        if !ndjson { out += Array("]}".utf8) }
        try writer.write(out)
        return rows
    }
}

/// A body writer into a file, buffered; used by job exports.
final class FileSink: BodyWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    public init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil),
              let handle = FileHandle(forWritingAtPath: path) else {
            throw ExportError("cannot create \(path)")
        }
        self.handle = handle
        buffer.reserveCapacity(1 << 20)
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        try flush()
        try handle.close()
    }
}

/// A value handed to another thread that only that thread uses until it is done with it.
private struct UncheckedBox<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

/// The queue between the reading thread and the renderer: a few batches of rows at most,
/// then the end (or the reader's error).
private final class RowBatches: @unchecked Sendable {
    static let batchSize = 1024
    private static let capacity = 4

    private struct Cancelled: Error {}

    private let condition = NSCondition()
    private var batches: [[[String?]]] = []
    private var finished = false
    private var failure: Error?
    private var cancelled = false

    /// Waits for room; throws when the renderer has given up.
    public func put(_ batch: [[String?]]) throws {
        condition.lock()
        defer { condition.unlock() }
        while batches.count >= RowBatches.capacity, !cancelled { condition.wait() }
        if cancelled { throw Cancelled() }
        batches.append(batch)
        condition.broadcast()
    }

    public func finish(_ error: Error?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// The next batch, nil at the end; rethrows the reader's error.
    public func take() throws -> [[String?]]? {
        condition.lock()
        defer { condition.unlock() }
        while batches.isEmpty, !finished { condition.wait() }
        if !batches.isEmpty {
            condition.broadcast()
            return batches.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    func cancel() {
        condition.lock()
        cancelled = true
        batches.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    func waitFinished() {
        condition.lock()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
