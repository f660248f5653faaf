import Foundation

/// The type of a column, inferred from its cells.
public enum ColumnType: String, Sendable {
    case integer, decimal, currency, percent, date, boolean, text

    /// The PostgreSQL type a warehouse column of this type gets.
    public var sqlType: String {
        switch self {
        case .integer: "bigint"
        case .decimal, .currency, .percent: "numeric"
        case .date: "date"
        case .boolean: "boolean"
        case .text: "text"
        }
    }
}

/// Parses cell text into typed values: numbers in US and European notation, currency
/// amounts (symbol or ISO code), percentages, dates in common formats, booleans.
public enum ValueParser {
    static let currencySymbols: [String: String] = ["$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "CHF": "CHF"]
    static let currencyCodes: Set<String> = ["USD", "EUR", "GBP", "JPY", "INR", "CHF", "CAD", "AUD", "CNY", "SEK", "NOK", "DKK", "PLN", "BRL", "MXN", "RM", "MYR", "SGD"]

    /// `raw` without the whitespace around it. Text that starts and ends with a visible ASCII
    /// character, nearly every cell, skips Foundation's trimming, which was most of the time
    /// of typing a large spreadsheet.
    public static func trimmed(_ raw: String) -> String {
        if let first = raw.utf8.first, let last = raw.utf8.last, (0x21..<0x80).contains(first), (0x21..<0x80).contains(last) {
            return raw
        }
        return raw.trimmingCharacters(in: .whitespaces)
    }

    /// Whether `text` is a plain decimal (`1234`, `-12.5`, `007`): canonical as it is.
    static func isPlainDecimal(_ text: String) -> Bool {
        var digits = 0, fraction = -1
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if fraction >= 0 { fraction += 1 } else { digits += 1 }
            case UInt8(ascii: "-") where index == 0:
                continue
            case UInt8(ascii: ".") where fraction < 0 && digits > 0:
                fraction = 0
            default:
                return false
            }
        }
        return digits > 0 && fraction != 0
    }

    /// A decimal number as canonical text (`-1234.5`), or nil.
    public static func parseNumber(_ raw: String) -> String? {
        var text = trimmed(raw)
        guard !text.isEmpty else { return nil }
        if isPlainDecimal(text) { return text }
        // Only digits, separators, signs and brackets can be left once the number is read
        // (the minus sign `−` is the one non-ASCII character allowed): a letter rules it out.
        guard text.utf8.allSatisfy({ $0 >= 0x80 || "0123456789,.'()- ".utf8.contains($0) }) else { return nil }
        var negative = false
        if text.hasPrefix("(") && text.hasSuffix(")") { negative = true; text = String(text.dropFirst().dropLast()) }
        if text.hasPrefix("-") || text.hasPrefix("−") { negative = true; text = String(text.dropFirst()) }
        if text.hasSuffix("-") { negative = true; text = String(text.dropLast()) }
        text = text.replacingOccurrences(of: " ", with: "").replacingOccurrences(of: "'", with: "")
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == "," || $0 == ".") }),
              text.first!.isNumber || text.first == "."
        else { return nil }
        let commas = text.filter { $0 == "," }.count, dots = text.filter { $0 == "." }.count
        var normalized: String
        if commas > 0 && dots > 0 {
            // The later separator is the decimal one: 1,234.56 or 1.234,56.
            let decimalIsComma = text.lastIndex(of: ",")! > text.lastIndex(of: ".")!
            normalized = decimalIsComma
                ? text.replacingOccurrences(of: ".", with: "").replacingOccurrences(of: ",", with: ".")
                : text.replacingOccurrences(of: ",", with: "")
        } else if commas == 1 {
            // 12,50 is a decimal comma; 1,250 is a thousands separator.
            let after = text.split(separator: ",", omittingEmptySubsequences: false)[1]
            normalized = after.count == 3 ? text.replacingOccurrences(of: ",", with: "") : text.replacingOccurrences(of: ",", with: ".")
        } else if commas > 1 || dots > 1 {
            // 1,234,567 or 1.234.567: thousands groups of three; "3.0.4" is a version, not a number.
            let groups = text.split(separator: commas > 1 ? "," : ".", omittingEmptySubsequences: false)
            guard (1...3).contains(groups[0].count), groups.dropFirst().allSatisfy({ $0.count == 3 }) else { return nil }
            normalized = groups.joined()
        } else {
            normalized = text
        }
        guard Double(normalized) != nil else { return nil }
        if normalized.hasPrefix(".") { normalized = "0" + normalized }
        return (negative ? "-" : "") + normalized
    }

    /// An amount with a currency marker: (`42.50`, `EUR`).
    public static func parseCurrency(_ raw: String) -> (amount: String, currency: String)? {
        // Every symbol is `$`, non-ASCII or letters, and so is every code: text without them
        // (any plain number) has no currency.
        guard raw.utf8.contains(where: { $0 >= 0x80 || $0 == UInt8(ascii: "$") || (UInt8(ascii: "A")...UInt8(ascii: "z")).contains($0) })
        else { return nil }
        var text = trimmed(raw)
        var currency: String?
        // Each symbol is `$`, non-ASCII or starts with C (`CHF`).
        let mayHaveSymbol = text.utf8.contains { $0 >= 0x80 || $0 == UInt8(ascii: "$") || $0 == UInt8(ascii: "C") }
        for (symbol, code) in currencySymbols where mayHaveSymbol && text.contains(symbol) {
            currency = code
            text = text.replacingOccurrences(of: symbol, with: "")
        }
        if currency == nil {
            let parts = text.split(separator: " ")
            if let first = parts.first, currencyCodes.contains(first.uppercased()) {
                currency = first.uppercased(); text = parts.dropFirst().joined(separator: " ")
            } else if let last = parts.last, parts.count > 1, currencyCodes.contains(last.uppercased()) {
                currency = last.uppercased(); text = parts.dropLast().joined(separator: " ")
            }
        }
        guard let currency, let amount = parseNumber(text) else { return nil }
        return (amount, currency == "RM" ? "MYR" : currency)
    }

    public static func parsePercent(_ raw: String) -> String? {
        let text = trimmed(raw)
        guard text.hasSuffix("%") else { return nil }
        return parseNumber(String(text.dropLast()))
    }

    /// English month names and their three-letter forms ("sept" too), lower case.
    public static let monthNames: [String: Int] = {
        var names: [String: Int] = [:]
        let english = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"]
        for (index, name) in english.enumerated() {
            names[name] = index + 1
            names[String(name.prefix(3))] = index + 1
        }
        names["sept"] = 9
        return names
    }()

    /// An ISO 8601 date (`2017-12-31`) from `2017-12-31`, `31/12/2017`, `12/31/2017`,
    /// `31.12.2017`, `31 Dec 2017`, `Dec 31, 2017`… Ambiguous d/m order prefers day first
    /// (month first with `monthFirst`, for a column `monthFirst(_:)` found written so)
    /// unless the first number cannot be a day-of-month position.
    public static func parseDate(_ raw: String, monthFirst: Bool = false) -> String? {
        // Three parts need two separators (space / - . or a comma); most cells have fewer.
        guard raw.utf8.lazy.filter({ " /-.,".utf8.contains($0) }).prefix(2).count == 2 else { return nil }
        let text = trimmed(raw).lowercased()
        let parts = text.split(whereSeparator: { " /-.,".contains($0) }).map(String.init)
        guard parts.count == 3 else { return nil }
        func valid(_ y: Int, _ m: Int, _ d: Int) -> String? {
            guard (1900...2100).contains(y), (1...12).contains(m), (1...daysIn(month: m, of: y)).contains(d) else { return nil }
            return isoDate(year: y, month: m, day: d)
        }
        func year(_ s: String) -> Int? {
            guard let v = Int(s) else { return nil }
            // Two digits: 00–49 are this century, 50–99 the last ("6/6/77" is 1977).
            return s.count == 2 ? (v < 50 ? 2000 + v : 1900 + v) : (s.count == 4 ? v : nil)
        }
        let numbers = parts.map { Int($0) }
        if numbers.allSatisfy({ $0 != nil }) {
            let a = numbers[0]!, b = numbers[1]!
            if parts[0].count == 4 { return valid(a, b, numbers[2]!) }
            guard let y = year(parts[2]) else { return nil }
            if a > 12 { return valid(y, b, a) }
            if b > 12 { return valid(y, a, b) }
            return monthFirst ? valid(y, a, b) : valid(y, b, a)
        }
        // Month names: 31 Dec 2017 / Dec 31 2017.
        if let month = monthNames[parts[1]], let d = Int(parts[0]), let y = year(parts[2]) { return valid(y, month, d) }
        if let month = monthNames[parts[0]], let d = Int(parts[1]), let y = year(parts[2]) { return valid(y, month, d) }
        return nil
    }

    /// Days in a month of the Gregorian calendar.
    static func daysIn(month: Int, of year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `2017-12-31`; written by hand, as `String(format:)` costs more than the parsing around it.
    public static func isoDate(year: Int, month: Int, day: Int) -> String {
        padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2)
    }

    /// `n` (not negative) with leading zeros to `width` digits.
    static func padded(_ n: Int, _ width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    public static func parseBoolean(_ raw: String) -> Bool? {
        switch trimmed(raw).lowercased() {
        case "yes", "true", "y", "✓", "x", "ja", "oui", "sí", "si": true
        case "no", "false", "n", "nein", "non": false
        default: nil
        }
    }

    /// The narrowest type that at least 80% of the non-empty cells parse as.
    public static func inferType(_ values: [String]) -> ColumnType {
        let cells = values.map(trimmed).filter { !$0.isEmpty }
        guard !cells.isEmpty else { return .text }
        func share(_ test: (String) -> Bool) -> Double { Double(cells.filter(test).count) / Double(cells.count) }
        if share({ parseDate($0) != nil }) >= 0.8 { return .date }
        if share({ parsePercent($0) != nil }) >= 0.8 { return .percent }
        if share({ parseCurrency($0) != nil }) >= 0.8 { return .currency }
        // Integers must fit PostgreSQL's bigint; longer digit strings (ids, account numbers) are decimals.
        if share({ parseNumber($0).map { Int64($0) != nil } ?? false }) >= 0.8 { return .integer }
        if share({ parseNumber($0) != nil }) >= 0.8 { return .decimal }
        if cells.count >= 2, share({ parseBoolean($0) != nil }) >= 0.8, Set(cells.map { $0.lowercased() }).count <= 4 { return .boolean }
        return .text
    }

    /// Whether a column's numeric dates are written month first: some cell can only be read
    /// so (`3/29/72`) and none only day first (`29/3/72`).
    public static func monthFirst(_ cells: [String]) -> Bool {
        var monthFirst = false
        for cell in cells {
            let parts = cell.trimmingCharacters(in: .whitespaces).split(whereSeparator: { "/-.".contains($0) })
            guard parts.count == 3, parts[0].count <= 2, let a = Int(parts[0]), let b = Int(parts[1]) else { continue }
            if a > 12, b <= 12 { return false }
            if b > 12, a <= 12 { monthFirst = true }
        }
        return monthFirst
    }

    /// A cell's value as the text PostgreSQL parses for the column type, or nil (NULL).
    public static func sqlValue(_ raw: String, as type: ColumnType, monthFirst: Bool = false) -> String? {
        let text = trimmed(raw)
        guard !text.isEmpty else { return nil }
        switch type {
        case .integer: return parseNumber(text).flatMap { Int64($0) != nil ? $0 : nil }
        case .decimal: return parseNumber(text)
        case .currency: return parseCurrency(text)?.amount ?? parseNumber(text)
        case .percent: return parsePercent(text) ?? parseNumber(text)
        case .date: return parseDate(text, monthFirst: monthFirst)
        case .boolean: return parseBoolean(text).map { $0 ? "true" : "false" }
        case .text: return text
        }
    }

    /// A safe, readable column name: lowercase ASCII letters, digits and underscores,
    /// not starting with a digit, at most 50 characters, unique within `taken`.
    public static func columnName(_ header: String, taken: inout Set<String>) -> String {
        let folded = header.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        var name = ""
        for scalar in folded.unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) {
                name.unicodeScalars.append(scalar)
            } else if !name.hasSuffix("_") {
                name += "_"
            }
        }
        name = name.trimmingCharacters(in: CharacterSet(charactersIn: "_"))
        if name.isEmpty { name = "column" }
        if name.first!.isNumber { name = "c_" + name }
        name = String(name.prefix(50))
        var unique = name
        var suffix = 2
        while taken.contains(unique) || ["id", "_row"].contains(unique) && unique == name && taken.contains(name) {
            unique = "\(name)_\(suffix)"
            suffix += 1
        }
        taken.insert(unique)
        return unique
    }
}
