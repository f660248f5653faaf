import CXlsxWriter

/// The workbook's cell formats, made once when the workbook opens and reused for every cell
/// (libxlsxwriter owns and frees them with the workbook): the bold header, and for each kind
/// a plain format and a shaded twin for low-confidence cells. A nil format is Excel's General.
struct XLSXFormats {
    typealias Format = UnsafeMutablePointer<lxw_format>

    /// Light yellow, the usual "check this" fill.
    static let shadeColor: lxw_color_t = 0xFFF2CC

    let header: Format
    private let plain: [ExportKind: Format?]
    private let shaded: [ExportKind: Format]

    init(workbook: UnsafeMutablePointer<lxw_workbook>) throws {
        func make(_ numberFormat: String?, shaded: Bool = false, bold: Bool = false) throws -> Format {
            guard let format = workbook_add_format(workbook) else { throw ExportError("xlsx: could not add a cell format") }
            if let numberFormat { format_set_num_format(format, numberFormat) }
            if shaded {
                format_set_pattern(format, UInt8(LXW_PATTERN_SOLID.rawValue))
                format_set_bg_color(format, Self.shadeColor)
            }
            if bold { format_set_bold(format) }
            return format
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

    /// The format for a cell of `kind`; text is also what a value that did not parse gets.
    func cell(_ kind: ExportKind, shaded isShaded: Bool) -> Format? {
        isShaded ? shaded[kind] : plain[kind] ?? nil
    }

    /// Excel number formats. Integers use `0` so long ones do not turn into `1.23E+11`;
    /// decimals keep General so every digit they have shows.
    private static func numberFormat(_ kind: ExportKind) -> String? {
        switch kind {
        case .integer: "0"
        case .currency: "#,##0.00"
        case .percent: "0.00%"
        case .date: "yyyy-mm-dd"
        case .timestamp: "yyyy-mm-dd hh:mm:ss"
        case .decimal, .boolean, .text: nil
        }
    }
}
