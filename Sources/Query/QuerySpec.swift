import Data
import Foundation
import JSONValues

/// A column of a warehouse table as the query layer sees it.
public struct QueryColumn: Sendable, Equatable {
    public let name: String
    /// What a reader calls it (the document's header text); the name when there is none.
    public let header: String
    public let type: WarehouseQuery.ValueType
    /// As the catalog has it (`currency`, `numeric(12,2)`…).
    public let declaredType: String
    /// How the source writes a date column's values (a `DateStyle` template), when not ISO.
    public let format: String?

    public init(name: String, header: String, type: WarehouseQuery.ValueType, declaredType: String = "", format: String? = nil) {
        self.name = name
        self.header = header
        self.type = type
        self.declaredType = declaredType
        self.format = format
    }

    /// The columns of a warehouse table from the catalog's `[{"name", "header"?, "type"}]`.
    public static func list(fromCatalog json: String) -> [QueryColumn] {
        guard case .array(let items)? = try? JSON.parse(Array(json.utf8)) else { return [] }
        return items.compactMap { item in
            guard case .string(let name)? = item["name"] else { return nil }
            let header: String = if case .string(let text)? = item["header"], !text.isEmpty { text } else { name }
            let declared: String = if case .string(let text)? = item["type"] { text } else { "text" }
            let format: String? = if case .string(let text)? = item["format"], !text.isEmpty { text } else { nil }
            return QueryColumn(name: name, header: header, type: valueType(declared: declared), declaredType: declared, format: format)
        }
    }

    /// Extracted tables' types (integer, decimal, currency, percent, date, boolean, text) and
    /// PostgreSQL's type names of ETL'd tables, by how their values compare.
    static func valueType(declared: String) -> WarehouseQuery.ValueType {
        let type = declared.lowercased()
        if ["integer", "decimal", "currency", "percent", "smallint", "bigint", "int2", "int4", "int8", "real",
            "double precision", "float4", "float8", "money", "serial", "bigserial"].contains(type)
            || type.hasPrefix("numeric") || type.hasPrefix("decimal") {
            return .number
        }
        if type == "date" { return .date }
        if type.hasPrefix("timestamp") { return .timestamp }
        if type == "boolean" || type == "bool" { return .boolean }
        return .text
    }
}

/// A result column: its name, what it holds, and the words a reader sees for it.
public struct QueryOutput: Sendable, Equatable {
    public enum Role: String, Sendable { case dimension, measure, column }
    public let name: String
    public let type: WarehouseQuery.ValueType
    public let role: Role
    /// "Total Amount", "Day (month)": for chart axes and answers.
    public let label: String
}

/// A query spec (JSON), checked against a table's columns and compiled to a `WarehouseQuery`.
///
///     {"table": "<id>",
///      "measures": [{"op": "sum", "column": "amount", "as": "total"}],
///      "dimensions": [{"column": "day", "bucket": "month"}, {"column": "price", "bins": 10}, "customer"],
///      "filters": [{"column": "day", "op": "last_30_days"}, {"column": "customer", "op": "in", "values": ["A"]}],
///      "order": [{"by": "total", "direction": "desc"}], "limit": 10}
///
/// Without measures and dimensions it lists rows (`columns`, default all). Every problem is
/// named in one `ValidationFailure` (`measures[0].column`: "names no column …").
public struct QuerySpec: Sendable {
    public static let defaultLimit = 1000
    public static let maxLimit = 10_000
    /// Relative date ranges a filter can name as its `op`.
    public static let relativeRanges = [
        "today", "yesterday", "last_7_days", "last_30_days", "last_90_days", "last_365_days", "this_week", "last_week",
        "this_month", "last_month", "this_quarter", "last_quarter", "this_year", "last_year",
    ]
    static let operators = ["=", "!=", "<", "<=", ">", ">=", "in", "between", "contains", "is_null", "is_not_null"]
        + relativeRanges
    /// Every filter `op` a spec may give.
    public static var operatorNames: [String] { operators }

    public let query: WarehouseQuery
    public let outputs: [QueryOutput]

    /// Reads `spec` (the `table` member is the caller's business) for a table with `columns`.
    /// `today` anchors relative dates (UTC).
    public init(_ spec: JSON, tableName: String, columns: [QueryColumn], today: Date = Date()) throws {
        var reader = FieldReader(spec)
        let byName = Dictionary(columns.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let known = columns.map(\.name).joined(separator: ", ")
        func column(_ name: String?, at field: String, in reader: inout FieldReader) -> QueryColumn? {
            guard let name else { return nil }
            guard let found = byName[name] else {
                reader.fail(field, "names no column of this table (its columns: \(known))")
                return nil
            }
            return found
        }

        var outputs: [(name: String, output: WarehouseQuery.Output, info: QueryOutput)] = []
        // Dimensions: "column" or {"column", "bucket"?, "bins"?, "as"?}.
        for (index, item) in (reader.array("dimensions", required: false, maxCount: 5) ?? []).enumerated() {
            let field = "dimensions[\(index)]"
            var part = FieldReader(item)
            let name: String?
            if case .string(let text) = item { name = text } else if case .object = item {
                name = part.string("column", minLength: 1, maxLength: 63)
            } else {
                reader.fail(field, "must be a column name or an object with column")
                continue
            }
            let bucket = part.has("bucket") ? part.choice("bucket", as: WarehouseQuery.Bucket.self) : nil
            let bins = part.has("bins") ? part.int("bins", range: 1...100) : nil
            let alias = part.has("as") ? part.string("as", minLength: 1, maxLength: 63) : nil
            reader.absorb(part, prefix: field)
            guard let found = column(name, at: "\(field).column", in: &reader) else { continue }
            if bucket != nil, bins != nil { reader.fail("\(field).bins", "give bucket or bins, not both"); continue }
            if let bucket {
                guard found.type == .date || found.type == .timestamp else {
                    reader.fail("\(field).bucket", "needs a date column; \(found.name) holds \(found.type.rawValue)s")
                    continue
                }
                outputs.append((alias ?? "\(found.name)_\(bucket.rawValue)", .dimension(.bucket(column: found.name, bucket)),
                                QueryOutput(name: "", type: .date, role: .dimension, label: "\(found.header) (\(bucket.rawValue))")))
            } else if let bins {
                guard found.type == .number else {
                    reader.fail("\(field).bins", "needs a numeric column; \(found.name) holds \(found.type.rawValue)s")
                    continue
                }
                outputs.append((alias ?? "\(found.name)_bin", .dimension(.bins(column: found.name, count: bins)),
                                QueryOutput(name: "", type: .number, role: .dimension, label: found.header)))
            } else {
                outputs.append((alias ?? found.name, .dimension(.value(column: found.name)),
                                QueryOutput(name: "", type: found.type, role: .dimension, label: found.header)))
            }
        }
        // Measures: {"op", "column"?, "as"?}.
        for (index, item) in (reader.array("measures", required: false, maxCount: 10) ?? []).enumerated() {
            let field = "measures[\(index)]"
            guard case .object = item else { reader.fail(field, "must be an object with op and column"); continue }
            var part = FieldReader(item)
            let aggregate = part.choice("op", as: WarehouseQuery.Aggregate.self)
            let name = part.string("column", required: aggregate != .count, minLength: 1, maxLength: 63)
            let alias = part.has("as") ? part.string("as", minLength: 1, maxLength: 63) : nil
            reader.absorb(part, prefix: field)
            guard let aggregate else { continue }
            let found = column(name, at: "\(field).column", in: &reader)
            if name != nil, found == nil { continue }
            let type = found?.type ?? .number
            switch aggregate {
            case .sum, .avg:
                guard type == .number else { reader.fail("\(field).column", "\(aggregate.rawValue) needs a numeric column; \(found?.name ?? "") holds \(type.rawValue)s"); continue }
            case .median, .min, .max:
                guard type != .boolean else { reader.fail("\(field).column", "\(aggregate.rawValue) needs numbers, dates or text, not booleans"); continue }
            case .count, .countDistinct:
                break
            }
            let resultType: WarehouseQuery.ValueType = [.count, .countDistinct, .sum, .avg].contains(aggregate) ? .number : type
            let words = [WarehouseQuery.Aggregate.count: "Count", .countDistinct: "Distinct", .sum: "Total", .avg: "Average",
                         .min: "Lowest", .max: "Highest", .median: "Median"][aggregate] ?? aggregate.rawValue
            outputs.append((alias ?? (found.map { "\(aggregate.rawValue)_\($0.name)" } ?? "count"),
                            .measure(WarehouseQuery.Measure(aggregate: aggregate, column: found?.name, type: type)),
                            QueryOutput(name: "", type: resultType, role: .measure,
                                        label: found.map { "\(words) \($0.header)" } ?? "Number of rows")))
        }
        let grouped = outputs.contains { if case .measure = $0.output { true } else { false } }
        if !grouped, !outputs.isEmpty {
            reader.fail("measures", "is required with dimensions (e.g. [{\"op\": \"count\"}])")
        }
        // Rows mode: columns as they are.
        if outputs.isEmpty {
            let chosen = reader.has("columns")
                ? (reader.array("columns", maxCount: 200) ?? []).enumerated().compactMap { index, item -> QueryColumn? in
                    guard case .string(let name) = item else { reader.fail("columns[\(index)]", "must be a column name"); return nil }
                    return column(name, at: "columns[\(index)]", in: &reader)
                }
                : columns
            outputs = chosen.map { ($0.name, .column($0.name), QueryOutput(name: "", type: $0.type, role: .column, label: $0.header)) }
        } else if reader.has("columns") {
            reader.fail("columns", "lists rows: give columns, or measures and dimensions, not both")
        }
        var seen = Set<String>()
        for output in outputs where !seen.insert(output.name).inserted {
            reader.fail("as", "two result columns are named \(output.name): give one of them another name with as")
        }
        if outputs.contains(where: { $0.name.hasPrefix("__") }) { reader.fail("as", "result names cannot start with __") }

        // Filters.
        var filters: [WarehouseQuery.Filter] = []
        for (index, item) in (reader.array("filters", required: false, maxCount: 50) ?? []).enumerated() {
            let field = "filters[\(index)]"
            guard case .object = item else { reader.fail(field, "must be an object with column and op"); continue }
            var part = FieldReader(item)
            let name = part.string("column", minLength: 1, maxLength: 63)
            let op = part.choice("op", QuerySpec.operators)
            reader.absorb(part, prefix: field)
            guard let found = column(name, at: "\(field).column", in: &reader), let op else { continue }
            switch QuerySpec.condition(op, item: item, type: found.type, today: today) {
            case .success(let condition): filters.append(WarehouseQuery.Filter(column: found.name, type: found.type, condition: condition))
            case .failure(let problem): reader.fail("\(field).\(problem.field)", problem.message)
            }
        }

        // Order: by result names.
        var order: [WarehouseQuery.Order] = []
        let names = Set(outputs.map(\.name))
        for (index, item) in (reader.array("order", required: false, maxCount: 10) ?? []).enumerated() {
            var part = FieldReader(item)
            guard case .object = item else { reader.fail("order[\(index)]", "must be an object with by"); continue }
            let by = part.string("by", minLength: 1, maxLength: 63)
            let direction = part.choice("direction", ["asc", "desc"], required: false) ?? "asc"
            reader.absorb(part, prefix: "order[\(index)]")
            guard let by else { continue }
            guard names.contains(by) else {
                reader.fail("order[\(index)].by", "names no result column (they are: \(outputs.map(\.name).joined(separator: ", ")))")
                continue
            }
            order.append(WarehouseQuery.Order(output: by, descending: direction == "desc"))
        }
        if order.isEmpty, grouped {
            // Time runs left to right; otherwise the biggest first.
            if let time = outputs.first(where: { if case .dimension(.bucket) = $0.output { true } else { false } }) {
                order = [WarehouseQuery.Order(output: time.name, descending: false)]
            } else if let bin = outputs.first(where: { if case .dimension(.bins) = $0.output { true } else { false } }) {
                order = [WarehouseQuery.Order(output: bin.name, descending: false)]
            } else if let measure = outputs.first(where: { $0.info.role == .measure }), outputs.count > 1 {
                order = [WarehouseQuery.Order(output: measure.name, descending: true)]
            }
        }
        let limit = reader.int("limit", required: false, range: 1...QuerySpec.maxLimit) ?? QuerySpec.defaultLimit
        try reader.finish()

        query = WarehouseQuery(tableName: tableName, outputs: outputs.map { ($0.name, $0.output) }, filters: filters,
                               order: order, limit: limit)
        self.outputs = outputs.map { QueryOutput(name: $0.name, type: $0.info.type, role: $0.info.role, label: $0.info.label) }
    }

    // MARK: Filters

    struct Problem: Error {
        let field: String
        let message: String
    }

    static func condition(_ op: String, item: JSON, type: WarehouseQuery.ValueType, today: Date) -> Result<WarehouseQuery.Condition, Problem> {
        func one(_ member: String) -> Result<String, Problem> {
            guard let value = item[member], value != .null else { return .failure(Problem(field: member, message: "is required for \(op)")) }
            return literal(value, type: type).mapError { Problem(field: member, message: $0.message) }
        }
        func many(_ member: String, count: ClosedRange<Int>) -> Result<[String], Problem> {
            guard case .array(let items)? = item["values"] else {
                return .failure(Problem(field: "values", message: "is required for \(op): an array"))
            }
            guard count.contains(items.count) else {
                return .failure(Problem(field: "values", message: count.lowerBound == count.upperBound
                    ? "must hold \(count.lowerBound) values" : "must hold \(count.lowerBound) to \(count.upperBound) values"))
            }
            var out: [String] = []
            for (index, value) in items.enumerated() {
                switch literal(value, type: type) {
                case .success(let text): out.append(text)
                case .failure(let invalid): return .failure(Problem(field: "values[\(index)]", message: invalid.message))
                }
            }
            return .success(out)
        }
        let ordered: Set<WarehouseQuery.ValueType> = [.number, .date, .timestamp]
        switch op {
        case "is_null": return .success(.isNull(true))
        case "is_not_null": return .success(.isNull(false))
        case "=", "!=", "<", "<=", ">", ">=":
            let comparison = WarehouseQuery.Comparison(rawValue: op)!
            if !["=", "!="].contains(op), !ordered.contains(type) {
                return .failure(Problem(field: "op", message: "\(op) compares numbers and dates; this column holds \(type.rawValue)s"))
            }
            return one("value").map { .compare(comparison, $0) }
        case "in":
            return many("values", count: 1...1000).map { .oneOf($0) }
        case "between":
            guard ordered.contains(type) else {
                return .failure(Problem(field: "op", message: "between needs numbers or dates; this column holds \(type.rawValue)s"))
            }
            return many("values", count: 2...2).map { .between($0[0], $0[1]) }
        case "contains":
            guard case .string(let text)? = item["value"], !text.isEmpty else {
                return .failure(Problem(field: "value", message: "is required for contains: a non-empty string"))
            }
            return .success(.contains(text))
        default:
            guard type == .date || type == .timestamp else {
                return .failure(Problem(field: "op", message: "\(op) needs a date column; this column holds \(type.rawValue)s"))
            }
            let (from, until) = relativeRange(op, today: today)
            return .success(.range(from: from, until: until))
        }
    }

    struct Invalid: Error {
        let message: String
    }

    /// A JSON value as the literal text of `type`, or what is wrong with it.
    static func literal(_ value: JSON, type: WarehouseQuery.ValueType) -> Result<String, Invalid> {
        switch (type, value) {
        case (.number, .int(let number)): return .success(String(number))
        case (.number, .double(let number)) where number.isFinite: return .success(String(number))
        case (.number, .string(let text)):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard let number = Double(trimmed), number.isFinite, trimmed.allSatisfy({ "0123456789.-+eE".contains($0) }) else {
                return .failure(Invalid(message: "must be a number"))
            }
            return .success(trimmed)
        case (.number, _): return .failure(Invalid(message: "must be a number, not \(value.typeName)"))
        case (.boolean, .bool(let flag)): return .success(flag ? "true" : "false")
        case (.boolean, _): return .failure(Invalid(message: "must be true or false, not \(value.typeName)"))
        case (.date, .string(let text)):
            guard isDate(text) else { return .failure(Invalid(message: "must be a date (YYYY-MM-DD)")) }
            return .success(text)
        case (.timestamp, .string(let text)):
            guard isDate(String(text.prefix(10))), text.count == 10 || isTime(String(text.dropFirst(10))) else {
                return .failure(Invalid(message: "must be a date or an ISO 8601 time"))
            }
            return .success(text)
        case (.date, _), (.timestamp, _): return .failure(Invalid(message: "must be a date string, not \(value.typeName)"))
        case (.text, .string(let text)): return .success(text)
        case (.text, .int(let number)): return .success(String(number))
        case (.text, .double(let number)): return .success(String(number))
        case (.text, .bool(let flag)): return .success(flag ? "true" : "false")
        case (.text, _): return .failure(Invalid(message: "must be a string, not \(value.typeName)"))
        }
    }

    /// What may follow a date in an ISO 8601 time: `THH:MM[:SS[.fff]]` and a zone.
    static func isTime(_ rest: String) -> Bool {
        rest.range(of: #"^[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)?$"#, options: .regularExpression) != nil
    }

    static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              parts[0].count == 4, (1...12).contains(month), day >= 1 else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let first = calendar.date(from: DateComponents(year: year, month: month, day: 1)),
              let days = calendar.range(of: .day, in: .month, for: first) else { return false }
        return days.contains(day)
    }

    /// `[from, until)` as dates for a relative range, weeks starting on Monday, in UTC.
    static func relativeRange(_ name: String, today date: Date) -> (String, String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        calendar.firstWeekday = 2
        let today = calendar.startOfDay(for: date)
        func add(_ component: Calendar.Component, _ value: Int, to day: Date) -> Date {
            calendar.date(byAdding: component, value: value, to: day)!
        }
        func start(of component: Calendar.Component) -> Date {
            calendar.dateInterval(of: component, for: today)!.start
        }
        let tomorrow = add(.day, 1, to: today)
        let range: (Date, Date)
        switch name {
        case "today": range = (today, tomorrow)
        case "yesterday": range = (add(.day, -1, to: today), today)
        case "last_7_days": range = (add(.day, -6, to: today), tomorrow)
        case "last_30_days": range = (add(.day, -29, to: today), tomorrow)
        case "last_90_days": range = (add(.day, -89, to: today), tomorrow)
        case "last_365_days": range = (add(.day, -364, to: today), tomorrow)
        case "this_week": range = (start(of: .weekOfYear), add(.day, 7, to: start(of: .weekOfYear)))
        case "last_week": range = (add(.day, -7, to: start(of: .weekOfYear)), start(of: .weekOfYear))
        case "this_month": range = (start(of: .month), add(.month, 1, to: start(of: .month)))
        case "last_month": range = (add(.month, -1, to: start(of: .month)), start(of: .month))
        case "this_quarter", "last_quarter":
            let month = calendar.component(.month, from: today)
            let quarterStart = calendar.date(from: DateComponents(year: calendar.component(.year, from: today),
                                                                   month: (month - 1) / 3 * 3 + 1, day: 1))!
            range = name == "this_quarter" ? (quarterStart, add(.month, 3, to: quarterStart)) : (add(.month, -3, to: quarterStart), quarterStart)
        case "this_year": range = (start(of: .year), add(.year, 1, to: start(of: .year)))
        default: range = (add(.year, -1, to: start(of: .year)), start(of: .year)) // last_year
        }
        let format = { (day: Date) -> String in
            let parts = calendar.dateComponents([.year, .month, .day], from: day)
            return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
        }
        return (format(range.0), format(range.1))
    }
}
