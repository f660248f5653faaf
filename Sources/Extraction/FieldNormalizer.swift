import Documents
import Foundation

/// Normalises a value read for a field by its type, and finds where it is printed.
enum FieldNormalizer {
    /// The canonical value (and currency for amounts), or nil when `raw` is not a
    /// value of that type.
    static func normalize(_ raw: String, as type: FieldType) -> (value: String, currency: String?)? {
        let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { return nil }
        switch type {
        case .text: return (text, nil)
        case .number: return ValueParser.parseNumber(text).map { ($0, nil) }
        case .integer:
            guard let number = ValueParser.parseNumber(text), let value = Double(number), value == value.rounded() else { return nil }
            return (String(Int64(value)), nil)
        case .currency:
            if let (amount, currency) = ValueParser.parseCurrency(text) { return (amount, currency) }
            return ValueParser.parseNumber(text).map { ($0, nil) }
        case .percentage:
            return (ValueParser.parsePercent(text) ?? ValueParser.parseNumber(text)).map { ($0, nil) }
        case .date: return ValueParser.parseDate(text).map { ($0, nil) }
        case .boolean: return ValueParser.parseBoolean(text).map { ($0 ? "true" : "false", nil) }
        case .email:
            let lower = text.lowercased()
            guard lower.range(of: #"^[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}$"#, options: .regularExpression) != nil else { return nil }
            return (lower, nil)
        case .phone:
            let digits = text.filter { $0.isNumber }
            guard (6...15).contains(digits.count) else { return nil }
            return ((text.hasPrefix("+") ? "+" : "") + digits, nil)
        case .url:
            guard text.range(of: #"^(https?://)?[A-Za-z0-9.\-]+\.[A-Za-z]{2,}(/\S*)?$"#, options: .regularExpression) != nil else { return nil }
            return (text, nil)
        case .currencyCode:
            if let (_, code) = ValueParser.parseCurrency(text + " 1") { return (code, nil) }
            let upper = text.uppercased()
            guard upper.count == 3, upper.allSatisfy({ $0.isLetter && $0.isASCII }) else { return nil }
            return (upper, nil)
        }
    }

    /// The page and box of the words that spell `raw`, searching `preferred` first.
    static func locate(_ raw: String, in pages: [PageModel], preferring preferred: Int?) -> (page: Int, box: Box)? {
        let tokens = raw.split(whereSeparator: \.isWhitespace).map { simplify(String($0)) }.filter { !$0.isEmpty }
        guard !tokens.isEmpty else { return nil }
        let ordered = pages.sorted { ($0.number == preferred ? 0 : 1, $0.number) < ($1.number == preferred ? 0 : 1, $1.number) }
        for page in ordered {
            let words = page.words
            let simple = words.map { simplify($0.text) }
            for start in words.indices where simple[start] == tokens[0] {
                guard start + tokens.count <= words.count else { break }
                guard (0..<tokens.count).allSatisfy({ simple[start + $0] == tokens[$0] }) else { continue }
                let span = words[start..<(start + tokens.count)]
                return (page.number, Box(x0: span.map(\.x0).min()!, y0: span.map(\.y0).min()!,
                                         x1: span.map(\.x1).max()!, y1: span.map(\.y1).max()!))
            }
        }
        return nil
    }

    static func simplify(_ text: String) -> String {
        String(text.lowercased().filter { $0.isLetter || $0.isNumber })
    }
}
