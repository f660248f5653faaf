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
    /// The header rows as found on the page, before they were joined into one name per
    /// column: a label spanning columns has its text in the first of them and "" in the rest.
    public var headerRows: [[String]] = []
    /// The table as found on each page it covers (header rows as printed, then the body rows
    /// there, spanning cells top-left); empty for spreadsheets, whose rows are their values.
    public var pageGrids: [(page: Int, rows: [[String]])] = []
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
        .array(columns.map { column in
            var members: [(String, JSON)] = [("name", .string(column.name)), ("header", .string(column.header)), ("type", .string(column.type))]
            if let format = column.format { members.append(("format", .string(format))) }
            if let currency = column.currency { members.append(("currency", .string(currency))) }
            return .object(members)
        })
    }

    public var firstPage: Int { pages.first ?? 0 }
    public var lastPage: Int { pages.last ?? 0 }
}

/// The one path from page models to warehouse tables.
public enum TableExtraction {
    /// The one currency a column's values name (`€`, `EUR`…), nil if none or several.
    static func commonCurrency(_ cells: [String]) -> String? {
        let codes = Set(cells.compactMap { ValueParser.parseCurrency($0)?.currency })
        return codes.count == 1 ? codes.first : nil
    }

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
            && TableExtraction.headerRow(trimmed, body: rows.dropFirst().map { $0 })
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
        let columns = zip(header, types).enumerated().map { position, pair in
            let (header, type) = pair
            let cells = body.map { position < $0.count ? $0[position] : "" }
            let format = type == .date ? DateStyle.common(cells) : nil
            return WarehouseColumn(name: ValueParser.columnName(header, taken: &taken), header: header, sqlType: type.sqlType,
                                   type: type.rawValue, format: format,
                                   currency: type == .currency ? TableExtraction.commonCurrency(cells) : nil)
        }
        let monthFirst = header.indices.map { position in
            types[position] == .date && ValueParser.monthFirst(body.map { position < $0.count ? $0[position] : "" })
        }
        let values = body.map { row in
            zip(row, types).enumerated().map { position, cell in
                ValueParser.sqlValue(cell.0, as: cell.1, monthFirst: monthFirst[position])
            }
        }
        var table = ExtractedTable(pages: [page], bbox: (0, 0, 0, 0), headerCells: looksLikeHeader ? header : nil,
                                   columns: columns, cells: [], values: values, confidence: 1, sheet: sheet)
        table.headerRows = looksLikeHeader ? [header] : []
        return table
    }

    /// Whether `cells` (non-empty, distinct) name the columns of `body` rather than being its
    /// first row: all text, or some text and every other cell unlike its column — a year over a
    /// column of results or of counts ("2006" above "1R", "2010" above 28,342,158).
    static func headerRow(_ cells: [String], body: [[String]]) -> Bool {
        let types = cells.map { ValueParser.inferType([$0]) }
        guard types.contains(.text) else { return false }
        return cells.indices.allSatisfy { index in
            guard types[index] != .text else { return true }
            let column = body.compactMap { index < $0.count ? $0[index] : nil }
            let bodyType = ValueParser.inferType(column)
            if bodyType != types[index] { return true }
            let isYear = { (text: String) -> Bool in Int(ValueParser.trimmed(text)).map { (1800...2100).contains($0) } ?? false }
            return isYear(cells[index]) && !column.filter { !ValueParser.trimmed($0).isEmpty }.allSatisfy(isYear)
        }
    }

    static func table(_ table: DetectedTable) -> ExtractedTable {
        var taken: Set<String> = ["_row"]
        let types = table.header.indices.map { position in ValueParser.inferType(table.rows.map { $0[position].text }) }
        let columns = zip(table.header, types).enumerated().map { position, pair in
            WarehouseColumn(name: ValueParser.columnName(pair.0, taken: &taken), header: pair.0, sqlType: pair.1.sqlType,
                            type: pair.1.rawValue,
                            currency: pair.1 == .currency ? commonCurrency(table.rows.map { $0[position].text }) : nil)
        }
        let monthFirst = types.indices.map { position in
            types[position] == .date && ValueParser.monthFirst(table.rows.map { $0[position].text })
        }
        let values = table.rows.map { row in
            zip(row, types).enumerated().map { position, cell in
                ValueParser.sqlValue(cell.0.text, as: cell.1, monthFirst: monthFirst[position])
            }
        }
        var extracted = ExtractedTable(pages: table.pages, bbox: table.bbox, headerCells: table.headerCells?.map(\.text),
                                       columns: columns, cells: table.rows, values: values, confidence: table.confidence)
        extracted.headerRows = Array(table.textGrid.prefix(table.headerRowCount))
        extracted.pageGrids = table.pageGrids
        return extracted
    }
}
