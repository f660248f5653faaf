import CXlsxWriter

/// The workbook's cell formats, made once when the workbook opens and reused for every cell
/// (libxlsxwriter owns and frees them with the workbook): the bold header, and for each kind
/// a plain format and a shaded twin for low-confidence cells. A nil format is Excel's General.
final class XLSXFormats {
    typealias Format = UnsafeMutablePointer<lxw_format>

    private let workbook: UnsafeMutablePointer<lxw_workbook>
    /// Formats of money columns whose currency is known, plain and shaded, made on first use.
    private var currencies: [String: (plain: Format, shaded: Format)] = [:]

    /// Light yellow, the usual "check this" fill.
    static let shadeColor: lxw_color_t = 0xFFF2CC

    let header: Format
    private let plain: [ExportKind: Format?]
    private let shaded: [ExportKind: Format]

    init(workbook: UnsafeMutablePointer<lxw_workbook>) throws {
        self.workbook = workbook
        func make(_ numberFormat: String?, shaded: Bool = false, bold: Bool = false) throws -> Format {
            try Self.make(workbook, numberFormat, shaded: shaded, bold: bold)
        }
        header = try make(nil, bold: true)
        var plain: [ExportKind: Format?] = [:]
        var shaded: [ExportKind: Format] = [:]
        for kind in ExportKind.allCases {
            let numberFormat = Self.numberFormat(kind)
            plain[kind] = try numberFormat.map { try make($0) }
            shaded[kind] = try make(numberFormat, shaded: true)
        }
        self.plain = plain
        self.shaded = shaded
    }

    private static func make(_ workbook: UnsafeMutablePointer<lxw_workbook>, _ numberFormat: String?,
                             shaded: Bool = false, bold: Bool = false) throws -> Format {
        guard let format = workbook_add_format(workbook) else { throw ExportError("xlsx: could not add a cell format") }
        if let numberFormat { format_set_num_format(format, numberFormat) }
        if shaded {
            format_set_pattern(format, UInt8(LXW_PATTERN_SOLID.rawValue))
            format_set_bg_color(format, Self.shadeColor)
        }
        if bold { format_set_bold(format) }
        return format
    }

    /// The format for a cell of `kind`; text is also what a value that did not parse gets.
    func cell(_ kind: ExportKind, shaded isShaded: Bool) -> Format? {
        isShaded ? shaded[kind] : plain[kind] ?? nil
    }

    /// The format for a cell of `column`: a money column whose currency is known shows it.
    func cell(_ column: ExportColumn, shaded isShaded: Bool) throws -> Format? {
        guard [.decimal, .currency].contains(column.kind), let code = column.currency,
              let numberFormat = Self.currencyFormat(code) else { return cell(column.kind, shaded: isShaded) }
        if currencies[code] == nil {
            currencies[code] = (try Self.make(workbook, numberFormat), try Self.make(workbook, numberFormat, shaded: true))
        }
        return isShaded ? currencies[code]?.shaded : currencies[code]?.plain
    }

    /// Symbols Excel shows for the commonest currencies; others show their ISO code.
    private static let currencySymbols = ["EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CNY": "¥", "INR": "₹"]

    /// `[$€] #,##0.00` for EUR, `[$CHF] #,##0.00` for CHF; nil for anything but a
    /// three-letter code, so nothing from a source reaches the format string unchecked.
    static func currencyFormat(_ code: String) -> String? {
        guard code.utf8.count == 3, code.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            return nil
        }
        return "[$\(currencySymbols[code] ?? code)] #,##0.00"
    }

    /// Excel number formats. Integers use `0` so long ones do not turn into `1.23E+11`;
    /// decimals and amounts get thousands separators and two places.
    static func numberFormat(_ kind: ExportKind) -> String? {
        switch kind {
        case .integer: "0"
        case .decimal, .currency: "#,##0.00"
        case .percent: "0.00%"
        case .date: "yyyy-mm-dd"
        case .timestamp: "yyyy-mm-dd hh:mm:ss"
        case .boolean, .text: nil
        }
    }
}
