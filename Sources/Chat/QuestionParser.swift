import Data
import Documents
import Foundation

/// Reads a question about one table into an `Interpretation`, with no network: the table's own
/// headers and values are the dictionary. In order:
///
/// 1. headers written out in the question ("part 1", "top 10", "2006") are column mentions;
/// 2. dates, then runs of words equal to a stored text value (longest first), then numbers
///    (with a comparison before them, "more than 20"), become conditions;
/// 3. each condition's column is the one whose header labels it — the words just before it
///    ("a grid of 27", "laps more than 20") or just after ("20 laps") — among the columns that
///    hold that value;
/// 4. the column asked for is the one whose header the remaining words name best; "who",
///    "when" and "where" fall back to a column of people, dates or places;
/// 5. aggregation words ("how many", "average", "highest"…), grouping ("by month", "per
///    region"), ranking ("top 5") and relative dates ("last month") shape the rest.
///
/// General English and the table's vocabulary only: nothing is keyed to a table or a question.
public struct QuestionParser: Sendable {
    let table: TableVocabulary

    public init(_ table: TableVocabulary) { self.table = table }

    public func interpret(_ question: String, today: Date = Date()) -> Interpretation {
        var reading = Reading(question, table: table)
        reading.findMentions()
        reading.findRelativeDates(today: today)
        let ranking = reading.findRanking()
        reading.findDates()
        reading.findTextValues()
        reading.findNumbers()
        var grouping = reading.findGrouping()
        var measure: Int?
        if let ranking { (grouping, measure) = reading.rankedGroup(after: ranking.end, grouping: grouping) }
        reading.assignColumns()
        var result = reading.interpretation(ranking: ranking.map { ($0.descending, $0.limit) }, grouping: grouping)
        if let measure, result.grouping != nil || result.aggregate == nil {
            result.select = measure
            result.selectNamed = true
            result.problem = nil
        }
        return result
    }
}

/// One question being read: its words and what each has been taken for.
struct Reading {
    enum Role: Equatable {
        /// Names a column (its header, or part of it).
        case mention(Int)
        /// Part of a condition's value.
        case value(Int)
        /// A header word that labels a condition's column.
        case label(Int)
        /// Part of a grouping, ranking or relative-date phrase.
        case phrase
    }

    struct Candidate {
        var columns: [Int]
        var values: [Int: Interpretation.Value]
        var op: Interpretation.Operator
        /// Per column, where it differs from `op` (a year on a date column is a range from its start).
        var ops: [Int: Interpretation.Operator] = [:]
        var relative: String?
        var start: Int
        var end: Int
        /// The comparison came right before the number ("more than 2 silver"): the column is
        /// more likely named after the number.
        var comparisonAdjacent = false
        var chosen: Int?
        /// Extra conditions that go with the chosen one (the end of a year range).
        var companions: [Int: Interpretation.Condition] = [:]
    }

    let table: TableVocabulary
    let folded: String
    let words: [String]
    let stems: [String]
    let ranges: [Range<String.Index>]
    /// `boundary[k]`: punctuation that ends a clause lies between word k-1 and word k.
    var boundary: [Bool]
    var role: [Role?]
    var candidates: [Candidate] = []

    init(_ question: String, table: TableVocabulary) {
        self.table = table
        folded = Words.fold(question.trimmingCharacters(in: .whitespacesAndNewlines))
        var words: [String] = []
        var ranges: [Range<String.Index>] = []
        var index = folded.startIndex
        while index < folded.endIndex {
            if Words.isWordCharacter(folded[index]) {
                var end = index
                while end < folded.endIndex, Words.isWordCharacter(folded[end]) { end = folded.index(after: end) }
                words.append(String(folded[index..<end]))
                ranges.append(index..<end)
                index = end
            } else {
                index = folded.index(after: index)
            }
        }
        self.words = words
        self.ranges = ranges
        stems = words.map(Words.stem)
        boundary = Array(repeating: false, count: words.count + 1)
        for k in 1..<max(1, words.count) {
            let gap = folded[ranges[k - 1].upperBound..<ranges[k].lowerBound]
            // "(team 2)" right after a value labels it: an opening parenthesis alone is no boundary.
            let trimmed = gap.trimmingCharacters(in: .whitespaces)
            if trimmed != "(", gap.contains(where: { ",;?!:()".contains($0) }) { boundary[k] = true }
        }
        role = Array(repeating: nil, count: words.count)
    }

    var count: Int { words.count }

    func free(_ range: Range<Int>) -> Bool { range.allSatisfy { role[$0] == nil } }

    /// The words inside a character range of `folded`.
    func wordRange(_ characters: Range<String.Index>) -> Range<Int>? {
        let inside = ranges.indices.filter { ranges[$0].lowerBound >= characters.lowerBound && ranges[$0].upperBound <= characters.upperBound }
        guard let first = inside.first, let last = inside.last else { return nil }
        return first..<(last + 1)
    }

    /// The parser's patterns, compiled once per process (every question uses them all).
    private final class Compiled: @unchecked Sendable {
        let lock = NSLock()
        var regexes: [String: NSRegularExpression] = [:]
    }
    private static let compiled = Compiled()

    static func regex(_ pattern: String) -> NSRegularExpression? {
        compiled.lock.withLock {
            if let kept = compiled.regexes[pattern] { return kept }
            let made = try? NSRegularExpression(pattern: pattern)
            compiled.regexes[pattern] = made
            return made
        }
    }

    func matches(_ pattern: String) -> [(range: Range<String.Index>, groups: [String])] {
        guard let regex = Reading.regex(pattern) else { return [] }
        return regex.matches(in: folded, range: NSRange(folded.startIndex..., in: folded)).compactMap { match in
            guard let range = Range(match.range, in: folded) else { return nil }
            let groups = (1..<match.numberOfRanges).map { index -> String in
                Range(match.range(at: index), in: folded).map { String(folded[$0]) } ?? ""
            }
            return (range, groups)
        }
    }

    // MARK: 1. Headers written out

    /// Headers with a number in them written out in full ("part 1", "2004–05 pts"), headers
    /// that are a number ("2006") when that number is no value, and a header's number next to
    /// the header's own word in the header's order ("in the top 10").
    mutating func findMentions() {
        for (position, column) in table.columns.enumerated() {
            let header = column.words
            guard header.count >= 2, header.contains(where: { $0.first?.isNumber == true }), header.count <= count else { continue }
            for start in 0...(count - header.count) where Array(words[start..<(start + header.count)]) == header
                && free(start..<(start + header.count)) {
                for k in start..<(start + header.count) { role[k] = .mention(position) }
            }
        }
        for k in 0..<count where role[k] == nil && words[k].allSatisfy(\.isNumber) {
            for (position, column) in table.columns.enumerated() {
                guard let at = column.words.firstIndex(of: words[k]) else { continue }
                let number = Double(words[k]) ?? .nan
                let isValue = table.columns.contains { $0.numbers.contains(number) } || table.values[words[k]] != nil
                let whole = column.words == [words[k]]
                let neighbours = [(k - 1, at - 1), (k + 1, at + 1)].filter { word, header in
                    word >= 0 && word < count && header >= 0 && header < column.words.count && words[word] == column.words[header]
                        && !Words.stop.contains(words[word])
                }
                if (whole && !isValue) || !neighbours.isEmpty {
                    role[k] = .mention(position)
                    for (word, _) in neighbours where role[word] == nil { role[word] = .mention(position) }
                    break
                }
            }
        }
    }

    // MARK: 2. Ranking, relative dates, dates, text values, numbers

    /// "top 5", "the 3 largest", "bottom 10": how many and which end. The number is not a condition.
    mutating func findRanking() -> (descending: Bool, limit: Int, end: Int)? {
        for k in 0..<count where role[k] == nil {
            let word = words[k]
            if ["top", "bottom", "first", "last"].contains(word), k + 1 < count, role[k + 1] == nil,
               let limit = Int(words[k + 1]), (1...1000).contains(limit) {
                role[k] = .phrase; role[k + 1] = .phrase
                return (word != "bottom", limit, k + 2)
            }
            if let limit = Int(word), (1...1000).contains(limit), k + 1 < count, role[k + 1] == nil,
               let descending = Reading.superlatives[words[k + 1]], k == 0 || !Words.comparisonWords.contains(words[k - 1]) {
                role[k] = .phrase
                return (descending, limit, k + 2)
            }
        }
        return nil
    }

    /// "top 3 customers by amount": the groups ranked are the text column named right after
    /// the ranking (customers), and "by amount" names the measure, not a grouping. Without such
    /// a column the rows themselves are ranked by the measure.
    mutating func rankedGroup(after end: Int, grouping: Interpretation.Grouping?) -> (Interpretation.Grouping?, Int?) {
        var measure: Int?
        var grouping = grouping
        if let current = grouping, table.columns[current.column].isNumber {
            measure = current.column
            grouping = nil
        }
        guard grouping == nil, end < count else { return (grouping, measure) }
        let texts = table.columns.indices.filter { table.columns[$0].type == .text }
        var stop = end
        while stop < min(count, end + 3), labelable(stop) { stop += 1 }
        let range = end..<stop
        guard !range.isEmpty, let named = label(range, texts), named.score >= 0.5 else { return (grouping, measure) }
        for k in range where table.columns[named.column].content.contains(where: { Words.match(stems[k], $0) > 0 }) { role[k] = .phrase }
        return (Interpretation.Grouping(column: named.column, bucket: nil), measure)
    }

    /// Superlatives and which end they rank from.
    static let superlatives: [String: Bool] = [
        "highest": true, "most": true, "largest": true, "biggest": true, "greatest": true, "best": true, "top": true,
        "latest": true, "longest": true, "lowest": false, "least": false, "smallest": false, "fewest": false,
        "worst": false, "earliest": false, "shortest": false, "cheapest": false,
    ]

    /// "last 30 days", "this year", "last month", "yesterday": a range on a date column.
    mutating func findRelativeDates(today: Date) {
        let dateColumns = table.columns.indices.filter { table.columns[$0].isDate }
        guard !dateColumns.isEmpty else { return }
        let named: [(pattern: String, name: String?)] = [
            (#"\b(?:in |over |during )?the (?:last|past) (\d{1,4}) (day|week|month|year)s?\b"#, nil),
            (#"\b(?:in |over |during )?(?:the )?(?:last|past) (\d{1,4}) (day|week|month|year)s?\b"#, nil),
            (#"\b(?:so far )?this (week|month|quarter|year)\b"#, "this"),
            (#"\b(?:in |during )?(?:the )?(?:last|previous|past) (week|month|quarter|year)\b"#, "last"),
            (#"\b(today|yesterday)\b"#, "day"),
            (#"\byear to date\b|\bytd\b"#, "ytd"),
        ]
        for (pattern, kind) in named {
            for match in matches(pattern) {
                guard let span = wordRange(match.range), free(span) else { continue }
                let relative: String?
                var from: String?
                switch kind {
                case nil:
                    let amount = Int(match.groups[0]) ?? 0
                    let unit = match.groups[1]
                    let days = amount * (unit == "day" ? 1 : unit == "week" ? 7 : unit == "month" ? 30 : 365)
                    relative = [7: "last_7_days", 30: "last_30_days", 90: "last_90_days", 365: "last_365_days"][days]
                    if relative == nil, days > 0 { from = Reading.isoDate(today.addingTimeInterval(-Double(days - 1) * 86_400)) }
                case "this"?: relative = "this_\(match.groups[0])"
                case "last"?: relative = "last_\(match.groups[0])"
                case "ytd"?: relative = "this_year"
                default: relative = match.groups[0]
                }
                for k in span { role[k] = .value(candidates.count) }
                var values: [Int: Interpretation.Value] = [:]
                for column in dateColumns { values[column] = .date(from ?? "") }
                candidates.append(Candidate(columns: dateColumns, values: values, op: from == nil ? .equal : .greaterOrEqual,
                                            relative: relative, start: span.lowerBound, end: span.upperBound))
            }
        }
    }

    static func isoDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return ValueParser.isoDate(year: parts.year!, month: parts.month!, day: parts.day!)
    }

    /// Dates written out ("January 9, 2005", "11 april 2011", "1/27/1974", "2004-12-21"); a date
    /// column holding one of the readings is the candidate, else every date column.
    mutating func findDates() {
        let dateColumns = table.columns.indices.filter { table.columns[$0].isDate }
        let month = ValueParser.monthNames.keys.sorted { $0.count > $1.count }.joined(separator: "|")
        var found: [(Range<String.Index>, [(Int, Int, Int)])] = []
        for match in matches(#"\b("# + month + #")\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b"#) {
            found.append((match.range, [(Int(match.groups[2])!, ValueParser.monthNames[match.groups[0]]!, Int(match.groups[1])!)]))
        }
        for match in matches(#"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?("# + month + #")\.?,?\s+(\d{4})\b"#) {
            found.append((match.range, [(Int(match.groups[2])!, ValueParser.monthNames[match.groups[1]]!, Int(match.groups[0])!)]))
        }
        for match in matches(#"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"#) {
            found.append((match.range, [(Int(match.groups[0])!, Int(match.groups[1])!, Int(match.groups[2])!)]))
        }
        for match in matches(#"\b(\d{1,2})[/.](\d{1,2})[/.](\d{4}|\d{2})\b"#) {
            var year = Int(match.groups[2])!
            if year < 100 { year += year < 50 ? 2000 : 1900 }
            let a = Int(match.groups[0])!, b = Int(match.groups[1])!
            found.append((match.range, [(year, a, b), (year, b, a)]))
        }
        for (range, readings) in found {
            guard let span = wordRange(range), free(span) else { continue }
            let isos = readings.filter { (1...12).contains($0.1) && (1...31).contains($0.2) }
                .map { String(format: "%04d-%02d-%02d", $0.0, $0.1, $0.2) }
            guard let first = isos.first else { continue }
            var values: [Int: Interpretation.Value] = [:]
            for column in dateColumns {
                if let held = isos.first(where: { table.columns[column].dates.contains($0) }) { values[column] = .date(held) }
            }
            if values.isEmpty { for column in dateColumns { values[column] = .date(first) } }
            // A text column holding the date as written ("6/6/77" among "11/75").
            let written = String(folded[ranges[span.lowerBound].lowerBound..<ranges[span.upperBound - 1].upperBound])
            for (column, spellings) in table.values[Words.normal(written)] ?? [:] { values[column] = .text(spellings) }
            guard !values.isEmpty else { continue }
            for k in span { role[k] = .value(candidates.count) }
            candidates.append(Candidate(columns: values.keys.sorted(), values: values, op: comparison(before: span.lowerBound) ?? .equal,
                                        start: span.lowerBound, end: span.upperBound))
        }
    }

    /// Runs of words equal to a stored text value, longest first. A run of header words only is
    /// the header's mention, unless the value sits in other columns than the header names and
    /// no header is fully named ("montreal" in Visitor beside "Montreal goals").
    mutating func findTextValues() {
        guard count > 0 else { return }
        for length in stride(from: min(16, count), through: 1, by: -1) {
            for start in 0...(count - length) {
                let span = start..<(start + length)
                guard free(span) else { continue }
                let run = Array(words[span])
                let text = run.joined(separator: " ")
                guard let holders = table.values[text] else { continue }
                if length == 1, run[0].allSatisfy(\.isNumber) { continue }
                // A single letter is a value only right after the header of a column holding it ("venue A").
                let afterItsHeader = start > 0 && holders.keys.contains { column in
                    table.columns[column].content.contains { Words.match(stems[start - 1], $0) > 0 }
                }
                if text.count < 2, !afterItsHeader { continue }
                if length == 1, text.count >= 2, Words.stop.contains(text) || Words.questionWords.contains(text)
                    || Words.comparisonWords.contains(text) { continue }
                if length <= 2, text.count >= 2, run.allSatisfy({ word in
                    Words.stop.contains(word) || table.columns.contains { column in column.content.contains { Words.match(Words.stem(word), $0) > 0 } }
                }) {
                    let named = Set(table.columns.indices.filter { index in
                        run.contains { word in
                            !Words.stop.contains(word) && table.columns[index].content.contains { Words.match(Words.stem(word), $0) > 0 }
                        }
                    })
                    let fullyNamed = named.contains { index in
                        table.columns[index].content.allSatisfy { h in stems.contains { Words.match($0, h) > 0 } }
                    }
                    if fullyNamed || !Set(holders.keys).isDisjoint(with: named) || run.allSatisfy(Words.stop.contains) { continue }
                }
                // A number right after a comparison is a bound, not a text value.
                if run[0].first?.isNumber == true, comparison(before: start) != nil { continue }
                // Prefer the spelling written in the question ("Chicago Black Hawks" over "@ Chicago Black Hawks").
                let written = String(folded[ranges[span.lowerBound].lowerBound..<ranges[span.upperBound - 1].upperBound])
                var values: [Int: Interpretation.Value] = [:]
                for (column, spellings) in holders {
                    let exact = spellings.filter { Words.fold($0).trimmingCharacters(in: .whitespaces) == written }
                    values[column] = .text(exact.isEmpty ? spellings : exact)
                }
                for k in span { role[k] = .value(candidates.count) }
                // "not shipped", "other than Acme": text compares equal or not equal only.
                let linked = start > 0 && ["with", "in", "from", "for", "by", "of", "at", "on", "to"].contains(words[start - 1])
                let negated = comparison(before: start) == .notEqual || (linked && comparison(before: start - 1) == .notEqual)
                let op: Interpretation.Operator = negated ? .notEqual : .equal
                candidates.append(Candidate(columns: holders.keys.sorted(), values: values, op: op,
                                            start: span.lowerBound, end: span.upperBound))
            }
        }
    }

    /// The comparison phrase that ends right before word `start` ("more than", "after"), skipping articles.
    func comparison(before start: Int) -> Interpretation.Operator? {
        let before = words[max(0, start - 4)..<start].filter { !["the", "a", "an", "is", "was", "are", "were"].contains($0) }
            .joined(separator: " ")
        return Words.comparisons.first { before == $0.phrase || before.hasSuffix(" " + $0.phrase) }?.op
    }

    /// Numbers ("51", "18,000", "1.83", "41.76%"): equal to a value some column holds, or a
    /// bound when a comparison comes before them (possibly before the column's words: "after
    /// game 51") or "or more" after them. A year may also bound a date column.
    mutating func findNumbers() {
        let pattern = #"(?<![\w.])[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?%?(?![\w])|(?<![\w.])\.\d+"#
        let found = matches(pattern)
        var upper: [Int: Double] = [:]   // the second number of "between X and Y", by its first word
        for (index, match) in found.enumerated() {
            guard let span = wordRange(match.range), free(span) else { continue }
            let raw = String(folded[match.range])
            guard let number = Double(raw.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "%", with: "")) else { continue }
            var op = Interpretation.Operator.equal
            var adjacent = false
            var between: Double?
            if span.lowerBound > 0, words[span.lowerBound - 1] == "between", index + 1 < found.count,
               let next = wordRange(found[index + 1].range), next.lowerBound == span.upperBound + 1, words[span.upperBound] == "and",
               let high = Double(String(folded[found[index + 1].range]).replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "%", with: "")) {
                between = high
                upper[next.lowerBound] = high
                for k in span.upperBound..<next.upperBound { role[k] = .value(candidates.count) }
                role[span.lowerBound - 1] = .value(candidates.count)
            }
            for skip in 0..<4 where between == nil {
                let low = span.lowerBound - skip
                guard low >= 0, (low..<span.lowerBound).allSatisfy({ role[$0] == nil && !boundary[$0 + 1] }) else { break }
                if skip > 0, Words.stop.contains(words[low]) { continue }
                if let bound = comparison(before: low) { op = bound; adjacent = skip == 0; break }
            }
            let after = words[span.upperBound..<min(count, span.upperBound + 2)].joined(separator: " ")
            if between != nil { op = .greaterOrEqual }
            if op == .equal, after.range(of: #"^or (more|greater|higher|larger|later|above|over|after)\b"#, options: .regularExpression) != nil {
                op = .greaterOrEqual
            }
            if op == .equal, after.range(of: #"^or (less|fewer|lower|smaller|earlier|below|under|before)\b"#, options: .regularExpression) != nil {
                op = .lessOrEqual
            }
            for k in span { role[k] = .value(candidates.count) }
            var numeric = table.columns.indices.filter { table.columns[$0].isNumber }
            if raw.hasSuffix("%") {
                let percent = numeric.filter { table.columns[$0].isPercent }
                if !percent.isEmpty { numeric = percent }
            }
            var values: [Int: Interpretation.Value] = [:]
            var ops: [Int: Interpretation.Operator] = [:]
            var companions: [Int: Interpretation.Condition] = [:]
            let year = number == number.rounded() && number >= 1800 && number <= 2100 ? Int(number) : nil
            if op == .equal {
                for column in table.numericColumns(holding: number) where numeric.contains(column) { values[column] = .number(number) }
                for (column, spellings) in table.values[Words.normal(raw)] ?? [:] where values[column] == nil {
                    values[column] = .text(spellings)
                }
            } else {
                for column in numeric { values[column] = .number(number) }
            }
            // A year on a date column: the whole year, or from/before its start.
            if let year {
                // Only where the column's dates come near that year ("in 1998" is no date condition on 2025's orders).
                for column in table.columns.indices where table.columns[column].isDate && table.columns[column].covers(year: year) {
                    let start = { (year: Int) -> Interpretation.Value in .date(String(format: "%04d-01-01", year)) }
                    switch op {
                    case .equal:
                        values[column] = start(year)
                        ops[column] = .greaterOrEqual
                        if between == nil {
                            companions[column] = Interpretation.Condition(column: column, op: .less, value: start(year + 1), words: raw)
                        }
                    case .greater: values[column] = start(year + 1); ops[column] = .greaterOrEqual
                    case .greaterOrEqual: values[column] = start(year)
                    case .less: values[column] = start(year)
                    case .lessOrEqual: values[column] = start(year + 1); ops[column] = .less
                    case .notEqual: break
                    }
                }
            }
            guard !values.isEmpty else { continue }
            if let between {
                for (column, value) in values {
                    switch value {
                    case .number: companions[column] = Interpretation.Condition(column: column, op: .lessOrEqual, value: .number(between), words: raw)
                    case .date: companions[column] = Interpretation.Condition(column: column, op: .less,
                                                                                value: .date(String(format: "%04d-01-01", Int(between) + 1)), words: raw)
                    case .text: break
                    }
                }
            }
            candidates.append(Candidate(columns: values.keys.sorted(), values: values, op: op, ops: ops, start: span.lowerBound,
                                        end: span.upperBound, comparisonAdjacent: adjacent, companions: companions))
        }
    }

    // MARK: Grouping

    /// "by month", "per region", "for each customer", "monthly": the column results are grouped by.
    mutating func findGrouping() -> Interpretation.Grouping? {
        let dateColumns = table.columns.indices.filter { table.columns[$0].isDate }
        let adjectives: [String: WarehouseQuery.Bucket] = ["daily": .day, "weekly": .week, "monthly": .month, "quarterly": .quarter,
                                                          "yearly": .year, "annually": .year, "annual": .year]
        let units: [String: WarehouseQuery.Bucket] = ["day": .day, "week": .week, "month": .month, "quarter": .quarter, "year": .year]
        for k in 0..<count where role[k] == nil {
            if let bucket = adjectives[words[k]], let column = dateColumns.first {
                role[k] = .phrase
                return Interpretation.Grouping(column: column, bucket: bucket)
            }
            var start = k + 1
            switch words[k] {
            case "by", "per", "across":
                break
            case "each", "every":
                break
            case "for" where k + 1 < count && ["each", "every"].contains(words[k + 1]):
                start = k + 2
            default:
                continue
            }
            while start < count, ["the", "a", "each", "every"].contains(words[start]), role[start] == nil { start += 1 }
            guard start < count, role[start] == nil || { if case .mention = role[start] { true } else { false } }() else { continue }
            if let bucket = units[stems[start]], !dateColumns.isEmpty {
                // "by month of order date": a date column named after the unit, else the first.
                let named = label(start + 1..<min(count, start + 5), dateColumns)
                for index in k...start { role[index] = .phrase }
                return Interpretation.Grouping(column: named?.column ?? dateColumns[0], bucket: bucket)
            }
            var end = start
            while end < count, end - start < 5, role[end] == nil || { if case .mention = role[end] { true } else { false } }(),
                  !Words.breaks.contains(words[end]), !boundary[end] || end == start {
                end += 1
            }
            guard end > start, let best = label(start..<end, Array(table.columns.indices)), best.score >= 0.75 else { continue }
            // Only the words that name the column.
            for index in k..<end where index == k || table.columns[best.column].content.contains(where: { Words.match(stems[index], $0) > 0 })
                || ["the", "a", "each", "every"].contains(words[index]) {
                role[index] = .phrase
            }
            let column = table.columns[best.column]
            return Interpretation.Grouping(column: best.column, bucket: column.isDate ? .month : nil)
        }
        return nil
    }

    /// The column among `columns` whose header the words in `range` name best (score 0…1).
    func label(_ range: Range<Int>, _ columns: [Int]) -> (column: Int, score: Double)? {
        let indices = Array(range)
        return columns.map { ($0, labelScore($0, indices)) }.max { $0.1 < $1.1 }.flatMap { $0.1 > 0 ? $0 : nil }
    }

    // MARK: 3. Which column each condition is on

    func skippable(_ k: Int) -> Bool { Words.stop.contains(words[k]) || Words.comparisonWords.contains(words[k]) }

    func labelable(_ k: Int) -> Bool {
        switch role[k] {
        case nil: true
        case .mention?: true
        default: false
        }
    }

    /// The content words before word `start`, over stop and comparison words ("a grid of 27").
    func leftLabel(_ start: Int) -> [Int] {
        var k = start - 1
        var out: [Int] = []
        while k >= 0, !boundary[k + 1], labelable(k) {
            if skippable(k), out.isEmpty {
                if Words.breaks.contains(words[k]) || ["with", "has", "have", "had", "having"].contains(words[k]) { break }
                k -= 1
                continue
            }
            if !out.isEmpty, ["the", "a", "an"].contains(words[k]), k > 0, labelable(k - 1), !boundary[k], !skippable(k - 1) {
                k -= 1
                continue
            }
            if skippable(k) || Words.breaks.contains(words[k]) { break }
            out.append(k)
            k -= 1
            if out.count >= 5 { break }
        }
        return out
    }

    /// The content words after word `end` ("20 laps", "Peter Sagan won the youth classification").
    func rightLabel(_ end: Int) -> [Int] {
        var k = end
        var out: [Int] = []
        while k < count, !boundary[k], labelable(k) {
            if Words.breaks.contains(words[k]) { break }
            if skippable(k) {
                let article = ["the", "a", "an"].contains(words[k])
                if !out.isEmpty, !(article && k + 1 < count && labelable(k + 1) && !boundary[k + 1] && !skippable(k + 1)) { break }
                k += 1
                continue
            }
            out.append(k)
            k += 1
            if out.count >= 5 { break }
        }
        return out
    }

    /// How well words name a column: the share of the header's words named, weighed by how
    /// many of the words belong to the header.
    func labelScore(_ column: Int, _ indices: [Int]) -> Double {
        let info = table.columns[column]
        let header = Set(info.content).filter { h in !info.optional.contains(h) || indices.contains { stems[$0] == h } }
        guard !indices.isEmpty, !header.isEmpty else { return 0 }
        let hit = header.reduce(0.0) { sum, h in sum + (indices.map { Words.match(stems[$0], h) }.max() ?? 0) }
        let used = indices.filter { k in header.contains { Words.match(stems[k], $0) > 0 } }.count
        return hit / Double(header.count) * (0.5 + 0.5 * Double(used) / Double(indices.count))
    }

    /// Header words near a span, weighed down by distance.
    func nearby(_ column: Int, _ start: Int, _ end: Int) -> Double {
        var best = 0.0
        for k in Array(max(0, start - 8)..<start) + Array(end..<min(count, end + 6)) where role[k] == nil && !Words.stop.contains(words[k]) {
            for h in table.columns[column].content {
                let score = Words.match(stems[k], h)
                if score > 0 {
                    let distance = k < start ? start - k : k - end + 1
                    best = max(best, score / Double(distance + 1))
                }
            }
        }
        return best
    }

    func score(_ column: Int, _ candidate: Candidate) -> (total: Double, leftSide: Bool) {
        var left = labelScore(column, leftLabel(candidate.start))
        let right = labelScore(column, rightLabel(candidate.end)) * (candidate.comparisonAdjacent ? 1 : 0.85)
        if candidate.comparisonAdjacent { left *= 0.7 }
        var plausible = 0.0
        let info = table.columns[column]
        if candidate.op != .equal, info.isNumber, let low = info.low, let high = info.high,
           case .number(let value)? = candidate.values[column] {
            plausible = value >= low && value <= high ? 0.2 : value >= low - 1 && value <= high + 1 ? 0.05 : 0
        }
        if candidate.op != .equal, info.isDate, case .date(let value)? = candidate.values[column],
           let first = info.dates.min(), let last = info.dates.max(), value >= first, value <= last {
            plausible = 0.2
        }
        if candidate.op == .equal, info.isNumber { plausible = 0.01 }
        return (max(left, right) + 0.3 * nearby(column, candidate.start, candidate.end) + plausible, left >= right)
    }

    /// Conditions whose column is clearest go first and take their label words, so the next
    /// ones and the column asked for are read from what is left.
    mutating func assignColumns() {
        var used: [Int: Int] = [:]
        var pending = Array(candidates.indices)
        while !pending.isEmpty {
            pending.sort { a, b in
                let sa = (candidates[a].columns.count > 1, -(candidates[a].columns.map { score($0, candidates[a]).total }.max() ?? 0))
                let sb = (candidates[b].columns.count > 1, -(candidates[b].columns.map { score($0, candidates[b]).total }.max() ?? 0))
                return sa.0 != sb.0 ? !sa.0 : sa.1 < sb.1
            }
            let index = pending.removeFirst()
            let candidate = candidates[index]
            let chosen = candidate.columns.enumerated().max { a, b in
                let sa = score(a.element, candidate).total - 0.5 * Double(used[a.element, default: 0])
                let sb = score(b.element, candidate).total - 0.5 * Double(used[b.element, default: 0])
                return sa != sb ? sa < sb : a.offset > b.offset
            }!.element
            candidates[index].chosen = chosen
            used[chosen, default: 0] += 1
            let side = score(chosen, candidate).leftSide ? leftLabel(candidate.start) : rightLabel(candidate.end)
            for k in side where table.columns[chosen].content.contains(where: { Words.match(stems[k], $0) > 0 }) {
                role[k] = .label(chosen)
            }
        }
    }

    // MARK: 4–5. The column asked for, and the shape

    func selectScore(_ column: Int) -> (score: Double, first: Int) {
        let info = table.columns[column]
        let header = Set(info.content).filter { h in !info.optional.contains(h) || stems.contains(h) }
        guard !header.isEmpty else { return (0, 99) }
        var matched: [String: Double] = [:]
        var first = 99
        for k in 0..<count {
            switch role[k] {
            case nil: break
            case .mention(let named)? where named == column: break
            default: continue
            }
            if Words.stop.contains(words[k]) || (Words.comparisonWords.contains(words[k]) && !header.contains(stems[k])) { continue }
            for h in header {
                let score = Words.match(stems[k], h)
                if score > 0, matched[h, default: 0] < score {
                    matched[h] = score
                    first = min(first, k)
                }
            }
        }
        guard !matched.isEmpty else { return (0, 99) }
        let sum = matched.values.reduce(0, +)
        return (sum / Double(header.count) + 0.15 * sum, first)
    }

    func interpretation(ranking: (descending: Bool, limit: Int)?, grouping: Interpretation.Grouping?) -> Interpretation {
        var result = Interpretation()
        var conditionColumns = Set<Int>()
        for candidate in candidates {
            guard let column = candidate.chosen, let value = candidate.values[column] else { continue }
            conditionColumns.insert(column)
            let text = words[candidate.start..<candidate.end].joined(separator: " ")
            var op = candidate.ops[column] ?? candidate.op
            if candidate.relative != nil { op = .equal }
            result.conditions.append(Interpretation.Condition(column: column, op: op, value: value, relative: candidate.relative, words: text))
            if let companion = candidate.companions[column] { result.conditions.append(companion) }
            if candidate.columns.count > 1 { result.confidence -= 0.05 }
        }
        result.grouping = grouping

        // The column asked for.
        var scored: [(score: Double, first: Int, column: Int)] = []
        for column in table.columns.indices {
            let (score, first) = selectScore(column)
            if score > 0 { scored.append((score - (conditionColumns.contains(column) ? 0.7 : 0), first, column)) }
        }
        scored.sort { $0.score != $1.score ? $0.score > $1.score : $0.first < $1.first }
        if let grouping, let top = scored.first, top.column == grouping.column { scored.removeFirst() }
        var select = scored.first.map(\.column)
        var selectNamed = select != nil && scored[0].score >= 0.3
        let questionWord = words.prefix(4).first { ["who", "when", "where"].contains($0) }
        if questionWord == "who", let chosen = select, table.columns[chosen].personLike < 0.3 {
            let people = table.columns.indices.filter { !conditionColumns.contains($0) }.sorted { table.columns[$0].personLike > table.columns[$1].personLike }
            if let person = people.first, table.columns[person].personLike >= 0.5,
               conditionColumns.contains(chosen) || scored[0].score < 0.5 || table.columns[chosen].personLike == 0 {
                select = person
                selectNamed = true
            } else if table.columns[chosen].isNumber || table.columns[chosen].isDate,
                      let named = people.first(where: { table.columns[$0].type == .text }) {
                // "who" never asks for a number or a date: the most name-like text column.
                select = named
                selectNamed = true
                result.confidence -= 0.15
            }
        }
        if !selectNamed {
            // A word most of a column's values carry ("the ISBN of …" → "ISBN 0-441-01333-3").
            let freeWords = (0..<count).filter { role[$0] == nil && !Words.stop.contains(words[$0]) && !Words.questionWords.contains(words[$0]) }
            if let carrier = table.columns.indices.first(where: { column in
                !conditionColumns.contains(column) && freeWords.contains { table.columns[column].commonWords.contains(words[$0]) }
            }) {
                select = carrier
                selectNamed = true
                result.confidence -= 0.15
            }
        }
        if !selectNamed {
            let pool = table.columns.indices.filter { !conditionColumns.contains($0) }
            var pick: Int?
            switch questionWord {
            case "who"?:
                pick = pool.max { table.columns[$0].personLike < table.columns[$1].personLike }
                if let found = pick, table.columns[found].personLike == 0 { pick = nil }
            case "when"?:
                pick = pool.first { table.columns[$0].isDate }
                    ?? pool.first { !Set(table.columns[$0].content).isDisjoint(with: ["year", "date", "season"]) }
            case "where"?:
                pick = pool.first { !Set(table.columns[$0].content).isDisjoint(with: ["venue", "location", "place", "city", "site", "ground", "stadium", "country"]) }
            default:
                break
            }
            // Only with a condition to go by: "who won the world cup" names nothing of this table.
            if let pick, !conditionColumns.isEmpty {
                select = pick
                selectNamed = true
                result.confidence -= 0.15
                result.notes.append("took \(table.columns[pick].header) for \"\(questionWord ?? "")\"")
            } else if select != nil {
                result.confidence -= 0.3
            }
        }

        // Aggregation.
        let counting = folded.range(of: #"\b(how many|number of|count)\b"#, options: .regularExpression) != nil
        if counting {
            // "how many X" and "number of X" of a measure add it up; of anything else they count rows.
            let countsRows = folded.range(of: #"\b(how many times|number of times|how many different)\b"#, options: .regularExpression) != nil
            if select != nil, folded.range(of: #"\b(how many|number of|count( of)?( the)?) (different|distinct|unique|separate)\b"#,
                                           options: .regularExpression) != nil {
                result.aggregate = .countDistinct
            } else if let chosen = select, table.columns[chosen].isNumber, !table.columns[chosen].identifierLike, !countsRows {
                result.aggregate = .sum
            } else {
                result.aggregate = .count
            }
        }
        let families: [(Interpretation.Aggregate, [String])] = [
            (.avg, ["average", "mean", "avg"]),
            (.median, ["median"]),
            (.max, ["highest", "most", "largest", "maximum", "max", "maximun", "biggest", "greatest", "latest", "best", "longest",
                    "oldest", "high", "top", "peak", "last", "newest", "recent"]),
            (.min, ["lowest", "least", "smallest", "minimum", "min", "fewest", "earliest", "earlier", "first", "worst", "shortest",
                    "youngest", "low", "lowes", "cheapest"]),
            (.sum, ["total", "sum", "combined", "altogether", "overall"]),
        ]
        let free = Set((0..<count).filter { role[$0] == nil || role[$0] == .phrase }.map { words[$0] })
        for (aggregate, family) in families where family.contains(where: free.contains) {
            guard let chosen = select else { break }
            let column = table.columns[chosen]
            if aggregate == .max || aggregate == .min, !(column.isNumber || column.isDate) { continue }
            if aggregate == .sum || aggregate == .avg || aggregate == .median, !column.isNumber { continue }
            if aggregate == .sum, result.aggregate == .count || result.aggregate == .countDistinct { continue }
            if result.aggregate == .countDistinct { break }
            if result.aggregate == nil || aggregate == .avg || aggregate == .median {
                result.aggregate = aggregate
                break
            }
        }
        if let ranking {
            result.descending = ranking.descending
            result.limit = ranking.limit
        }
        // "which customer has the highest amount": the groups of the subject ranked by the
        // measure (the best-named numeric column besides it; rows counted without one), the first kept.
        if grouping == nil, ["which", "who", "what"].contains(words.first ?? ""),
           let extreme = (0..<count).first(where: { role[$0] == nil && Reading.superlatives[words[$0]] != nil }),
           let subject = subjectColumn(conditions: conditionColumns) {
            let measure = scored.first { $0.column != subject && table.columns[$0.column].isNumber && !table.columns[$0.column].identifierLike }?.column
            result.grouping = Interpretation.Grouping(column: subject, bucket: table.columns[subject].isDate ? .month : nil)
            result.descending = Reading.superlatives[words[extreme]]!
            result.limit = result.limit ?? 1
            result.aggregate = measure == nil ? .count : result.aggregate == .avg ? .avg : .sum
            select = measure
            selectNamed = true
        }
        result.select = select
        result.selectNamed = selectNamed
        result.aggregateStated = result.aggregate != nil
        if select == nil, result.aggregate != .count, result.conditions.isEmpty, result.grouping == nil {
            result.problem = "none of the question's words name a column or a value of this table"
        } else if !selectNamed, result.aggregate != .count, result.grouping == nil {
            if result.conditions.isEmpty {
                result.problem = "the question does not say which column it asks about"
            } else {
                result.select = nil   // the matching rows, whole
                result.confidence -= 0.2
            }
        }
        return result
    }

    /// In "which X has the highest Y" (or "who has…"), the column X: the words between the
    /// question word and a verb of having, or for "who" the column of people.
    func subjectColumn(conditions: Set<Int>) -> Int? {
        let verbs: Set<String> = ["has", "had", "have", "got", "gets", "made", "makes", "sold", "scored", "earned", "spent", "is", "was"]
        guard count > 2, let verb = (1..<min(count, 6)).first(where: { verbs.contains(words[$0]) }) else { return nil }
        let columns = table.columns.indices.filter { !conditions.contains($0) && !table.columns[$0].isNumber }
        if words[0] == "who" {
            guard verb == 1, let person = columns.max(by: { table.columns[$0].personLike < table.columns[$1].personLike }),
                  table.columns[person].personLike >= 0.5 else { return nil }
            return person
        }
        guard verb > 1, !Words.stop.contains(words[1]), let best = label(1..<verb, columns), best.score >= 0.5 else { return nil }
        return best.column
    }
}
