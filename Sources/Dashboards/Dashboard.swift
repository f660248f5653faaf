import Data
import Foundation
import JSONValues
import Query

/// A dashboard's widget: a chart type, a title, one warehouse table, a query spec over it
/// (without its `table` member) and a place in a 12-column grid.
public enum WidgetType: String, Sendable, CaseIterable {
    case kpi, line, area, bar, pie, scatter, histogram, table
}

/// Checking and running dashboards' widgets.
public struct Dashboards {
    public static let maxWidgets = 20
    public static let themes = ["light", "dark"]

    let db: Database

    public init(_ db: Database) { self.db = db }

    /// Checks widgets and dashboard filters as a client sent them (`PUT`): every widget's
    /// query against its table's columns, and every filter against each widget table it
    /// applies to; every problem named (`widgets[2].query.measures[0].column`, `filters[0].value`).
    /// Returns the config as stored (`{"widgets", "filters"}`), ids given to widgets without one.
    public func checkedConfig(widgets items: [JSON], filters: [JSON], team: UUID) throws -> JSON {
        var reader = FieldReader(.object([]))
        var widgets: [JSON] = []
        var ids = Set<String>()
        // The widgets' tables, looked up once.
        let named = items.compactMap { item -> UUID? in if case .string(let text)? = item["table"] { UUID(uuidString: text) } else { nil } }
        let tables = Dictionary(try WarehouseCatalogRepository(db).tables(ids: Array(Set(named)), team: team).map { ($0.id, $0) },
                                uniquingKeysWith: { first, _ in first })
        var used: [UUID: WarehouseTableRef] = [:]
        for (index, item) in items.enumerated() {
            let field = "widgets[\(index)]"
            guard case .object = item else { reader.fail(field, "must be an object"); continue }
            var part = FieldReader(item)
            let id = part.has("id") ? part.string("id", minLength: 1, maxLength: 40) : "w\(index + 1)"
            let type = part.choice("type", as: WidgetType.self)
            let title = part.string("title", minLength: 1, maxLength: 200)
            let tableText = part.string("table", minLength: 1, maxLength: 64)
            let query = part.object("query")
            let layout = part.object("layout", required: false)
            reader.absorb(part, prefix: field)
            if let id, !ids.insert(id).inserted { reader.fail("\(field).id", "is used by another widget") }
            guard let id, let type, let title, let tableText, let query else { continue }
            guard let tableID = UUID(uuidString: tableText), let table = tables[tableID] else {
                reader.fail("\(field).table", "names no table of your team")
                continue
            }
            used[tableID] = table
            do {
                _ = try QuerySpec(query.value, tableName: table.tableName, columns: QueryColumn.list(fromCatalog: table.columns))
            } catch let failure as ValidationFailure {
                for (name, message) in failure.fields { reader.fail("\(field).query.\(name)", message) }
                continue
            }
            var place: JSON = ["x": 0, "y": .int(Int64(index * 4)), "w": 12, "h": 4]
            if var layout {
                let x = layout.int("x", range: 0...11), y = layout.int("y", range: 0...1000)
                let w = layout.int("w", range: 1...12), h = layout.int("h", range: 1...40)
                reader.absorb(layout, prefix: "\(field).layout")
                if let x, let y, let w, let h { place = ["x": .int(Int64(x)), "y": .int(Int64(y)), "w": .int(Int64(w)), "h": .int(Int64(h))] }
            }
            var members: [(String, JSON)] = [("id", .string(id)), ("type", .string(type.rawValue)), ("title", .string(title)),
                                             ("table", .string(tableID.lower)), ("query", query.value), ("layout", place)]
            if let note = item["note"], case .string = note { members.append(("note", note)) }
            widgets.append(.object(members))
        }
        for (index, item) in filters.enumerated() {
            let field = "filters[\(index)]"
            guard case .object(let members) = item else { reader.fail(field, "must be an object with column and op"); continue }
            var part = FieldReader(item)
            let column = part.string("column", minLength: 1, maxLength: 63)
            var only: UUID?
            if part.has("table") {
                only = UUID(uuidString: part.string("table", maxLength: 64) ?? "")
                if only == nil || used[only!] == nil { part.fail("table", "names no table of this dashboard's widgets") }
            }
            reader.absorb(part, prefix: field)
            guard let column, part.errors.isEmpty else { continue }
            // It applies to each widget table that has the column: it must fit every one.
            let targets = used.values.filter { table in
                (only == nil || table.id == only) && QueryColumn.list(fromCatalog: table.columns).contains { $0.name == column }
            }.sorted { $0.id.uuidString < $1.id.uuidString }
            if targets.isEmpty { reader.fail("\(field).column", "names no column of this dashboard's widgets' tables") }
            let condition = JSON.object(members.filter { $0.0 != "table" })
            for table in targets {
                do {
                    _ = try QuerySpec(["columns": [.string(column)], "filters": [condition]], tableName: table.tableName,
                                      columns: QueryColumn.list(fromCatalog: table.columns))
                } catch let failure as ValidationFailure {
                    for (name, message) in failure.fields {
                        reader.fail(name.replacingOccurrences(of: "filters[0]", with: field), message)
                    }
                }
            }
        }
        try reader.finish()
        return ["widgets": .array(widgets), "filters": .array(filters)]
    }

    /// At most how many rows the widgets' queries return, known before any runs: each widget's
    /// `limit` (the query layer's default without one) capped by its table's rows, and one row
    /// for a widget of measures alone. Exports decide from it whether to stream or make a job.
    public static func rowBound(config: JSON, rowCounts: [UUID: Int64]) -> Int64 {
        guard case .array(let widgets)? = config["widgets"] else { return 0 }
        return widgets.reduce(Int64(0)) { total, widget in
            let query = widget["query"] ?? .null
            let measures: Bool = if case .array(let items)? = query["measures"] { !items.isEmpty } else { false }
            let dimensions: Bool = if case .array(let items)? = query["dimensions"] { !items.isEmpty } else { false }
            if measures && !dimensions { return total + 1 }
            let limit: Int64 = if case .int(let value)? = query["limit"] { value } else { Int64(QuerySpec.defaultLimit) }
            let table: UUID? = if case .string(let text)? = widget["table"] { UUID(uuidString: text) } else { nil }
            return total + min(limit, table.flatMap { rowCounts[$0] } ?? 0)
        }
    }

    /// The dashboard as `GET /api/dashboards/{id}` shows it and its JSON export writes it: the
    /// configuration and, with `data`, each widget's result beside it.
    public func document(_ record: DashboardRecord, team: UUID, data: Bool) throws -> JSON {
        let config = (try? JSON.parse(Array(record.config.utf8))) ?? .null
        return Dashboards.document(record, config: config, results: data ? try self.data(config: config, team: team) : nil)
    }

    /// The document of a dashboard whose widgets' `results` (in widget order) were run already.
    public static func document(_ record: DashboardRecord, config: JSON, results: [JSON]?) -> JSON {
        var widgets: [JSON] = if case .array(let items)? = config["widgets"] { items } else { [] }
        if let results {
            widgets = zip(widgets, results).map { widget, result in
                guard case .object(var members) = widget else { return widget }
                members.append(("data", result))
                return .object(members)
            }
        }
        return [
            "id": .string(record.id.lower), "title": .string(record.title), "theme": .string(record.theme),
            "sources": (try? JSON.parse(Array(record.sources.utf8))) ?? .object([]),
            "widgets": .array(widgets), "filters": config["filters"] ?? .array([]),
            "created_at": .string(PostgresTime.format(record.createdAt)), "updated_at": .string(PostgresTime.format(record.updatedAt)),
        ]
    }

    /// Each widget's data: its query with the dashboard's filters that concern its table (a
    /// filter naming a `table`, or without one any table that has the column), run through
    /// the query layer. A widget that cannot run (its table deleted, a filter that does not
    /// fit) gets an `error` instead of failing the dashboard. Widgets that only aggregate
    /// (KPIs) over the same table with the same filters are answered by one query: one pass
    /// over a large table instead of one per KPI.
    public func data(config: JSON, team: UUID) throws -> [JSON] {
        guard case .array(let widgets)? = config["widgets"] else { return [] }
        let filters: [JSON] = if case .array(let items)? = config["filters"] { items } else { [] }
        let runner = QueryRunner(db)
        // Every table the widgets read, looked up once.
        let ids = Set(widgets.compactMap { widget -> UUID? in
            if case .string(let text)? = widget["table"] { UUID(uuidString: text) } else { nil }
        })
        let tables = Dictionary(try WarehouseCatalogRepository(db).tables(ids: Array(ids).sorted { $0.uuidString < $1.uuidString }, team: team)
            .map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let prepared: [Result<(table: WarehouseTableRef, spec: [(String, JSON)]), WidgetProblem>] = widgets.map { widget in
            guard case .string(let tableText)? = widget["table"], let tableID = UUID(uuidString: tableText),
                  case .object(var spec)? = widget["query"] else {
                return .failure(WidgetProblem(code: "invalid_widget", message: "the widget has no table or query"))
            }
            guard let table = tables[tableID] else {
                return .failure(WidgetProblem(code: "table_missing", message: "the widget's table no longer exists"))
            }
            let names = Set(QueryColumn.list(fromCatalog: table.columns).map(\.name))
            var extra: [JSON] = []
            for filter in filters {
                if case .string(let table)? = filter["table"], table.lowercased() != tableID.lower { continue }
                guard case .string(let column)? = filter["column"], names.contains(column) else { continue }
                guard case .object(let members) = filter else { continue }
                extra.append(.object(members.filter { $0.0 != "table" }))
            }
            spec.removeAll { $0.0 == "table" }
            spec.append(("table", .string(tableID.lower)))
            if !extra.isEmpty {
                let existing: [JSON] = if case .array(let items)? = JSON.object(spec)["filters"] { items } else { [] }
                spec.removeAll { $0.0 == "filters" }
                spec.append(("filters", .array(existing + extra)))
            }
            return .success((table, spec))
        }
        var answered = combinedMeasures(prepared, runner: runner, team: team)
        return prepared.enumerated().map { index, item in
            if let done = answered.removeValue(forKey: index) { return done }
            switch item {
            case .failure(let problem):
                return ["error": ["code": .string(problem.code), "message": .string(problem.message)]]
            case .success(let (table, spec)):
                do {
                    let result = try runner.run(.object(spec), on: table, team: team)
                    return Dashboards.present(outputs: result.outputs, rowsJSON: result.rowsJSON, truncated: result.truncated)
                } catch {
                    return Dashboards.problem(error)
                }
            }
        }
    }

    struct WidgetProblem: Error {
        let code: String
        let message: String
    }

    static func present(outputs: [QueryOutput], rowsJSON: String, truncated: Bool) -> JSON {
        [
            "columns": .array(outputs.map { ["name": .string($0.name), "type": .string($0.type.rawValue),
                                             "role": .string($0.role.rawValue), "label": .string($0.label)] }),
            "rows": (try? JSON.parse(Array(rowsJSON.utf8))) ?? .array([]),
            "truncated": .bool(truncated),
        ]
    }

    static func problem(_ error: Error) -> JSON {
        switch error {
        case QueryFailure.tooSlow(let milliseconds):
            return ["error": ["code": "query_too_slow", "message": .string("the query ran longer than \(milliseconds / 1000) s")]]
        case let failure as ValidationFailure:
            // The table's columns changed since the widget was made (a re-sync).
            return ["error": ["code": "invalid_query", "message": .string(failure.fields.map { "\($0.0): \($0.1)" }.joined(separator: "; "))]]
        default:
            return ["error": ["code": "query_failed", "message": .string("\(error)")]]
        }
    }

    /// The data of every widget whose spec is measures only, run together per table and
    /// filters (at least two of them): each measure renamed `m<widget>_<n>` in one query, the
    /// result split back into each widget's own columns. Widgets the combined query cannot
    /// serve (one of them invalid) are left to run on their own.
    func combinedMeasures(_ prepared: [Result<(table: WarehouseTableRef, spec: [(String, JSON)]), WidgetProblem>],
                          runner: QueryRunner, team: UUID) -> [Int: JSON] {
        var groups: [String: [Int]] = [:]
        for (index, item) in prepared.enumerated() {
            guard case .success(let (table, spec)) = item, spec.allSatisfy({ ["table", "measures", "filters"].contains($0.0) }),
                  case .array(let measures)? = JSON.object(spec)["measures"], !measures.isEmpty else { continue }
            groups["\(table.id)|\(JSON.object(spec)["filters"]?.serializedText ?? "")", default: []].append(index)
        }
        var answered: [Int: JSON] = [:]
        for members in groups.values where members.count >= 2 {
            guard case .success(let (table, first)) = prepared[members[0]] else { continue }
            let columns = QueryColumn.list(fromCatalog: table.columns)
            var combined: [JSON] = []
            var parts: [(index: Int, outputs: [QueryOutput], range: Range<Int>)] = []
            for index in members {
                guard case .success(let (_, spec)) = prepared[index], case .array(let measures)? = JSON.object(spec)["measures"],
                      let own = try? QuerySpec(.object(spec.filter { $0.0 != "table" }), tableName: table.tableName, columns: columns)
                else { continue }
                let start = combined.count
                for (position, measure) in measures.enumerated() {
                    guard case .object(var members) = measure else { continue }
                    members.removeAll { $0.0 == "as" }
                    members.append(("as", .string("m\(index)_\(position)")))
                    combined.append(.object(members))
                }
                parts.append((index, own.outputs, start..<combined.count))
            }
            guard parts.count >= 2 else { continue }
            var spec = first.filter { $0.0 != "measures" }
            spec.append(("measures", .array(combined)))
            guard let result = try? runner.run(.object(spec), on: table, team: team),
                  case .array(let rows)? = try? JSON.parse(Array(result.rowsJSON.utf8)),
                  case .array(let row)? = rows.first, row.count == combined.count else { continue }
            for part in parts {
                let values = JSON.array(Array(row[part.range]))
                answered[part.index] = Dashboards.present(outputs: part.outputs, rowsJSON: JSON.array([values]).serializedText,
                                                          truncated: false)
            }
        }
        return answered
    }
}
