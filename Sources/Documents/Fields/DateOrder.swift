import Foundation

/// Decides, once per document, whether its numeric dates are written day first
/// (`05/03/2024` is 5 March: Europe, Asia, most of the world) or month first (March 5: the
/// United States).
///
/// The document's own unambiguous dates decide first: `13/05/2024` can only be day first,
/// `05/13/2024` only month first. Without one, the document's country does: a US dollar
/// amount together with a US address (a state code and ZIP, "USA") makes it month first;
/// anything else stays day first, the reading of most of the world.
enum DateOrder {
    static func monthFirst(in pages: [FieldLayout], currency: String?) -> Bool {
        var dayFirstVotes = 0, monthFirstVotes = 0
        var usAddress = false
        for page in pages {
            for run in page.runs {
                let text = run.text
                for (a, b) in numericPairs(in: text) {
                    if a > 12, a <= 31, b <= 12 { dayFirstVotes += 1 }
                    if b > 12, b <= 31, a <= 12 { monthFirstVotes += 1 }
                }
                if !usAddress { usAddress = Self.looksLikeUSAddress(text) }
            }
        }
        if dayFirstVotes != monthFirstVotes { return monthFirstVotes > dayFirstVotes }
        return currency == "USD" && usAddress
    }

    /// The first two numbers of each `a/b/yyyy`, `a-b-yy`, `a.b.yyyy` in `text` (a and b of one or two digits).
    static func numericPairs(in text: [Character]) -> [(Int, Int)] {
        var pairs: [(Int, Int)] = []
        var i = 0
        func number(at start: Int) -> (Int, Int)? {
            var end = start
            while end < text.count, text[end].isASCIIDigit, end - start < 4 { end += 1 }
            guard end > start, end == text.count || !text[end].isASCIIDigit else { return nil }
            return (Int(String(text[start..<end]))!, end)
        }
        while i < text.count {
            defer { i += 1 }
            guard text[i].isASCIIDigit, i == 0 || !text[i - 1].isASCIIDigit, let (a, aEnd) = number(at: i), aEnd - i <= 2,
                  aEnd < text.count, "/-.".contains(text[aEnd]), let (b, bEnd) = number(at: aEnd + 1), bEnd - aEnd - 1 <= 2,
                  bEnd < text.count, text[bEnd] == text[aEnd], let (_, cEnd) = number(at: bEnd + 1), [2, 4].contains(cEnd - bEnd - 1)
            else { continue }
            pairs.append((a, b))
            i = cEnd - 1
        }
        return pairs
    }

    /// "Springfield, IL 62704", "New York, NY 10001-1234", "USA", "United States".
    static func looksLikeUSAddress(_ text: [Character]) -> Bool {
        let string = String(text)
        if string.range(of: #"\b(USA|U\.S\.A\.|United States)\b"#, options: .regularExpression) != nil { return true }
        return string.range(of: #",\s*[A-Z]{2}\s+\d{5}(-\d{4})?\b"#, options: .regularExpression) != nil
    }
}
