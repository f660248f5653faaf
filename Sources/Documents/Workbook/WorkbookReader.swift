import Foundation

/// How much of a workbook Assay will read: checked from the zip's directory before anything
/// is inflated, and again while reading.
public struct WorkbookLimits: Sendable {
    /// Most bytes the parts read (workbook, relationships, shared strings, styles, worksheets)
    /// may inflate to together. Pictures and other parts are never inflated, so they do not count.
    public var maxUnpackedBytes: UInt64 = 200 << 20
    /// A part inflating to more than this many times its compressed size…
    public var maxCompressionRatio: UInt64 = 100
    /// …and to more than this is a zip bomb. Real worksheets compress 5–10 times (their row and
    /// cell references differ); a run of one byte compresses about 1,000 times.
    public var ratioCheckedAbove: UInt64 = 10 << 20
    public var maxRowsPerSheet = 1_000_000
    /// Most cells of all the workbook's tables together, gaps included.
    public var maxCells = 5_000_000
    /// Most zip entries (a workbook has tens; each costs libzip memory when the file is opened).
    public var maxEntries = 10_000

    public init() {}
}

/// An Office Open XML workbook (.xlsx, also as written by LibreOffice, Google Sheets, openpyxl)
/// read sheet by sheet: libzip for the package, libxml2's streaming reader for its parts.
///
/// Every problem is a `DocumentProblem`: `corrupt_document` (a damaged zip, a missing or
/// malformed part, a cell off the grid), `encrypted_document`, `archive_too_large` (a zip
/// bomb or a workbook past `WorkbookLimits`), `too_many_rows`, `too_many_cells`,
/// `empty_workbook` (no sheet holds a value).
public final class WorkbookReader {
    public struct Sheet: Sendable {
        /// The sheet's tab name.
        public let name: String
        /// Its tab's position in the workbook, from 1 (chart sheets count, though they are not read).
        public let position: Int
        fileprivate let part: ZipPackage.Entry
    }

    /// The worksheets in tab order.
    public let sheets: [Sheet]
    private let package: ZipPackage
    private let limits: WorkbookLimits
    private let date1904: Bool
    private let sharedStringsPart: ZipPackage.Entry?
    private let stylesPart: ZipPackage.Entry?

    /// Opens the workbook and reads its sheet list; every part it will read is checked against
    /// `limits` here, before any worksheet is inflated.
    public init(path: String, limits: WorkbookLimits = WorkbookLimits()) throws {
        let package = try ZipPackage(path: path, maxEntries: limits.maxEntries)
        func required(_ name: String) throws -> ZipPackage.Entry {
            guard let entry = package.entry(name) else {
                throw DocumentProblem("corrupt_document", "the XLSX file has no \(name)")
            }
            return entry
        }
        let workbook = try required(WorkbookParts.workbook), relationshipsPart = try required(WorkbookParts.relationships)
        let unpacked = try WorkbookReader.admit([workbook, relationshipsPart], after: 0, limits: limits)
        let (entries, date1904) = try WorkbookParts.sheets(XMLStreamReader(package.open(workbook)))
        let relationships = try WorkbookParts.relationships(XMLStreamReader(package.open(relationshipsPart)))
        func part(ofType type: String, else standard: String) -> ZipPackage.Entry? {
            let target = relationships.values.first { $0.type.hasSuffix("/\(type)") }?.target ?? standard
            return package.entry(target)
        }
        var sheets: [Sheet] = [], parts: [ZipPackage.Entry] = []
        for (index, entry) in entries.enumerated() {
            guard let relationship = relationships[entry.relationship] else {
                throw DocumentProblem("corrupt_document", "the XLSX sheet \"\(entry.name)\" has no relationship \(entry.relationship)")
            }
            // Chart sheets, dialog sheets and macro sheets hold no cells.
            guard relationship.type.hasSuffix("/worksheet") else { continue }
            guard let stored = package.entry(relationship.target) else {
                throw DocumentProblem("corrupt_document",
                                      "the XLSX sheet \"\(entry.name)\" is stored in \(relationship.target), which the file does not contain")
            }
            sheets.append(Sheet(name: entry.name, position: index + 1, part: stored))
            parts.append(stored)
        }
        guard !sheets.isEmpty else { throw DocumentProblem("empty_workbook", "the workbook has no worksheets") }
        let sharedStringsPart = part(ofType: "sharedStrings", else: "xl/sharedStrings.xml")
        let stylesPart = part(ofType: "styles", else: "xl/styles.xml")
        _ = try WorkbookReader.admit(parts + [sharedStringsPart, stylesPart].compactMap { $0 }, after: unpacked, limits: limits)
        self.sharedStringsPart = sharedStringsPart
        self.stylesPart = stylesPart
        self.package = package
        self.limits = limits
        self.date1904 = date1904
        self.sheets = sheets
    }

    /// Checks the declared sizes of parts about to be read: each part's compression ratio, and
    /// the total (with `after`, what was admitted before) against the limit. Returns the new total.
    static func admit(_ parts: [ZipPackage.Entry], after: UInt64, limits: WorkbookLimits) throws -> UInt64 {
        var total = after
        for part in parts {
            if part.size > limits.ratioCheckedAbove, part.size / max(part.compressedSize, 1) > limits.maxCompressionRatio {
                throw DocumentProblem("archive_too_large", """
                    the XLSX part \(part.name) inflates \(part.size / max(part.compressedSize, 1)) times, from \(part.compressedSize) to \
                    \(part.size) bytes: refused as a zip bomb (over \(limits.maxCompressionRatio) times for parts over \
                    \(limits.ratioCheckedAbove >> 20) MB)
                    """)
            }
            total += part.size
            guard total <= limits.maxUnpackedBytes else {
                throw DocumentProblem("archive_too_large", """
                    the XLSX file's sheets inflate to more than \(limits.maxUnpackedBytes >> 20) MB, the limit \
                    (\(part.name) alone to \(part.size) bytes)
                    """)
            }
        }
        return total
    }

    /// Whether the file is an .xlsx by its content: a zip holding `[Content_Types].xml` and
    /// parts under `xl/` (a .docx has `word/`, a plain zip neither). A zip too damaged for
    /// libzip counts when its local headers name an `xl/` part, so that it is refused as a
    /// damaged workbook (422) rather than as an unknown type (415).
    public static func recognizes(path: String, head: [UInt8]) -> Bool {
        guard head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return false }
        guard let package = try? ZipPackage(path: path, maxEntries: Int.max) else {
            return ZipPackage.localHeadersNameWorkbookPart(path: path)
        }
        let names = package.names.map { $0.lowercased() }
        return names.contains("[content_types].xml") && names.contains { $0.hasPrefix("xl/") }
    }

    /// Reads every worksheet to the end, as `forEachTable` does, keeping nothing: how an upload
    /// is checked before it is accepted. Returns how many sheets hold values.
    public func check() throws -> Int {
        var filled = 0
        try read(keepingRows: false) { _, _ in filled += 1 }
        return filled
    }

    /// Calls `body` with each worksheet holding a value, in tab order, and its rows (the
    /// first as it is, a header or not; each as wide as the widest; rows with no value left
    /// out). Empty sheets are skipped; a workbook with none is `empty_workbook`.
    public func forEachSheet(_ body: (Sheet, [[String]]) throws -> Void) throws {
        try read(keepingRows: true, body)
    }

    private func read(keepingRows: Bool, _ body: (Sheet, [[String]]) throws -> Void) throws {
        let rows = WorksheetRows(strings: try sharedStringsPart.map { try WorkbookParts.sharedStrings(XMLStreamReader(package.open($0))) } ?? [],
                                 styles: try stylesPart.map { try WorkbookParts.styles(XMLStreamReader(package.open($0))) } ?? [],
                                 date1904: date1904)
        var cells = 0, filled = 0
        func tooManyCells(_ sheet: Sheet) -> DocumentProblem {
            DocumentProblem("too_many_cells", "the workbook's tables have more than \(limits.maxCells) cells (counted to the sheet \"\(sheet.name)\"), the limit")
        }
        for sheet in sheets {
            var grid = SheetGrid(keepsRows: keepingRows)
            var filledCells = 0
            try rows.read(XMLStreamReader(package.open(sheet.part))) { row in
                guard grid.rowCount < limits.maxRowsPerSheet else {
                    throw DocumentProblem("too_many_rows", "the sheet \"\(sheet.name)\" has more than \(limits.maxRowsPerSheet) rows, the limit")
                }
                // Filled cells are counted as they come, so the rows kept stay within the limit too.
                filledCells += row.count
                guard cells + filledCells <= limits.maxCells else { throw tooManyCells(sheet) }
                grid.add(row)
            }
            guard grid.rowCount > 0 else { continue }
            cells += grid.cellCount
            guard cells <= limits.maxCells else { throw tooManyCells(sheet) }
            filled += 1
            try body(sheet, keepingRows ? grid.table() : [])
        }
        guard filled > 0 else {
            throw DocumentProblem("empty_workbook", "no sheet of the workbook holds a value (\(sheets.count) sheets read)")
        }
    }
}
