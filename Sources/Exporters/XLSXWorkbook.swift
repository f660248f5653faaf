#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CXlsxWriter

public struct XLSXOptions: Sendable {
    /// Data rows per sheet (header excluded); more rows continue on a new sheet. Clamped to
    /// 1…1,048,575, Excel's rows less the header.
    public var rowsPerSheet = 1_048_575
    /// Cells whose CellNote is below this confidence are shaded and carry the extracted text
    /// as a comment.
    public var lowConfidence = 0.6
    /// Whether `close` adds a "Metadata" sheet describing every table.
    public var metadataSheet = true
    public init() {}
}

/// An .xlsx file written through libxlsxwriter, one table after another.
///
/// The workbook is always in libxlsxwriter's constant-memory mode: each row goes to a temp
/// file in `tempDirectory` as soon as the next row starts, so a million-row export stays far
/// below 100 MB. The costs of that mode fit exports: rows must come in order (they do), and
/// strings are written inline instead of into the shared-string table. Comments still work
/// in this mode as long as they are added while their row is the current one (libxlsxwriter
/// 1.1.4 keeps comments in memory, apart from the rows), so low-confidence notes are written
/// right after their cell and tables with notes need no other mode.
///
/// Cells are typed by their column's kind (see `XLSXCells`); a value that does not parse is
/// written as text rather than failing the export. Every libxlsxwriter error becomes an
/// `ExportError` carrying `lxw_strerror`'s message.
public final class XLSXWorkbook {
    /// Nil once closed: `workbook_close` frees it, even when it fails.
    private(set) var workbook: UnsafeMutablePointer<lxw_workbook>?
    private let path: String
    /// Our own copy of the temp directory path, kept for the workbook's lifetime because the
    /// options struct hands libxlsxwriter a bare `char *`.
    private let tempDirectory: UnsafeMutablePointer<CChar>
    private let options: XLSXOptions
    private let formats: XLSXFormats
    private var sheetNames = XLSXSheetNames()
    /// What the metadata sheet lists: each table added, in order.
    private var tables: [(title: String, metadata: [(label: String, value: String)], rows: Int, sheets: [String])] = []

    /// - Parameter constantMemory: false keeps every cell in memory until `close`, which a
    ///   chart needs for its data cache (in constant-memory mode libxlsxwriter writes charts
    ///   without cached values, and viewers that do not recalculate show them empty). Only
    ///   for small tables, such as a dashboard's widgets.
    public init(path: String, tempDirectory: String, options: XLSXOptions, constantMemory: Bool = true) throws {
        guard Self.isWritableDirectory(tempDirectory) else {
            throw ExportError("xlsx: temp directory \(tempDirectory) is not a writable directory")
        }
        guard let directory = strdup(tempDirectory) else { throw ExportError("xlsx: out of memory") }
        var libraryOptions = lxw_workbook_options()
        libraryOptions.constant_memory = UInt8((constantMemory ? LXW_TRUE : LXW_FALSE).rawValue)
        libraryOptions.tmpdir = directory
        guard let workbook = workbook_new_opt(path, &libraryOptions) else {
            free(directory)
            throw ExportError("xlsx: could not create a workbook for \(path)")
        }
        do {
            formats = try XLSXFormats(workbook: workbook)
        } catch {
            lxw_workbook_free(workbook)
            free(directory)
            throw error
        }
        self.workbook = workbook
        self.path = path
        self.tempDirectory = directory
        self.options = options
    }

    deinit {
        // Never closed (or an export failed half way): free it without writing a file.
        if let workbook { lxw_workbook_free(workbook) }
        free(tempDirectory)
    }

    /// Writes one table (one or more sheets named from table.title), returns rows written.
    @discardableResult
    public func addTable(_ table: ExportTable, rows: RowStream, progress: ExportProgress?) throws -> Int {
        try addTableSheets(table, rows: rows, progress: progress).rows
    }

    /// `addTable`, also giving the sheets the table went on (a chart refers to them).
    func addTableSheets(_ table: ExportTable, rows: RowStream,
                        progress: ExportProgress?) throws -> (rows: Int, sheets: [(sheet: XLSXCells.Sheet, name: String)]) {
        guard workbook != nil else { throw ExportError("xlsx: the workbook is already closed") }
        var writer = try XLSXTableWriter(book: self, table: table, formats: formats, options: options)
        try rows { values in
            try writer.write(values)
            if writer.rowsWritten % Self.progressInterval == 0 { progress?(writer.rowsWritten) }
        }
        try writer.finish()
        if writer.rowsWritten % Self.progressInterval != 0 { progress?(writer.rowsWritten) }
        tables.append((table.title, table.metadata, writer.rowsWritten, writer.sheetNames))
        return (writer.rowsWritten, Array(zip(writer.sheets, writer.sheetNames)).map { ($0, $1) })
    }

    /// Adds the metadata sheet (label/value pairs of every table added, plus row counts and
    /// sheet names) and closes the file.
    public func close() throws {
        guard let workbook else { throw ExportError("xlsx: the workbook is already closed") }
        if options.metadataSheet { try writeMetadataSheet() }
        self.workbook = nil
        try Self.check(workbook_close(workbook), "writing \(path)")
    }

    static let progressInterval = 10_000

    /// Adds a sheet named after `title` with `headers` in bold on a frozen first row.
    func addSheet(title: String, headers: [String]) throws -> (XLSXCells.Sheet, String) {
        guard let workbook else { throw ExportError("xlsx: the workbook is already closed") }
        let name = sheetNames.next(for: title)
        try Self.check(workbook_validate_sheet_name(workbook, name), "naming sheet \(name)")
        guard let sheet = workbook_add_worksheet(workbook, name) else {
            throw ExportError("xlsx: could not add sheet \(name) (its temp file goes to the temp directory)")
        }
        for (column, header) in headers.enumerated() {
            try Self.check(XLSXCells.writeString(header, sheet: sheet, row: 0, column: lxw_col_t(column), format: formats.header),
                           "writing the header of sheet \(name)")
        }
        worksheet_freeze_panes(sheet, 1, 0)
        return (sheet, name)
    }

    /// Turns a libxlsxwriter error into an ExportError saying what was being done.
    static func check(_ error: lxw_error, _ action: @autoclosure () -> String) throws {
        guard error != LXW_NO_ERROR else { return }
        throw ExportError("xlsx: \(action()): \(String(cString: lxw_strerror(error)))")
    }

    /// The metadata sheet, written as one more table of text so it gets the same header,
    /// filter and widths: one row per label/value pair, then each table's row count and sheets.
    private func writeMetadataSheet() throws {
        let columns = ["Table", "Label", "Value"].map { ExportColumn(name: $0.lowercased(), header: $0, kind: .text) }
        var writer = try XLSXTableWriter(book: self, table: ExportTable(title: "Metadata", columns: columns),
                                         formats: formats, options: XLSXOptions())
        for table in tables {
            // Rows and sheets are the ones written, listed once below.
            for pair in table.metadata where pair.label != "Rows" && pair.label != "Sheets" {
                try writer.write([table.title, pair.label, pair.value])
            }
            try writer.write([table.title, "Rows", String(table.rows)])
            try writer.write([table.title, "Sheets", table.sheets.joined(separator: ", ")])
        }
        try writer.finish()
    }

    private static func isWritableDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFDIR && access(path, W_OK | X_OK) == 0
    }
}
