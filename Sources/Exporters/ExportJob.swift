import Data
import Foundation
import JSONValues
import Jobs
import Logging

/// The `export.run` job: one table (large Excel or PDF, or any format on request) or a batch
/// of tables into one zip, written under `<exports>/<export id>/` and served by nginx until it
/// expires. A retried attempt starts the files again from nothing.
public enum ExportJob {
    public static func register(on registry: JobRegistry, settings: ExportSettings) {
        registry.register(.exportRun) { context in try run(context, settings: settings) }
    }

    /// The file a finished export is kept as, relative to the exports directory.
    static func relativePath(_ id: UUID, extension ext: String) -> String { "\(id.lower)/export.\(ext)" }

    public static func run(_ context: JobContext, settings: ExportSettings) throws -> JSON {
        let id = try context.payloadID("export_id")
        let exports = ExportRepository(context.database)
        guard let record = try exports.find(id: id, team: nil) else { throw PermanentJobError("the export was deleted") }
        let directory = (settings.directory as NSString).appendingPathComponent(id.lower)
        do {
            return record.kind == .dashboard
                ? try produceDashboard(record, directory: directory, context: context, settings: settings)
                : try produce(record, directory: directory, context: context, settings: settings)
        } catch {
            if error is PermanentJobError || context.job.attempts >= context.job.maxAttempts {
                try? FileManager.default.removeItem(atPath: directory)
                try? exports.fail(id: id, error: "\(error)")
            }
            throw error
        }
    }

    private static func produce(_ record: ExportRecord, directory: String, context: JobContext,
                                settings: ExportSettings) throws -> JSON {
        let db = context.database
        let exports = ExportRepository(db)
        guard let spec = storedSpec(record) else { throw PermanentJobError("the export's options are no longer valid") }
        let refs = try WarehouseCatalogRepository(db).tables(ids: record.tableIDs, team: record.teamID)
        guard refs.count == record.tableIDs.count else {
            throw PermanentJobError("a table of this export was deleted before it was written")
        }
        // A retried attempt starts again from nothing.
        try? FileManager.default.removeItem(atPath: directory)
        let temp = (directory as NSString).appendingPathComponent("tmp")
        try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
        try exports.markRunning(id: record.id)

        // Rows stream through COPY on a connection of their own: a progress write on the COPY's
        // connection would make libpq drop the rest of the COPY (and the file would be short).
        let reader = Database(url: db.url)
        defer { reader.close() }
        let total = refs.reduce(Int64(0)) { $0 + $1.rowCount }
        var rowsBefore: Int64 = 0
        var lastReport = Date.distantPast
        var parts: [(path: String, name: String)] = []
        let now = Date()
        // Zip entries are named after the tables as people know them, unique and safe on any OS.
        let entryNames = ExportFileName.unique(refs.map { TableExport($0).humanName }, extension: spec.fileExtension)
        for (index, ref) in refs.enumerated() {
            let export = TableExport(ref, exportedAt: now)
            let path = record.kind == .batch
                ? (temp as NSString).appendingPathComponent("part\(index).\(spec.fileExtension)")
                : (settings.directory as NSString).appendingPathComponent(relativePath(record.id, extension: spec.fileExtension))
            let rows = try export.render(spec, db: reader, to: path, tempDirectory: temp) { done in
                // At most a few progress writes a second.
                guard Date().timeIntervalSince(lastReport) >= 0.5 else { return }
                lastReport = Date()
                let sofar = rowsBefore + Int64(done)
                try? exports.progress(id: record.id, rowsDone: sofar, tablesDone: index)
                context.progress(done: Int(sofar), total: Int(total), note: ref.tableName)
            }
            rowsBefore += Int64(rows)
            parts.append((path, record.kind == .batch ? entryNames[index] : "\(export.baseName).\(spec.fileExtension)"))
            try exports.progress(id: record.id, rowsDone: rowsBefore, tablesDone: index + 1)
        }

        let fileName: String
        let contentType: String
        let relative: String
        if record.kind == .batch {
            relative = relativePath(record.id, extension: "zip")
            let archive = try ZipArchive(path: (settings.directory as NSString).appendingPathComponent(relative))
            for part in parts {
                try archive.add(file: part.path, as: part.name, compress: spec.format != .excel && spec.format != .pdf)
            }
            try archive.close()
            fileName = "export-\(record.id.lower.prefix(8)).zip"
            contentType = "application/zip"
        } else {
            relative = relativePath(record.id, extension: spec.fileExtension)
            fileName = parts.first?.name ?? "export.\(spec.fileExtension)"
            contentType = spec.contentType
        }
        try? FileManager.default.removeItem(atPath: temp)
        return try succeed(record, file: relative, name: fileName, contentType: contentType, rows: rowsBefore, tables: refs.count,
                           db: db, settings: settings)
    }

    /// A dashboard's file (`DashboardExport`): the widgets' data is read and drawn again, with
    /// the dashboard as it is when the job runs.
    private static func produceDashboard(_ record: ExportRecord, directory: String, context: JobContext,
                                         settings: ExportSettings) throws -> JSON {
        let db = context.database
        let options = (try? JSON.parse(Array(record.options.utf8))) ?? [:]
        guard let spec = DashboardExportSpec.stored(format: record.format, options: options) else {
            throw PermanentJobError("the export's options are no longer valid")
        }
        guard let id = record.dashboardID, let dashboard = try DashboardRepository(db).find(id: id, team: record.teamID) else {
            throw PermanentJobError("the dashboard was deleted before it was exported")
        }
        // A retried attempt starts again from nothing.
        try? FileManager.default.removeItem(atPath: directory)
        let temp = (directory as NSString).appendingPathComponent("tmp")
        try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
        try ExportRepository(db).markRunning(id: record.id)
        context.progress(done: 0, total: 1, note: dashboard.title)
        let export = try DashboardExport(dashboard, db: db, data: spec.format != .json || spec.includeData)
        let relative = relativePath(record.id, extension: spec.fileExtension)
        let rows = try export.write(spec, to: (settings.directory as NSString).appendingPathComponent(relative), tempDirectory: temp)
        try? FileManager.default.removeItem(atPath: temp)
        return try succeed(record, file: relative, name: "\(export.baseName).\(spec.fileExtension)", contentType: spec.contentType,
                           rows: Int64(rows), tables: record.tableIDs.count, db: db, settings: settings)
    }

    /// Records the finished file (its size read from disk) and returns the job's result.
    private static func succeed(_ record: ExportRecord, file relative: String, name: String, contentType: String, rows: Int64,
                                tables: Int, db: Database, settings: ExportSettings) throws -> JSON {
        let absolute = (settings.directory as NSString).appendingPathComponent(relative)
        let bytes = ((try? FileManager.default.attributesOfItem(atPath: absolute))?[.size] as? NSNumber)?.int64Value ?? 0
        try ExportRepository(db).succeed(id: record.id, rows: rows, tables: tables, fileName: name, filePath: relative,
                                         contentType: contentType, bytes: bytes, ttlSeconds: settings.ttlSeconds)
        return ["export_id": .string(record.id.lower), "rows": .int(rows), "tables": .int(Int64(tables)), "bytes": .int(bytes)]
    }

    /// The spec the request was validated into, read back from what was stored.
    static func storedSpec(_ record: ExportRecord) -> ExportSpec? {
        let options = (try? JSON.parse(Array(record.options.utf8))) ?? [:]
        var reader = FieldReader(["format": .string(record.format), "options": options])
        let spec = ExportSpec.read(&reader)
        return reader.errors.isEmpty ? spec : nil
    }

    /// Deletes the files of expired exports, and temporary files that a killed request left.
    public static func sweep(_ database: Database, settings: ExportSettings) {
        let manager = FileManager.default
        do {
            for path in try ExportRepository(database).expireDue() {
                let directory = ((settings.directory as NSString).appendingPathComponent(path) as NSString).deletingLastPathComponent
                try? manager.removeItem(atPath: directory)
            }
        } catch {
            // The next sweep tries again.
        }
        let scratch = (settings.directory as NSString).appendingPathComponent("tmp")
        let hourAgo = Date().addingTimeInterval(-3600)
        for name in (try? manager.contentsOfDirectory(atPath: scratch)) ?? [] {
            let path = (scratch as NSString).appendingPathComponent(name)
            if let modified = (try? manager.attributesOfItem(atPath: path))?[.modificationDate] as? Date, modified < hourAgo {
                try? manager.removeItem(atPath: path)
            }
        }
    }
}
