import Data
import Foundation
import JSONValues

/// What a column is for, guessed from its type, its values and its header: dashboards pick
/// charts by it and chat matches words through it.
public enum ColumnRole: String, Sendable, CaseIterable {
    case identifier, category, measure, currencyAmount = "currency_amount", date, freeText = "free_text"
}

/// Profiles of warehouse tables: per column the type, null share, distinct estimate, min and
/// max, top values and a role guess. Large tables are profiled on a block sample of about
/// `sampleRows` rows. A profile is kept and computed again only when its table changed.
public struct TableProfiler {
    public static let sampleRows = 50_000

    let db: Database

    public init(_ db: Database) { self.db = db }

    /// The profile of one of the team's tables (`{"row_count", "sampled", "sample_rows",
    /// "columns": [...]}`) and when it was computed; nil when the team has no such table.
    public func profile(table id: UUID, team: UUID) throws -> (table: WarehouseTableRef, profile: JSON, computedAt: Date)? {
        guard let table = try WarehouseCatalogRepository(db).table(id: id, team: team) else { return nil }
        let profiles = TableProfileRepository(db)
        let fingerprint = "\(table.rowCount)|\(table.columns)|\(table.createdAt.timeIntervalSince1970)|\(table.lastSyncAt?.timeIntervalSince1970 ?? 0)"
        if let kept = try profiles.kept(table: id, team: team, fingerprint: fingerprint),
           let json = try? JSON.parse(Array(kept.profile.utf8)) {
            return (table, json, kept.computedAt)
        }
        let profile = try compute(table)
        let computedAt = try profiles.keep(table: id, team: team, fingerprint: fingerprint, profile: profile.serializedText)
        return (table, profile, computedAt)
    }

    func compute(_ table: WarehouseTableRef) throws -> JSON {
        let columns = QueryColumn.list(fromCatalog: table.columns)
        let sampled = table.rowCount > Int64(TableProfiler.sampleRows) * 2
        let percent = sampled ? max(0.01, Double(TableProfiler.sampleRows) / Double(table.rowCount) * 100) : nil
        let text = try TableProfileRepository(db).statistics(
            tableName: table.tableName,
            columns: columns.map { .init(name: $0.name, ordered: [.number, .date, .timestamp].contains($0.type)) },
            samplePercent: percent)
        let stats = try JSON.parse(Array(text.utf8))
        let seen: Int64 = if case .int(let n)? = stats["rows"] { n } else { 0 }
        let scale = seen > 0 ? Double(table.rowCount) / Double(seen) : 1
        var items: [JSON] = []
        for (index, column) in columns.enumerated() {
            guard case .array(let all)? = stats["columns"], index < all.count else { continue }
            let s = all[index]
            let nonNull: Int64 = if case .int(let n)? = s["non_null"] { n } else { 0 }
            var distinct: Int64 = if case .int(let n)? = s["distinct"] { n } else { 0 }
            // A sample sees every value of a category but only some of a unique column's.
            if sampled, nonNull > 0, Double(distinct) / Double(nonNull) > 0.9 { distinct = Int64(Double(distinct) * scale) }
            let averageLength: Double = switch s["avg_length"] { case .double(let d)?: d; case .int(let n)?: Double(n); default: 0 }
            let role = TableProfiler.role(column, nonNull: Int64(Double(nonNull) * (sampled ? scale : 1)), distinct: distinct,
                                          averageLength: averageLength)
            items.append([
                "name": .string(column.name), "header": .string(column.header), "type": .string(column.type.rawValue),
                "declared_type": .string(column.declaredType),
                "null_share": .double(seen > 0 ? ((1 - Double(nonNull) / Double(seen)) * 10_000).rounded() / 10_000 : 0),
                "distinct_estimate": .int(distinct), "min": s["min"] ?? .null, "max": s["max"] ?? .null,
                "top_values": s["top"] ?? .array([]), "role": .string(role.rawValue),
            ])
        }
        return ["row_count": .int(table.rowCount), "sampled": .bool(sampled), "sample_rows": .int(seen), "columns": .array(items)]
    }

    /// Words that name identifiers and money, in the languages of the documents Assay reads.
    static let identifierWords: Set<String> = ["id", "no", "nr", "number", "num", "code", "key", "ref", "reference", "nummer", "numero", "uuid", "sku"]
    static let moneyWords: Set<String> = [
        "amount", "price", "total", "cost", "costs", "revenue", "sales", "fee", "fees", "tax", "vat", "balance", "paid", "payment",
        "subtotal", "net", "gross", "income", "expense", "expenses", "budget", "salary", "betrag", "preis", "summe", "montant", "prix",
        "usd", "eur", "gbp", "chf", "€", "$", "£",
    ]

    static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber || "€$£".contains($0)) }.map(String.init)
    }

    static func role(_ column: QueryColumn, nonNull: Int64, distinct: Int64, averageLength: Double) -> ColumnRole {
        let named = Set(words(column.name) + words(column.header))
        let unique = nonNull > 0 && Double(distinct) >= 0.95 * Double(nonNull)
        switch column.type {
        case .date, .timestamp:
            return .date
        case .boolean:
            return .category
        case .number:
            if column.declaredType.lowercased() == "currency" || !named.isDisjoint(with: moneyWords) { return .currencyAmount }
            if unique, !named.isDisjoint(with: identifierWords) { return .identifier }
            return .measure
        case .text:
            if averageLength > 40 { return .freeText }
            if unique, nonNull > 1, averageLength <= 24, !named.isDisjoint(with: identifierWords) || averageLength <= 12 { return .identifier }
            if distinct <= 50 || Double(distinct) <= 0.5 * Double(nonNull) { return .category }
            return unique && averageLength <= 24 ? .identifier : .freeText
        }
    }
}
