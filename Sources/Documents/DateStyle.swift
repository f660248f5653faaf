import Foundation

/// How a document writes its dates ("14 November 1996", "March 4, 2012", "10/29/76",
/// "2004-12-21"), as a template: a date column is stored as ISO dates, and its style lets
/// answers show them the way the reader's document does.
///
/// Templates use `{yyyy}` `{yy}` `{mm}` `{m}` `{dd}` `{d}` and `{Month}` `{month}` `{MONTH}`
/// `{Mon}` `{mon}` `{MON}` for the month's name (full or three letters, as capitalised).
public enum DateStyle {
    /// The styles one written date fits (several when day and month could swap), none when it
    /// is not a date `ValueParser` reads. Each style, rendered with the date, gives back the text.
    public static func styles(_ raw: String) -> [String] {
        let text = ValueParser.trimmed(raw)
        let isos = [ValueParser.parseDate(text), ValueParser.parseDate(text, monthFirst: true)].compactMap { $0 }
        guard !isos.isEmpty else { return [] }
        // The text with its digit runs as numbered holes and its month name as a token.
        var skeleton: [String] = []
        var runs: [String] = []
        var monthTokens: [String] = [""]
        var named = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            var end = text.index(after: index)
            if character.isNumber || character.isLetter {
                while end < text.endIndex, text[end].isNumber == character.isNumber, text[end].isLetter == character.isLetter {
                    end = text.index(after: end)
                }
            }
            let piece = String(text[index..<end])
            if character.isNumber {
                skeleton.append("\u{0}")
                runs.append(piece)
            } else if character.isLetter, ValueParser.monthNames[piece.lowercased()] != nil {
                // Either name's token; "May" is both. The render check keeps what fits.
                let casing = { (base: String) -> String in
                    piece == piece.uppercased() ? "{\(base.uppercased())}" : piece.first!.isUppercase ? "{\(base)}" : "{\(base.lowercased())}"
                }
                skeleton.append("\u{1}")
                monthTokens = [casing("Month"), casing("Mon")]
                named = true
            } else {
                skeleton.append(piece)
            }
            index = end
        }
        let roles = named ? [["y", "d"], ["d", "y"]] : [["y", "m", "d"], ["m", "d", "y"], ["d", "m", "y"], ["y", "d", "m"]]
        var found: [String] = []
        for order in roles where order.count == runs.count {
            // Each hole's tokens: "12" may be padded or not, "06" is padded, "6" is not.
            let options: [[String]] = runs.indices.map { hole in
                let run = runs[hole]
                switch order[hole] {
                case "y": return [run.count == 4 ? "{yyyy}" : "{yy}"]
                case "m": return run.count == 1 ? ["{m}"] : run.hasPrefix("0") ? ["{mm}"] : ["{m}", "{mm}"]
                default: return run.count == 1 ? ["{d}"] : run.hasPrefix("0") ? ["{dd}"] : ["{d}", "{dd}"]
                }
            }
            var combinations: [[String]] = [[]]
            for choices in options { combinations = combinations.flatMap { prefix in choices.map { prefix + [$0] } } }
            for tokens in combinations {
                for month in monthTokens {
                    var hole = 0
                    let style = skeleton.map { piece -> String in
                        if piece == "\u{1}" { return month }
                        guard piece == "\u{0}" else { return piece }
                        defer { hole += 1 }
                        return tokens[hole]
                    }.joined()
                    if isos.contains(where: { render($0, style: style) == text }), !found.contains(style) { found.append(style) }
                }
            }
        }
        return found
    }

    /// The style most of a column's dates fit (four in five), or nil; nil too for ISO dates,
    /// which need no style.
    public static func common(_ cells: [String], sample: Int = 2_000) -> String? {
        var counts: [String: Int] = [:]
        var dates = 0
        // A sample is enough to see how a column writes its dates; big sheets stay fast.
        for cell in cells.lazy.filter({ !ValueParser.trimmed($0).isEmpty }).prefix(sample) {
            dates += 1
            for style in styles(cell) { counts[style, default: 0] += 1 }
        }
        guard dates > 0, let best = counts.max(by: { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }),
              Double(best.value) >= 0.8 * Double(dates) else { return nil }
        return best.key == "{yyyy}-{mm}-{dd}" ? nil : best.key
    }

    static let months = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                         "November", "December"]

    /// An ISO date (`YYYY-MM-DD…`) written in `style`; the ISO text when it is not one.
    public static func render(_ iso: String, style: String) -> String {
        let parts = iso.prefix(10).split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]), (1...12).contains(month) else {
            return iso
        }
        let name = months[month - 1]
        let replacements: [(String, String)] = [
            ("{yyyy}", String(format: "%04d", year)), ("{yy}", String(format: "%02d", year % 100)),
            ("{mm}", String(format: "%02d", month)), ("{m}", String(month)),
            ("{dd}", String(format: "%02d", day)), ("{d}", String(day)),
            ("{Month}", name), ("{month}", name.lowercased()), ("{MONTH}", name.uppercased()),
            ("{Mon}", String(name.prefix(3))), ("{mon}", String(name.prefix(3)).lowercased()), ("{MON}", String(name.prefix(3)).uppercased()),
        ]
        var text = style
        for (token, value) in replacements { text = text.replacingOccurrences(of: token, with: value) }
        return text
    }
}
