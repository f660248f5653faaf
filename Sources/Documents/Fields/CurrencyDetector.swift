import Foundation

/// The currency of a document, from symbols and codes on its pages (`€`, `$`, `£`, `₹`,
/// `EUR`, `RM` for MYR, `Rs` for INR, "Euro"); none when the pages show none.
enum CurrencyDetector {
    static func detect(in pages: [FieldLayout]) -> Candidate? {
        var counts: [String: (count: Double, run: TextRun, range: Range<Int>)] = [:]
        for page in pages {
            for run in page.runs {
                for value in codes(in: run) {
                    let weight = value.quality
                    if let existing = counts[value.value] {
                        counts[value.value] = (existing.count + weight, existing.run, existing.range)
                    } else {
                        counts[value.value] = (weight, run, value.range)
                    }
                }
            }
        }
        guard let best = counts.max(by: { $0.value.count < $1.value.count || $0.value.count == $1.value.count && $0.key > $1.key })
        else { return nil }
        let total = counts.values.map(\.count).reduce(0, +)
        let score = 0.5 + 0.4 * best.value.count / total
        return Candidate(value: best.key, raw: String(best.value.run.text[best.value.range]), run: best.value.run,
                         range: best.value.range, score: score)
    }

    /// A currency code right after `start` in a run ("Währung: EUR").
    static func code(in run: TextRun, from start: Int) -> FoundValue? {
        codes(in: run).first { $0.range.lowerBound >= start && $0.range.lowerBound - start <= 4 }
    }

    /// Every currency mark in a run, as ISO codes. Symbols and codes next to a number
    /// count more than a stray word.
    static func codes(in run: TextRun) -> [FoundValue] {
        let text = run.text
        var found: [FoundValue] = []
        var i = 0
        while i < text.count {
            let character = text[i]
            // Of the ASCII characters only "$" is a currency symbol.
            let symbol = character.singleASCIIByte == nil || character == "$" ? ValueFinder.currencySymbols[character] : nil
            if let code = symbol {
                var resolved = code
                if character == "$", i > 0, text[i - 1].isLetterFast {
                    var start = i - 1
                    while start > 0, i - start < 3, text[start - 1].isLetterFast { start -= 1 }
                    let prefix = String(text[start..<i]).uppercased()
                    let dollars = ["US": "USD", "S": "SGD", "SG": "SGD", "A": "AUD", "AU": "AUD", "C": "CAD", "CA": "CAD",
                                   "HK": "HKD", "NZ": "NZD", "R": "BRL"]
                    resolved = dollars[prefix] ?? dollars[String(prefix.suffix(2))] ?? "USD"
                }
                found.append(FoundValue(range: i..<(i + 1), value: resolved, raw: String(character), quality: 1))
                i += 1
                continue
            }
            guard character.isLetterFast, i == 0 || !text[i - 1].isLetterFast else { i += 1; continue }
            var end = i
            while end < text.count, text[end].isLetterFast { end += 1 }
            let word = String(characters: text[i..<end])
            let nextIsNumber = end < text.count && (text[end].isNumber
                || end + 2 < text.count && text[end] == " " && text[end + 1] == "-" && text[end + 2].isNumber || end + 1 < text.count && text[end] == " " && text[end + 1].isNumber
                || end + 1 < text.count && text[end] == "." && (text[end + 1].isNumber || text[end + 1] == " "))
            let previousIsNumber = i >= 2 && (text[i - 1].isNumber || text[i - 1] == " " && text[i - 2].isNumber)
            if word.count == 3, word == word.uppercased(), ValueFinder.currencyCodes.contains(word) {
                found.append(FoundValue(range: i..<end, value: word, raw: word, quality: 1))
            } else if word == "RM" || word == "Rs" || word == "RS" || word == "Rp" {
                // Short marks count only next to a number ("RM 9.00", "Rs 1939", "Rs.1939").
                if nextIsNumber || previousIsNumber {
                    let code = word == "RM" ? "MYR" : (word == "Rp" ? "IDR" : "INR")
                    found.append(FoundValue(range: i..<end, value: code, raw: word, quality: 1))
                }
            } else if ["euro", "euros"].contains(word.lowercased()) {
                found.append(FoundValue(range: i..<end, value: "EUR", raw: word, quality: 0.5))
            } else if word.lowercased() == "dollars", i >= 3, String(text[(i - 3)..<i]).uppercased() == "US " {
                found.append(FoundValue(range: (i - 3)..<end, value: "USD", raw: "US " + word, quality: 1))
            }
            i = end
        }
        return found
    }
}
