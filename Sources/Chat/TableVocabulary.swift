import Data
import Documents
import Foundation
import JSONValues
import Query

/// What a question can be matched against in one warehouse table: each column's header words
/// and character (numbers it holds, whether it names people or numbers rows), and an index
/// from the normal form of every text value to the columns holding it.
public struct TableVocabulary: Sendable {
    /// Distinct values read per column; a column with more is matched by range only.
    public static let valueLimit = 20_000

    public struct Column: Sendable {
        public let name: String
        public let header: String
        public let type: WarehouseQuery.ValueType
        public let declaredType: String
        /// How the source writes dates (a `DateStyle` template), when not ISO.
        public let format: String?
        /// The header's words, folded.
        let words: [String]
        /// Their stems without stop words (all stems when only stop words remain).
        let content: [String]
        /// Numbers in parentheses ("Withdrawal rate (2010-11)"): they count when a question
        /// names them and are not missed when it does not.
        let optional: Set<String>
        let numbers: Set<Double>
        let numbersComplete: Bool
        let low: Double?
        let high: Double?
        let dates: Set<String>
        /// 0…1: how much the column names people or organisations.
        let personLike: Double
        /// Numbers that name or order rows (pick numbers, years, ranks) rather than measure them.
        let identifierLike: Bool
        /// Words at least half of the column's values carry ("isbn" in "ISBN 0-441-01333-3").
        let commonWords: Set<String>

        var isNumber: Bool { type == .number }
        var isDate: Bool { type == .date || type == .timestamp }
        var isPercent: Bool { declaredType == "percent" }

        /// Whether the column's dates reach within a year of `year` (or are too many to know).
        func covers(year: Int) -> Bool {
            guard numbersComplete || !dates.isEmpty, let first = dates.min(), let last = dates.max(),
                  let low = Int(first.prefix(4)), let high = Int(last.prefix(4)) else { return true }
            return year >= low - 1 && year <= high + 1
        }

        /// A value of this column as the source writes it: dates in its style, percentages with "%".
        public func shown(_ value: JSON) -> JSON {
            switch value {
            case .string(let text) where isDate:
                return .string(format.map { DateStyle.render(text, style: $0) } ?? text)
            case .int(let n) where isPercent: return .string("\(n)%")
            case .double(let d) where isPercent: return .string("\(plain(d))%")
            case .string(let s) where isPercent: return .string("\(s)%")
            default: return value
            }
        }
    }

    public let columns: [Column]
    /// Normal form → column index → the values as stored (a few spellings at most).
    let values: [String: [Int: [String]]]

    /// Builds the vocabulary from the table's columns and up to `valueLimit` distinct values
    /// of each (as text, in column order).
    public init(columns: [QueryColumn], distinct: [(values: [String], complete: Bool)]) {
        var index: [String: [Int: [String]]] = [:]
        var built: [Column] = []
        for (position, column) in columns.enumerated() {
            let list = position < distinct.count ? distinct[position].values : []
            let complete = position < distinct.count ? distinct[position].complete : false
            let words = Words.tokens(column.header)
            let stems = words.map(Words.stem)
            let content = stems.filter { !Words.stop.contains($0) }
            var optional = Set<String>()
            var depth = 0
            var token = ""
            for character in Words.fold(column.header) + " " {
                if Words.isWordCharacter(character) { token.append(character); continue }
                if depth > 0, !token.isEmpty, token.allSatisfy(\.isNumber) { optional.insert(token) }
                token = ""
                if character == "(" { depth += 1 } else if character == ")" { depth = max(0, depth - 1) }
            }
            if optional.count == content.count { optional = [] }
            var numbers = Set<Double>()
            var dates = Set<String>()
            var names = 0
            var wordCounts: [String: Int] = [:]
            switch column.type {
            case .number:
                numbers = Set(list.compactMap(Double.init))
            case .date, .timestamp:
                dates = Set(list.map { String($0.prefix(10)) })
            case .text:
                for value in list {
                    let normal = Words.normal(value)
                    guard !normal.isEmpty, normal.utf8.count <= 160 else { continue }
                    var spellings = index[normal, default: [:]][position, default: []]
                    if spellings.count < 4, !spellings.contains(value) { spellings.append(value) }
                    index[normal, default: [:]][position] = spellings
                    if TableVocabulary.looksLikeName(value) { names += 1 }
                    for word in Set(normal.split(separator: " ")) where word.count >= 2 && word.allSatisfy(\.isLetter) {
                        wordCounts[String(word), default: 0] += 1
                    }
                }
            case .boolean:
                break
            }
            let personLike: Double = column.type != .text ? 0
                : !Set(words).isDisjoint(with: Words.personHeaderWords) ? 1
                : list.isEmpty ? 0 : 0.5 * Double(names) / Double(list.count)
            let yearLike = !numbers.isEmpty && numbers.allSatisfy { $0 >= 1800 && $0 <= 2100 && $0 == $0.rounded() }
            built.append(Column(
                name: column.name, header: column.header, type: column.type, declaredType: column.declaredType,
                format: column.format, words: words, content: content.isEmpty ? stems : content, optional: optional,
                numbers: numbers, numbersComplete: complete,
                low: numbers.min(), high: numbers.max(), dates: dates, personLike: personLike,
                identifierLike: column.type != .number || !Set(words).isDisjoint(with: Words.identifierHeaderWords)
                    || column.header.contains("#") || yearLike,
                commonWords: list.count < 2 ? [] : Set(wordCounts.filter { Double($0.value) >= 0.5 * Double(list.count) }.keys)))
        }
        self.columns = built
        self.values = index
    }

    /// "Jon Harmon Feldman", "Ivan Ljubičić": two to four capitalised words.
    static func looksLikeName(_ value: String) -> Bool {
        let parts = value.split(separator: " ")
        guard (2...4).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            guard let first = part.first, first.isUppercase, part.count >= 2 else { return false }
            return part.allSatisfy { $0.isLetter || "'.-".contains($0) }
        }
    }

    /// The columns holding the number `value`: every numeric column whose distinct values
    /// include it, or that has too many values to know and whose range includes it.
    func numericColumns(holding value: Double) -> [Int] {
        columns.indices.filter { index in
            let column = columns[index]
            guard column.isNumber else { return false }
            if column.numbers.contains(value) { return true }
            guard !column.numbersComplete, let low = column.low, let high = column.high else { return false }
            return value >= low && value <= high
        }
    }
}
