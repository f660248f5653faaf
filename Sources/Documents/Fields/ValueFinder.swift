import Foundation

/// A typed value found in a run's text.
struct FoundValue {
    let range: Range<Int>
    /// Normalised (ISO date, plain decimal, upper-case code…).
    let value: String
    let raw: String
    var currency: String? = nil
    /// How typical the match is for its type, 0…1 (an amount with decimals beats a bare integer).
    var quality: Double = 1
}

/// Finds values of one type in text: dates in numeric and month-name forms, amounts in US
/// and European notation with currency marks, identifiers, e-mail addresses, phone
/// numbers, URLs, percentages. Complements `ValueParser`, which parses whole cells.
enum ValueFinder {
    // MARK: Dates

    static let months: [String: Int] = {
        var table: [String: Int] = [:]
        let lists: [[String]] = [
            ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"],
            ["januar", "februar", "marz", "april", "mai", "juni", "juli", "august", "september", "oktober", "november", "dezember"],
            ["janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre", "novembre", "decembre"],
            ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"],
            ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre"],
            ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober", "november", "december"],
            ["januari", "februari", "mac", "april", "mei", "jun", "julai", "ogos", "september", "oktober", "november", "disember"],
            ["januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september", "oktober", "november", "desember"],
        ]
        for list in lists {
            for (index, name) in list.enumerated() { table[name] = index + 1 }
        }
        let abbreviations: [String: Int] = [
            "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11,
            "dec": 12, "maerz": 3, "mrz": 3, "okt": 10, "dez": 12, "janv": 1, "fevr": 2, "fev": 2, "avr": 4, "juil": 7,
            "ene": 1, "abr": 4, "ago": 8, "dic": 12, "gen": 1, "mag": 5, "giu": 6, "lug": 7, "set": 9, "ott": 10, "mrt": 3,
            "mei": 5, "agu": 8, "ogo": 8, "des": 12, "dis": 12, "setiembre": 9,
        ]
        table.merge(abbreviations) { old, _ in old }
        return table
    }()

    /// A three-letter English month name with one letter misread ("Dun" for "Jun"), when
    /// only one month is that close; nil for anything else ("Mat" is "Mar" or "May").
    static func misreadMonth(_ token: String) -> Int? {
        let names = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        guard token.count == 3, token.allSatisfy({ $0.isLetter && $0.isASCII }) else { return nil }
        let matches = names.indices.filter { zip(names[$0], token).filter { $0 != $1 }.count == 1 }
        return matches.count == 1 ? matches[0] + 1 : nil
    }

    static func isoDate(year: Int, month: Int, day: Int) -> String? {
        let year = year < 100 ? (year < 70 ? 2000 + year : 1900 + year) : year
        guard (1900...2100).contains(year) else { return nil }
        return ValueParser.parseDate(String(format: "%04d-%02d-%02d", year, month, day))
    }

    /// Dates in `text[from...]`, in order: `2024-03-05`, `05.03.2024`, `05/03/24` (day first
    /// unless impossible), `5. März 2024`, `Mar 5, 2024`, `5 de marzo de 2024`.
    ///
    /// `monthFirst`: the document writes numeric dates month first (`03/05/2024` is March 5);
    /// a date that cannot be read that way is still read day first.
    static func dates(in text: [Character], from: Int = 0, monthFirst: Bool = false) -> [FoundValue] {
        // Every form has a digit at or after `from` (OCR's "O" and "l" count only next to one).
        guard text[from...].contains(where: \.isNumberFast) else { return [] }
        var found: [FoundValue] = []
        found += numericDates(text, from: from, monthFirst: monthFirst)
        found += namedDates(text, from: from)
        found.sort { $0.range.lowerBound < $1.range.lowerBound }
        // Drop matches inside earlier ones.
        var result: [FoundValue] = []
        for value in found where !result.contains(where: { $0.range.overlaps(value.range) }) { result.append(value) }
        return result
    }

    private static func digits(_ text: [Character], at start: Int, max: Int) -> (Int, Int)? {
        var end = start
        while end < text.count, text[end].isASCIIDigit, end - start <= max { end += 1 }
        guard end > start, end - start <= max else { return nil }
        return (Int(String(text[start..<end]))!, end - start)
    }

    /// OCR's usual misreadings in numbers, character for character: `O9/O5/2018` →
    /// `09/05/2018`, `26-06~2018` → `26-06-2018` (letters only next to a digit).
    static func ocrDigits(_ text: [Character]) -> [Character] {
        var result = text
        for i in text.indices {
            // Only these ASCII characters change: skip the others before looking at neighbours.
            guard let byte = text[i].singleASCIIByte, "OoIl|~".utf8.contains(byte) else { continue }
            let digitBefore = i > 0 && text[i - 1].isASCIIDigit
            let digitAfter = i + 1 < text.count && text[i + 1].isASCIIDigit
            if "Oo".contains(text[i]), digitBefore || digitAfter { result[i] = "0" }
            if "Il|".contains(text[i]), digitBefore || digitAfter { result[i] = "1" }
            if text[i] == "~", digitBefore { result[i] = "-" }
        }
        return result
    }

    /// The latest year a document date can plausibly have: next year.
    static let latestYear = Calendar(identifier: .gregorian).component(.year, from: Date()) + 1

    /// Digits OCR prints for another digit, most likely first (`2078` for `2018`, `40/03` for `10/03`).
    static let digitConfusions: [Character: [Character]] = [
        "4": ["1"], "7": ["1"], "6": ["0", "5"], "9": ["0"], "8": ["0", "3"], "3": ["8"], "0": ["8"], "5": ["6"], "2": ["7"],
    ]

    /// A date from day, month and year digits, or, when they are impossible (day 40, month
    /// 13) or the year is implausible (2078), the first reading with one digit swapped for
    /// one OCR confuses it with. The second result tells whether a digit was swapped.
    static func repairedDate(_ parts: [[Character]], read: ([Int]) -> String?) -> (String, Bool)? {
        func plausible(_ iso: String?, repaired: Bool = false) -> String? {
            guard let iso, let year = Int(iso.prefix(4)), year <= latestYear else { return nil }
            // A repair lands in the last decades, not on a date of birth or a code ("21-41-71").
            guard !repaired || year >= latestYear - 30 else { return nil }
            return iso
        }
        let numbers = parts.map { Int(String($0)) ?? -1 }
        if let iso = plausible(read(numbers)) { return (iso, false) }
        for (p, part) in parts.enumerated() {
            for (i, digit) in part.enumerated() {
                for replacement in digitConfusions[digit] ?? [] {
                    var changed = part
                    changed[i] = replacement
                    var trial = numbers
                    trial[p] = Int(String(changed)) ?? -1
                    if let iso = plausible(read(trial), repaired: true) { return (iso, true) }
                }
            }
        }
        return nil
    }

    private static func numericDates(_ original: [Character], from: Int, monthFirst: Bool = false) -> [FoundValue] {
        var found: [FoundValue] = []
        let text = ocrDigits(original)
        var i = from
        while i < text.count {
            defer { i += 1 }
            guard text[i].isASCIIDigit, i == from || !text[i - 1].isASCIIDigit else { continue }
            guard let (a, aLength) = digits(text, at: i, max: 4) else { continue }
            var p = i + aLength
            guard p < text.count, ".-/".contains(text[p]) else { continue }
            let separator = text[p]
            p += 1
            // OCR lost the first separator: "1202/2018" is 12/02/2018.
            if aLength == 4, let (year, yearLength) = digits(text, at: p, max: 4), yearLength == 4, (1990...2099).contains(year),
               p + 4 == text.count || !(text[p + 4].isNumber || ".-/".contains(text[p + 4])),
               let iso = isoDate(year: year, month: a % 100, day: a / 100) {
                found.append(FoundValue(range: i..<(p + 4), value: iso, raw: String(original[i..<(p + 4)]), quality: 0.7))
                i = p + 3
                continue
            }
            guard let (b, bLength) = digits(text, at: p, max: 2) else { continue }
            p += bLength
            guard p < text.count, text[p] == separator else { continue }
            p += 1
            // OCR drops a space in: "26-06- 2018".
            if p + 1 < text.count, text[p] == " ", separator != ".", text[p + 1].isNumber { p += 1 }
            guard let (c, cLength) = digits(text, at: p, max: 4), cLength != 3 else { continue }
            p += cLength
            let parts = [Array(String(a).leftPadded(aLength)), Array(String(b).leftPadded(bLength)),
                         Array(String(c).leftPadded(cLength))]
            var resolved: (String, Bool)?
            if aLength == 4 {
                guard cLength <= 2 else { continue }
                resolved = repairedDate(parts) { n in isoDate(year: n[0], month: n[1], day: n[2]) }
            } else if aLength <= 2, cLength == 4 || cLength == 2 {
                resolved = repairedDate(parts) { n in
                    var (day, month) = monthFirst ? (n[1], n[0]) : (n[0], n[1])
                    if month > 12, day <= 12 { (day, month) = (month, day) }
                    return isoDate(year: n[2], month: month, day: day)
                }
            }
            if let (iso, repaired) = resolved {
                var quality = cLength == 2 && aLength != 4 ? 0.9 : 1
                if original[i..<p] != text[i..<p] { quality *= 0.9 }
                if repaired { quality *= 0.6 }
                found.append(FoundValue(range: i..<p, value: iso, raw: String(original[i..<p]), quality: quality))
                i = p - 1
            }
        }
        return found
    }

    /// Alphanumeric tokens with their ranges.
    static func tokens(_ text: [Character], from: Int = 0) -> [(String, Range<Int>)] {
        var tokens: [(String, Range<Int>)] = []
        var start: Int?
        for i in from...text.count {
            let isWord = i < text.count && text[i].isWordFast
            if isWord, start == nil { start = i }
            if !isWord, let s = start {
                tokens.append((String(characters: text[s..<i], folded: true), s..<i))
                start = nil
            }
        }
        return tokens
    }

    private static func namedDates(_ text: [Character], from: Int) -> [FoundValue] {
        let tokens = tokens(text, from: from)
        var found: [FoundValue] = []
        func gapOK(_ a: Range<Int>, _ b: Range<Int>) -> Bool {
            guard b.lowerBound >= a.upperBound, b.lowerBound - a.upperBound <= 3 else { return false }
            return text[a.upperBound..<b.lowerBound].allSatisfy { " .,-/".contains($0) }
        }
        func day(_ token: String) -> Int? {
            let digits = token.prefix { $0.isNumber }
            let suffix = token.dropFirst(digits.count)
            guard (1...2).contains(digits.count), ["", "st", "nd", "rd", "th", "er", "e", "o"].contains(String(suffix)),
                  let value = Int(digits), (1...31).contains(value) else { return nil }
            return value
        }
        func year(_ token: String) -> Int? {
            guard token.allSatisfy(\.isNumber), token.count == 4 || token.count == 2 else { return nil }
            return Int(token)
        }
        // A four-digit year after 'latestYear' is a misread digit ("2048" for "2018").
        func plausibleYear(_ token: String) -> Int? {
            guard let y = year(token) else { return nil }
            guard token.count == 4, y > latestYear else { return y }
            let parts = [Array(token)]
            return repairedDate(parts) { n in n[0] <= latestYear ? String(format: "%04d-01-01", n[0]) : nil }
                .flatMap { Int($0.0.prefix(4)) }
        }
        let fillers: Set<String> = ["de", "of", "del", "the"]
        for (k, token) in tokens.enumerated() {
            guard let month = months[token.0] ?? misreadMonth(token.0) else { continue }
            // Day before the month: "5. März 2024", "5 de marzo de 2024".
            var before = k - 1
            if before >= 0, fillers.contains(tokens[before].0) { before -= 1 }
            var after = k + 1
            if after < tokens.count, fillers.contains(tokens[after].0) { after += 1 }
            if before >= 0, let d = day(tokens[before].0), after < tokens.count, let y = plausibleYear(tokens[after].0),
               gapOK(tokens[before].1, tokens[before + 1].1) || before + 1 < k, gapOK(tokens[after - 1].1, tokens[after].1) || after - 1 > k,
               let iso = isoDate(year: y, month: month, day: d) {
                let range = tokens[before].1.lowerBound..<tokens[after].1.upperBound
                found.append(FoundValue(range: range, value: iso, raw: String(text[range])))
                continue
            }
            // Month first: "Mar 5, 2024", "August 3 , 2014".
            if k + 2 < tokens.count, let d = day(tokens[k + 1].0), let y = plausibleYear(tokens[k + 2].0),
               gapOK(token.1, tokens[k + 1].1), gapOK(tokens[k + 1].1, tokens[k + 2].1),
               let iso = isoDate(year: y, month: month, day: d) {
                let range = token.1.lowerBound..<tokens[k + 2].1.upperBound
                found.append(FoundValue(range: range, value: iso, raw: String(text[range])))
            }
        }
        return found
    }

    // MARK: Amounts and numbers

    static let currencyCodes: Set<String> = [
        "EUR", "USD", "GBP", "CHF", "JPY", "INR", "MYR", "SGD", "IDR", "AUD", "CAD", "NZD", "CNY", "HKD", "SEK", "NOK", "DKK",
        "PLN", "CZK", "HUF", "BRL", "MXN", "ZAR", "THB", "PHP", "VND", "KRW", "TRY", "AED", "SAR", "RUB",
    ]
    static let currencyWords: [String: String] = [
        "rm": "MYR", "rs": "INR", "inr": "INR", "rp": "IDR", "euro": "EUR", "euros": "EUR", "sfr": "CHF", "fr": "CHF",
    ]
    static let currencySymbols: [Character: String] = ["€": "EUR", "$": "USD", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW"]

    /// The currency code written right before or after `range`, if any.
    static func currency(around range: Range<Int>, in text: [Character]) -> String? {
        var p = range.lowerBound - 1
        while p >= 0, text[p] == " " || text[p] == "-", range.lowerBound - p <= 3 { p -= 1 }
        if p >= 0, let code = currencySymbols[text[p]] { return code }
        if p >= 0, text[p].isLetter {
            var start = p
            while start > 0, text[start - 1].isLetter { start -= 1 }
            if let code = currencyCode(String(text[start...p])) { return code }
        }
        var q = range.upperBound
        while q < text.count, text[q] == " ", q - range.upperBound < 2 { q += 1 }
        if q < text.count, let code = currencySymbols[text[q]] { return code }
        if q < text.count, text[q].isLetter {
            var end = q
            while end < text.count, text[end].isLetter { end += 1 }
            if let code = currencyCode(String(text[q..<end])) { return code }
        }
        return nil
    }

    /// An ISO code from a word: `EUR`, `RM`, `Rs`, `Euro`.
    static func currencyCode(_ word: String) -> String? {
        let upper = word.uppercased()
        if currencyCodes.contains(upper), word == upper { return upper }
        return currencyWords[word.lowercased()]
    }

    /// Whether `s` (digits and separators) is a well-formed number: `1234`, `1.234,56`,
    /// `1,234.56`, `12,50`, `9,9000`.
    static func wellFormed(_ s: [Character]) -> Bool {
        guard let first = s.first, first.isNumber, let last = s.last, last.isNumber else { return false }
        var groups: [Int] = [0], separators: [Character] = []
        for character in s {
            if character.isNumber { groups[groups.count - 1] += 1 } else { separators.append(character); groups.append(0) }
        }
        if separators.isEmpty { return groups[0] <= 10 }
        let decimal: Character? = groups.last! != 3 || (separators.count > 1 && separators.last != separators.first) ? separators.last : nil
        let thousands = decimal == nil ? separators : Array(separators.dropLast())
        let integerGroups = decimal == nil ? groups : Array(groups.dropLast())
        if let decimal {
            guard (1...4).contains(groups.last!), decimal != "'" else { return false }
            if let t = thousands.first, t == decimal { return false }
        }
        guard Set(thousands).count <= 1 else { return false }
        if thousands.isEmpty { return integerGroups[0] <= 10 }
        return (1...3).contains(integerGroups[0]) && integerGroups.dropFirst().allSatisfy { $0 == 3 }
    }

    /// Numbers in `text[from...]` that are not inside `excluded` ranges (e.g. dates), with
    /// their sign and currency. A run of digits that is not one well-formed number is
    /// read as glued numbers ("40.39319.00" is 40.39 then 319.00).
    static func numbers(in text: [Character], from: Int = 0, excluding excluded: [Range<Int>] = []) -> [FoundValue] {
        var found: [FoundValue] = []
        var i = from
        while i < text.count {
            guard text[i].isASCIIDigit else { i += 1; continue }
            if i > from, text[i - 1].isASCIIDigit { i += 1; continue }
            if let range = excluded.first(where: { $0.contains(i) }) { i = max(range.upperBound, i + 1); continue }
            if i > from, text[i - 1].isLetter {
                var start = i - 1
                while start > from, text[start - 1].isLetter { start -= 1 }
                // Glued to a word: only a currency ("RM41.43") makes it a number.
                if currencyCode(String(text[start..<i])) == nil {
                    while i < text.count, text[i].isLetter || text[i].isNumber { i += 1 }
                    continue
                }
            }
            var end = i
            while end < text.count, text[end].singleASCIIByte != nil, text[end].isNumber || ".,'".contains(text[end]) { end += 1 }
            var candidate = Array(text[i..<end])
            while let last = candidate.last, !last.isNumber { candidate.removeLast() }
            while !candidate.isEmpty, !wellFormed(candidate) {
                candidate.removeLast()
                while let last = candidate.last, !last.isNumber { candidate.removeLast() }
            }
            guard !candidate.isEmpty else { i = end; continue }
            var range = i..<(i + candidate.count)
            // OCR splits decimals off: "49, 40", "295 .00".
            let e = range.upperBound
            if !candidate.contains(where: { !$0.isNumber }), e + 3 < text.count || e + 3 == text.count,
               e + 2 < text.count, ".,".contains(text[e]) && text[e + 1] == " " || text[e] == " " && ".,".contains(text[e + 1]),
               e + 3 < text.count, text[e + 2].isNumber, text[e + 3].isNumber,
               e + 4 >= text.count || !text[e + 4].isNumber {
                candidate += [".", text[e + 2], text[e + 3]]
                range = i..<(e + 4)
            }
            // Followed by letters or digits in the same word ("12ab"): not a number.
            if range.upperBound < text.count, text[range.upperBound].isLetter,
               currencyCode(String(text[range.upperBound...].prefix { $0.isLetter })) == nil,
               !(text[range.upperBound].isUppercase && range.upperBound + 1 < text.count && text[range.upperBound + 1].isLowercase) {
                i = range.upperBound
                while i < text.count, text[i].isLetter || text[i].isNumber { i += 1 }
                continue
            }
            if range.upperBound < text.count, text[range.upperBound] == "%" {
                i = range.upperBound + 1
                continue
            }
            guard var value = ValueParser.parseNumber(String(candidate)) else { i = range.upperBound; continue }
            var negative = false
            if range.lowerBound > 0, "-−".contains(text[range.lowerBound - 1]) { negative = true }
            if range.lowerBound > 1, text[range.lowerBound - 1] == " ", "-−".contains(text[range.lowerBound - 2]),
               range.lowerBound < 3 || text[range.lowerBound - 3] == " " { negative = true }
            if range.upperBound < text.count, text[range.upperBound] == "-" ,
               range.upperBound + 1 >= text.count || !text[range.upperBound + 1].isNumber { negative = true }
            if negative, !value.hasPrefix("-"), Double(value) != 0 { value = "-" + value }
            let currency = currency(around: range, in: text)
            let hasDecimals = candidate.count >= 3 && !candidate[candidate.count - 3].isNumber
            var quality = hasDecimals ? 1.0 : (currency != nil ? 0.85 : 0.6)
            if candidate.count > 9 && !hasDecimals { quality = 0.2 }
            found.append(FoundValue(range: range, value: value, raw: String(text[range]), currency: currency, quality: quality))
            i = range.upperBound
        }
        return found
    }

    /// Amounts (numbers that are not part of a date or a percentage) in `text[from...]`.
    static func amounts(in text: [Character], from: Int = 0) -> [FoundValue] {
        numbers(in: text, from: from, excluding: dates(in: text, from: from).map(\.range))
    }

    /// Percentages: `19 %`, `7,5%`.
    static func percentages(in text: [Character], from: Int = 0) -> [FoundValue] {
        var found: [FoundValue] = []
        var i = from
        while i < text.count {
            guard text[i] == "%" else { i += 1; continue }
            var start = i
            if start > 0, text[start - 1] == " " { start -= 1 }
            let end = start
            while start > from, text[start - 1].isNumber || ".,".contains(text[start - 1]) { start -= 1 }
            if start < end, let value = ValueParser.parseNumber(String(text[start..<end])) {
                found.append(FoundValue(range: start..<(i + 1), value: value, raw: String(text[start...i])))
            }
            i += 1
        }
        return found
    }

    // MARK: Identifiers, contacts

    /// The identifier right after `from`: an invoice number, VAT id, order number. Skips
    /// separators, `#`, `No.`/`Nr.`/`n°` and a parenthesised code ("(380) Nr. 471102").
    static func identifier(in text: [Character], from: Int) -> FoundValue? {
        var p = from
        let prefixes = ["number", "nummer", "numero", "num", "nr", "no", "id", "n°", "nº", "#"]
        var progress = true
        while progress, p < text.count {
            progress = false
            while p < text.count, " :.#-_|;,=\u{00A0}".contains(text[p]) { p += 1; progress = true }
            if p < text.count, text[p] == "(", let close = text[p...].firstIndex(of: ")"), close - p <= 8 {
                p = close + 1
                progress = true
                continue
            }
            for prefix in prefixes {
                let characters = Array(prefix)
                guard p + characters.count <= text.count,
                      Array(text[p..<(p + characters.count)].map(TextRun.fold)) == characters else { continue }
                let next = p + characters.count
                // Words must end at a separator; the symbols may be glued to the number ("n°562044387").
                let glueable = !characters.last!.isLetter
                guard next == text.count || glueable || !(text[next].isLetter || text[next].isNumber) else { continue }
                p = next
                progress = true
                break
            }
        }
        guard p < text.count else { return nil }
        var end = p
        while end < text.count, !text[end].isWhitespace { end += 1 }
        while end > p, ".,;:)]".contains(text[end - 1]) { end -= 1 }
        guard end > p else { return nil }
        var token = Array(text[p..<end])
        // A date glued to the end of the identifier ("VF100519303922-9-2022").
        if token.count > 10, let date = dates(in: token).last, date.range.upperBound == token.count, date.range.lowerBound > 2 {
            token = Array(token[..<date.range.lowerBound])
            end = p + token.count
        }
        // A word glued to the end: "IBZY2087Payment".
        if let cut = token.indices.first(where: { i in
            i > 0 && token[i - 1].isNumber && token[i].isUppercase && token.count - i >= 4 && token[(i + 1)...].allSatisfy(\.isLowercase)
        }) {
            token = Array(token[..<cut])
            end = p + token.count
        }
        guard token.count >= 2, token.count <= 40, token.contains(where: \.isNumber) else { return nil }
        if let date = dates(in: token).first, date.range == 0..<token.count { return nil }
        // An amount ("49,99") is not an identifier.
        if token.count >= 4, !token[token.count - 3].isNumber, ".,".contains(token[token.count - 3]), wellFormed(token) { return nil }
        let letters = token.filter(\.isLetter).count
        let quality = token.count >= 4 ? (letters > token.count / 2 ? 0.7 : 1) : 0.6
        return FoundValue(range: p..<end, value: String(token), raw: String(token), quality: quality)
    }

    static func emails(in text: [Character], from: Int = 0) -> [FoundValue] {
        var found: [FoundValue] = []
        let local = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
        let domain = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
        for at in text.indices where at >= from && text[at] == "@" {
            var start = at
            while start > from, local.contains(text[start - 1]) { start -= 1 }
            var end = at + 1
            while end < text.count, domain.contains(text[end]) { end += 1 }
            while end > at + 1, ".-".contains(text[end - 1]) { end -= 1 }
            let host = String(text[(at + 1)..<end])
            guard start < at, let dot = host.lastIndex(of: "."), host[host.index(after: dot)...].count >= 2 else { continue }
            let raw = String(text[start..<end])
            found.append(FoundValue(range: start..<end, value: raw.lowercased(), raw: raw))
        }
        return found
    }

    static func urls(in text: [Character], from: Int = 0) -> [FoundValue] {
        var found: [FoundValue] = []
        let folded = text.map(TextRun.fold)
        var i = from
        while i < text.count {
            let rest = String(folded[i..<min(i + 8, text.count)])
            if (i == 0 || !text[i - 1].isLetter), rest.hasPrefix("http://") || rest.hasPrefix("https://") || rest.hasPrefix("www.") {
                var end = i
                while end < text.count, !text[end].isWhitespace { end += 1 }
                while end > i, ".,;:)".contains(text[end - 1]) { end -= 1 }
                let raw = String(text[i..<end])
                found.append(FoundValue(range: i..<end, value: raw, raw: raw))
                i = end
            } else {
                i += 1
            }
        }
        return found
    }

    /// Phone numbers: 7 to 15 digits with the usual separators, optionally `+`.
    static func phones(in text: [Character], from: Int = 0) -> [FoundValue] {
        var found: [FoundValue] = []
        let dates = dates(in: text, from: from).map(\.range)
        var i = from
        while i < text.count {
            guard text[i] == "+" || text[i] == "(" || text[i].isASCIIDigit,
                  i == 0 || !(text[i - 1].isLetter || text[i - 1].isNumber) else { i += 1; continue }
            var end = i
            while end < text.count, text[end].singleASCIIByte != nil, text[end].isNumber || " +()-./".contains(text[end]) { end += 1 }
            while end > i, !(text[end - 1].isNumber) { end -= 1 }
            let digitCount = text[i..<end].filter(\.isNumber).count
            if (7...15).contains(digitCount), !dates.contains(where: { $0.overlaps(i..<end) }), end - i <= 22 {
                let raw = String(text[i..<end])
                let value = (raw.hasPrefix("+") ? "+" : "") + raw.filter(\.isNumber)
                found.append(FoundValue(range: i..<end, value: value, raw: raw))
            }
            i = max(end, i + 1)
        }
        return found
    }

    static func booleans(in text: [Character], from: Int = 0) -> [FoundValue] {
        tokens(text, from: from).compactMap { token, range in
            if let value = ValueParser.parseBoolean(token) {
                return FoundValue(range: range, value: value ? "true" : "false", raw: String(text[range]))
            }
            if let box = ["☑": "true", "☒": "true", "✓": "true", "✔": "true", "☐": "false"].first(where: { token == $0.key }) {
                return FoundValue(range: range, value: box.value, raw: box.key)
            }
            return nil
        }
    }
}

private extension String {
    /// The string with zeros before it up to `length` characters (`"2".leftPadded(2)` is `"02"`).
    func leftPadded(_ length: Int) -> String { count >= length ? self : String(repeating: "0", count: length - count) + self }
}
