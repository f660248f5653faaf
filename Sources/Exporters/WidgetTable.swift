import JSONValues

/// A dashboard widget's data (`{"columns": [{name, type, role, label}], "rows": [[…]]}`, as the
/// query layer returns it) as a table the export renderers take: each column's kind from its
/// type, each value in PostgreSQL's text form, as `RowStream` delivers table rows. So a sum is
/// a number in Excel and right-aligned in the PDF, a month a date.
struct WidgetTable {
    let columns: [ExportColumn]
    /// The query layer's roles (`dimension`, `measure`, `column`), for charts' series.
    let roles: [String]
    let rows: [[String?]]
    /// More rows matched than the widget's query returns.
    let truncated: Bool

    /// Nil when the data has no columns (a widget that could not run has an `error` instead).
    init?(data: JSON) {
        guard case .array(let columnItems)? = data["columns"], !columnItems.isEmpty else { return nil }
        let values: [[JSON]] = if case .array(let items)? = data["rows"] {
            items.map { if case .array(let row) = $0 { row } else { [] } }
        } else { [] }
        var columns: [ExportColumn] = [], roles: [String] = []
        for (index, item) in columnItems.enumerated() {
            let name = Self.string(item["name"]) ?? "column_\(index + 1)"
            let type = Self.string(item["type"]) ?? "text"
            let cells = values.lazy.map { index < $0.count ? $0[index] : .null }
            columns.append(ExportColumn(name: name, header: Self.string(item["label"]) ?? name, kind: Self.kind(type, cells)))
            roles.append(Self.string(item["role"]) ?? "column")
        }
        self.columns = columns
        self.roles = roles
        rows = values.map { row in columns.indices.map { $0 < row.count ? Self.text(row[$0]) : nil } }
        truncated = data["truncated"] == .bool(true)
    }

    /// The rows as the renderers read a table's.
    var rowStream: RowStream {
        { [rows] each in for row in rows { try each(row) } }
    }

    /// The kind a query layer type (`number`, `date`, `timestamp`, `boolean`, `text`) exports
    /// as. Numbers are integers when every value is one (counts), else decimals (sums, averages).
    static func kind(_ type: String, _ values: some Sequence<JSON>) -> ExportKind {
        switch type {
        case "number":
            let integral = values.allSatisfy { value in
                switch value {
                case .int, .null: true
                default: false
                }
            }
            return integral ? .integer : .decimal
        case "date": return .date
        case "timestamp": return .timestamp
        case "boolean": return .boolean
        default: return .text
        }
    }

    /// A JSON value as PostgreSQL's text output writes it: `t`/`f` for booleans, nil for null,
    /// whole doubles without a fraction (a sum of 12.0 reads "12"), anything nested as JSON.
    static func text(_ value: JSON) -> String? {
        switch value {
        case .null: nil
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number):
            number.rounded() == number && abs(number) < 1e15 ? String(Int64(number)) : String(number)
        case .bool(let flag): flag ? "t" : "f"
        default: value.serializedText
        }
    }

    private static func string(_ value: JSON?) -> String? {
        if case .string(let text)? = value { text } else { nil }
    }
}
