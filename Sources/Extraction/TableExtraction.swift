import Data
import Documents
import Foundation
import JSONValues

/// A table as Assay stores it in the warehouse: typed columns named after its header, the
/// body rows' values as PostgreSQL reads them, each cell's text and confidence, where it sits.
///
/// The extraction job stores exactly this, and `assay extract` prints exactly this, so the
/// benchmark measures what users get.
public struct ExtractedTable: Sendable {
    /// The pages the table covers (several when it continues across pages).
    public let pages: [Int]
    public let bbox: (x0: Double, y0: Double, x1: Double, y1: Double)
    /// The header as found on the page (several header rows joined per column), or nil
    /// when the table has none and its columns are named `column 1`, `column 2`, ….
    public let headerCells: [String]?
    public let columns: [WarehouseColumn]
    /// Body rows, each with one cell per column (a spanning cell repeats its text).
    public let cells: [[DetectedTable.Cell]]
    /// Body rows as the text each column's type parses (nil = NULL).
    public let values: [[String?]]
    public let confidence: Double
    /// The sheet of a workbook the table is, which names its warehouse table; nil for
    /// tables found on pages and for delimited text.
    public var sheet: String? = nil

    /// The columns as stored in `extracted_tables.columns` and shown by the API and by
    /// `assay extract`: name, header and type.
    public var columnsJSON: JSON {
        .array(columns.map { ["name": .string($0.name), "header": .string($0.header), "type": .string($0.type)] })
    }

    public var firstPage: Int { pages.first ?? 0 }
    public var lastPage: Int { pages.last ?? 0 }
}

/// The one path from page models to warehouse tables.
public enum TableExtraction {
    /// Every table of a document, tables continuing across pages joined, with column names
    /// and types inferred from the header and the body's values.
    public static func tables(_ pages: [PageModel]) -> [ExtractedTable] {
        DocumentTables.detect(pages, joiningPages: true).map(table)
    }

    /// A spreadsheet's rows (delimited text, or a workbook's `sheet` at tab `page`) as a table:
    /// the first row is the header when every cell of it is filled, distinct and neither a
    /// number nor a date; typed like any table, with confidence 1 (nothing was read from pixels).
    public static func table(rows: [[String]], sheet: String? = nil, page: Int = 1) -> ExtractedTable {
        let first = rows.first ?? []
        let trimmed = first.map(ValueParser.trimmed)
        let looksLikeHeader = rows.count > 1 && !trimmed.contains("") && Set(trimmed).count == trimmed.count
            && trimmed.allSatisfy { ValueParser.inferType([$0]) == .text }
        let header = looksLikeHeader ? trimmed : first.indices.map { "column \($0 + 1)" }
        let body = looksLikeHeader ? Array(rows.dropFirst()) : rows
        var taken: Set<String> = ["_row"]
        // A typed column only when every filled cell parses as its type: a spreadsheet keeps no
        // copy of the original text, so nothing may turn into NULL.
        let types = header.indices.map { position -> ColumnType in
            let cells = body.map { $0[position] }
            let type = ValueParser.inferType(cells)
            let lossless = cells.allSatisfy { ValueParser.trimmed($0).isEmpty || ValueParser.sqlValue($0, as: type) != nil }
            return lossless ? type : .text
        }
        let columns = zip(header, types).map { header, type in
            WarehouseColumn(name: ValueParser.columnName(header, taken: &taken), header: header, sqlType: type.sqlType, type: type.rawValue)
        }
        let values = body.map { row in zip(row, types).map { cell, type in ValueParser.sqlValue(cell, as: type) } }
        return ExtractedTable(pages: [page], bbox: (0, 0, 0, 0), headerCells: looksLikeHeader ? header : nil,
                              columns: columns, cells: [], values: values, confidence: 1, sheet: sheet)
    }

    static func table(_ table: DetectedTable) -> ExtractedTable {
        var taken: Set<String> = ["_row"]
        let types = table.header.indices.map { position in ValueParser.inferType(table.rows.map { $0[position].text }) }
        let columns = zip(table.header, types).map { header, type in
            WarehouseColumn(name: ValueParser.columnName(header, taken: &taken), header: header, sqlType: type.sqlType,
                            type: type.rawValue)
        }
        let values = table.rows.map { row in zip(row, types).map { cell, type in ValueParser.sqlValue(cell.text, as: type) } }
        return ExtractedTable(pages: table.pages, bbox: table.bbox, headerCells: table.headerCells?.map(\.text),
                              columns: columns, cells: table.rows, values: values, confidence: table.confidence)
    }
}
