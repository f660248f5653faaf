import Foundation

/// Finds the seller's name: after a seller label ("Verkäufer", "Sold by"), else the line
/// that looks most like a company name near the top of the first page (legal form such as
/// GmbH/Ltd/Sdn Bhd, large type, repeated in the footer, a registration number below),
/// never inside the buyer's block ("Bill to", "Rechnungsempfänger").
struct IssuerFinder {
    let document: DocumentLayout
    let labels: [Label]

    struct Scored {
        var candidate: Candidate
        let core: [String]
    }

    /// Rows of a page covered by a buyer block, with their horizontal extent.
    private func buyerZones(_ page: FieldLayout) -> [(rows: ClosedRange<Int>, x0: Double, x1: Double)] {
        var zones: [(ClosedRange<Int>, Double, Double)] = []
        for run in page.runs {
            for label in CompanyWords.buyerLabels where !LabelMatcher.find(label, in: run).isEmpty {
                // A label at the start of its run, not a word inside a sentence.
                guard let range = LabelMatcher.find(label, in: run).first, range.lowerBound <= 2 else { continue }
                let width = max(run.box.x1 - run.box.x0, page.page.width * 0.3)
                zones.append((run.row...(run.row + 6), run.box.x0 - 2 * run.height, run.box.x0 + width))
            }
        }
        return zones
    }

    func best() -> Scored? {
        var scored: [Scored] = []
        scored += labelled()
        // The same for every field of the document (issuer, address): found once.
        if let cached = document.cache.unlabelledIssuers {
            scored += cached
        } else {
            let found = unlabelled()
            document.cache.unlabelledIssuers = found
            scored += found
        }
        guard var best = scored.max(by: { $0.candidate.score < $1.candidate.score }) else { return nil }
        // The letterhead spelling wins over a footer's "…, Inc.": same name without the legal form.
        if let first = document.pages.first {
            for run in first.runs where run.box.y1 < first.page.height * 0.2 {
                guard let cleaned = Self.clean(run), cleaned.core == best.core, cleaned.core.count >= 2,
                      cleaned.text.count < best.candidate.value.count else { continue }
                best.candidate = Candidate(value: cleaned.text, raw: cleaned.text, run: run, range: cleaned.range,
                                           score: best.candidate.score)
                break
            }
        }
        // A chain's name above its outlet's ("DOMINO'S PIZZA" over "DOMINO'S PIZZA PERMAS JAYA").
        if !Self.nameTokens(best.candidate.value).contains(where: { CompanyWords.legalForms.contains($0) }),
           let brand = scored.first(where: { other in
               other.candidate.run.page == best.candidate.run.page && other.candidate.run.row < best.candidate.run.row
                   && other.core.count >= 2 && other.core.count < best.core.count && best.core.starts(with: other.core)
                   && other.candidate.score > best.candidate.score - 0.2
           }) {
            best = brand
        }
        if best.candidate.run.isOCR {
            let spelled = Self.lexiconSpelling(Self.consensusSpelling(best.candidate.value, in: document))
            if spelled != best.candidate.value {
                let candidate = best.candidate
                best.candidate = Candidate(value: spelled, raw: candidate.raw, run: candidate.run, range: candidate.range,
                                           score: candidate.score)
            }
        }
        return best
    }

    /// OCR misreads a letter of a name now and then ("SANYO STATIONERY" for "SANYU"): a word
    /// of the name is respelled as a one-letter variant that the document prints at least
    /// twice elsewhere, and more often than the name's spelling.
    static func consensusSpelling(_ name: String, in document: DocumentLayout) -> String {
        let words = name.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        let folded = words.map { TextRun.fold($0) }
        guard folded.contains(where: { $0.count >= 4 && $0.allSatisfy(\.isLetter) }) else { return name }
        var counts: [String: Int] = [:]
        for run in document.runs {
            for (token, _) in ValueFinder.tokens(run.text) where token.count >= 4 { counts[token, default: 0] += 1 }
        }
        var result = words
        for (i, word) in folded.enumerated() where word.count >= 4 && word.allSatisfy(\.isLetter) {
            let own = counts[word, default: 0]
            let letters = Array(word)
            let variant = counts.filter { token, count in
                count >= 2 && count > own && Self.oneLetterApart(token, letters) && token.allSatisfy(\.isLetter)
            }.max { $0.value < $1.value }?.key
            guard let variant else { continue }
            result[i] = Self.respell(words[i], as: variant)
        }
        return result.joined(separator: " ")
    }

    /// Same length, exactly one character different.
    static func oneLetterApart(_ a: some Collection<Character>, _ b: some Collection<Character>) -> Bool {
        a.count == b.count && zip(a, b).filter { $0 != $1 }.count == 1
    }

    /// `variant` (folded) in the case `original` is printed in: upper, capitalised or lower.
    static func respell(_ original: String, as variant: String) -> String {
        original == original.uppercased() ? variant.uppercased()
            : original.first?.isUppercase == true ? variant.prefix(1).uppercased() + variant.dropFirst() : variant
    }

    /// A long word of an OCR'd name one letter (never the first) away from a word typical of
    /// business names is respelled as it: "PERNIAGAAR" → "PERNIAGAAN", "Bakerles" → "Bakeries".
    static func lexiconSpelling(_ name: String) -> String {
        var words = name.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
        for (i, word) in words.enumerated() where word.count >= 7 {
            let folded = Array(TextRun.fold(word))
            guard folded.count == word.count, folded.allSatisfy(\.isLetterFast),
                  !CompanyWords.businessWords.contains(String(folded)) else { continue }
            guard let match = CompanyWords.businessWords.first(where: { $0.first == folded.first && Self.oneLetterApart($0, folded) })
            else { continue }
            words[i] = Self.respell(word, as: match)
        }
        return words.joined(separator: " ")
    }

    /// After a seller label: the rest of its run, the run right of it, or the "Name:" line
    /// (with its continuation) in the block below.
    private func labelled() -> [Scored] {
        var found: [Scored] = []
        for page in document.pages {
            for run in page.runs {
                for label in labels {
                    for range in LabelMatcher.find(label, in: run) {
                        if let value = nameAfter(range.upperBound, in: run) {
                            found.append(scored(value.0, run: run, range: value.1, score: 0.5 * label.weight + 0.9))
                            continue
                        }
                        let rest = run.text[range.upperBound...]
                        guard !rest.contains(where: { $0.isLetter || $0.isNumber }) else { continue }
                        if let below = nameBelow(run, in: page) {
                            found.append(scored(below.0, run: below.1, range: below.2, score: 0.5 * label.weight + 0.85))
                            continue
                        }
                        if let next = page.rows[run.row].first(where: { $0.index == run.index + 1 }),
                           next.box.x0 - run.box.x1 < 10 * max(run.height, 1),
                           !CompanyWords.buyerLabels.contains(where: { !LabelMatcher.find($0, in: next).isEmpty }),
                           let value = nameAfter(0, in: next) {
                            found.append(scored(value.0, run: next, range: value.1, score: 0.5 * label.weight + 0.8))
                        }
                    }
                }
            }
        }
        return found
    }

    private static let nameLabels: [Label] = ["name", "firma", "company", "nom", "naam", "nombre", "nome", "raison sociale",
                                               "company name", "firmenname"].map { Label($0) }

    private func nameAfter(_ start: Int, in run: TextRun) -> (String, Range<Int>)? {
        var p = start
        while p < run.text.count, " :-|".contains(run.text[p]) { p += 1 }
        var end = run.text.count
        while end > p, " ,;:".contains(run.text[end - 1]) { end -= 1 }
        guard end > p, run.text[p..<end].filter(\.isLetter).count >= 3 else { return nil }
        let value = String(run.text[p..<end])
        guard !["bic", "iban", "swift", "blz", "name", "nummer", "number", "address", "adresse"].contains(TextRun.fold(value)),
              !(value.hasPrefix("(") && value.hasSuffix(")")) else { return nil }
        return (String(run.text[p..<end]), p..<end)
    }

    private func nameBelow(_ run: TextRun, in page: FieldLayout) -> (String, TextRun, Range<Int>)? {
        let below = page.runs(below: run, from: run.box.x0 - 2 * run.height, to: run.box.x1 + page.page.width * 0.25, maxRows: 5)
        // A "Name:" line in the block wins.
        for (candidate, _) in below {
            for label in Self.nameLabels {
                guard let range = LabelMatcher.find(label, in: candidate).first, range.lowerBound <= 1,
                      let value = nameAfter(range.upperBound, in: candidate) else { continue }
                var text = value.0
                // A name continued on the next line, aligned with the value.
                let valueX = candidate.box(of: value.1).x0
                if candidate.row + 1 < page.rows.count,
                   let next = page.rows[candidate.row + 1].first(where: { abs($0.box.x0 - valueX) < 3 * candidate.height }),
                   page.rows[candidate.row + 1].allSatisfy({ $0.box.x0 > candidate.box.x0 + candidate.height }),
                   !next.text.contains(where: \.isNumber) {
                    text += " " + next.string
                }
                return (text, candidate, value.1)
            }
        }
        for (candidate, _) in below {
            if let cleaned = Self.clean(candidate), !candidate.text.contains(":") {
                return (cleaned.text, candidate, cleaned.range)
            }
        }
        return nil
    }

    private func scored(_ text: String, run: TextRun, range: Range<Int>, score: Double) -> Scored {
        let text = Self.cutAtLegalForm(text)
        return Scored(candidate: Candidate(value: text, raw: text, run: run, range: range, score: score), core: Self.core(text))
    }

    /// Company-looking lines near the top of the first page or in a page footer.
    private func unlabelled() -> [Scored] {
        guard let first = document.pages.first else { return [] }
        var pages = [first]
        if let last = document.pages.last, document.pages.count > 1 { pages.append(last) }
        let allRuns = document.runs.map { ValueFinder.tokens($0.text).map(\.0).joined(separator: " ") }
        var found: [Scored] = []
        for (pageIndex, page) in pages.enumerated() {
            let zones = buyerZones(page)
            let height = page.page.height
            func isTop(_ y0: Double) -> Bool { y0 < height * 0.4 && pageIndex == 0 }
            func isFooter(_ y0: Double) -> Bool { y0 > height * 0.7 }
            for run in candidateRuns(page, keeping: { isTop($0) || isFooter($0) }) {
                let top = isTop(run.box.y0)
                let footer = isFooter(run.box.y0)
                guard top || footer else { continue }
                if zones.contains(where: { $0.rows.contains(run.row) && run.box.x0 >= $0.x0 && run.box.x0 <= $0.x1 && run.row > $0.rows.lowerBound }) {
                    continue
                }
                guard let cleaned = Self.clean(run) else { continue }
                let tokens = cleaned.core
                let allTokens = Self.nameTokens(cleaned.text)
                var score = 0.2
                if allTokens.contains(where: { CompanyWords.legalForms.contains($0) }) || cleaned.text.contains("S/B") { score += 0.45 }
                if let first = allTokens.first, CompanyWords.legalForms.contains(first) || Self.isNameTail(run) { score -= 0.4 }
                if allTokens.contains(where: { ["reg", "registration", "gst", "tel", "fax", "vat", "capital", "capitale", "kapital", "siret", "rcs", "kvk", "iban", "bic"].contains($0) }) {
                    score -= 0.5
                }
                // The company that owns the shop ("Owned by / Dommal Food Services Sdn Bhd"), not the shop.
                if Self.followsOwnerLabel(run, in: page) { score -= 0.5 }
                // A footer name followed by the company's legal details ("Sarl au capital de…, RCS…").
                if footer, page.rows[(run.row + 1)..<min(page.rows.count, run.row + 3)].contains(where: { row in
                    row.contains { next in
                        ValueFinder.tokens(next.text).map(\.0).contains { ["capital", "rcs", "siret", "siren", "hrb", "hra", "handelsregister",
                                                                          "registergericht", "amtsgericht", "kvk", "registered"].contains($0) }
                    }
                }) { score += 0.35 }
                if let next = Self.nextRun(after: run, in: page), let first = Self.nameTokens(next.string).first,
                   CompanyWords.legalForms.contains(first) { score += 0.2 }
                if allTokens.contains(where: { CompanyWords.businessWords.contains($0) }) { score += 0.2 }
                if top { score += 0.3 * (1 - min(1, run.box.y0 / (height * 0.4))) } else { score -= 0.1 }
                if run.height >= 1.25 * page.medianHeight { score += 0.15 }
                if run.height >= 1.8 * page.medianHeight { score += 0.1 }
                let key = tokens.joined(separator: " ")
                if !key.isEmpty, Self.occursTwice(key, in: allRuns) { score += 0.15 }
                if run.row + 1 < page.rows.count, page.rows[run.row + 1].contains(where: Self.isRegistrationNumber) { score += 0.25 }
                if Self.looksLikeAddress(allTokens, text: cleaned.text) { score -= 0.35 }
                score -= Self.labelOrSentencePenalty(Self.nameTokens(run.string))
                if cleaned.text == cleaned.text.lowercased() { score -= 0.2 }
                if run.text.contains(":") { score -= 0.3 }
                score += 0.02 * Double(min(tokens.count, 5))
                score *= 0.5 + 0.5 * min(1, run.confidence)
                found.append(Scored(candidate: Candidate(value: cleaned.text, raw: cleaned.text, run: run, range: cleaned.range,
                                                         score: score), core: tokens))
            }
        }
        return found
    }

    private static let ownerLabels: [Label] = ["owned by", "operated by", "managed by", "a member of", "subsidiary of",
                                               "franchisee of", "dimiliki oleh"].map { Label($0) }

    /// Whether the name comes right after "Owned by" / "Operated by", on its line or the one above.
    static func followsOwnerLabel(_ run: TextRun, in page: FieldLayout) -> Bool {
        var lines = [run]
        if run.row > 0, let above = page.rows[run.row - 1].first(where: { $0.box.x1 > run.box.x0 && $0.box.x0 < run.box.x1 }),
           run.box.y0 - above.box.y1 < 1.5 * max(run.height, 1) {
            lines.append(above)
        }
        return lines.contains { line in
            ownerLabels.contains { label in LabelMatcher.find(label, in: line).contains { $0.lowerBound <= 2 } }
        }
    }

    /// True if `key` occurs in at least two of `lines` (stops at the second).
    private static func occursTwice(_ key: String, in lines: [String]) -> Bool {
        var hits = 0
        // ASCII text compares as bytes: the same answer as Foundation's search, much faster.
        let asciiKey = key.utf8.allSatisfy { $0 < 0x80 }
        for line in lines where asciiKey && line.utf8.allSatisfy({ $0 < 0x80 }) ? containsBytes(line, key) : line.contains(key) {
            hits += 1
            if hits == 2 { return true }
        }
        return false
    }

    /// Whether `key`'s bytes occur in `line`'s (false for an empty key, as Foundation says).
    private static func containsBytes(_ line: String, _ key: String) -> Bool {
        var line = line, key = key
        return line.withUTF8 { line in
            key.withUTF8 { key in
                guard let first = key.first, key.count <= line.count else { return false }
                for start in 0...(line.count - key.count) where line[start] == first {
                    if memcmp(line.baseAddress! + start, key.baseAddress!, key.count) == 0 { return true }
                }
                return false
            }
        }
    }

    /// Runs of a page, plus runs of one row joined when a wide gap split a name
    /// ("B & BEST   RESTAURANT"), plus names continued by a legal form on the next row
    /// ("POPULAR BOOK" / "CO. (M) SDN BHD").
    ///
    /// Joined runs are only built where `wanted` keeps their top edge (the caller drops the rest).
    private func candidateRuns(_ page: FieldLayout, keeping wanted: (Double) -> Bool) -> [TextRun] {
        var runs: [TextRun] = []
        // Asked again for every run above: each run's and each whole row's answer, once.
        var tails = page.rows.map { [Bool?](repeating: nil, count: $0.count) }
        func isTail(_ run: TextRun) -> Bool {
            if let known = tails[run.row][run.index] { return known }
            let answer = Self.isNameTail(run)
            tails[run.row][run.index] = answer
            return answer
        }
        var wholeRows: [Int: (run: TextRun, isTail: Bool)] = [:]
        for row in page.rows {
            for (n, run) in row.enumerated() {
                runs.append(run)
                if n + 1 < row.count, wanted(min(run.box.y0, row[n + 1].box.y0)), row[n + 1].box.x0 - run.box.x1 < 6 * max(run.height, 1),
                   !run.text.contains(":"), !row[n + 1].text.contains(":") {
                    runs.append(TextRun(page: run.page, row: run.row, index: run.index, words: run.words + row[n + 1].words))
                }
                if let next = Self.nextRun(after: run, in: page),
                   wanted(min(run.box.y0, page.rows[next.row].map(\.box.y0).min()!)) || wanted(min(run.box.y0, next.box.y0)),
                   !isTail(run) {
                    let nextRow = page.rows[next.row]
                    let whole = wholeRows[next.row] ?? {
                        let whole = TextRun(page: run.page, row: next.row, index: 0, words: nextRow.flatMap(\.words))
                        return (whole, Self.isNameTail(whole))
                    }()
                    wholeRows[next.row] = whole
                    if whole.isTail {
                        runs.append(TextRun(page: run.page, row: run.row, index: run.index, words: run.words + whole.run.words))
                    } else if isTail(next) {
                        runs.append(TextRun(page: run.page, row: run.row, index: run.index, words: run.words + next.words))
                    }
                }
            }
            if row.count > 2, wanted(row.map(\.box.y0).min()!), zip(row, row.dropFirst()).allSatisfy({ $1.box.x0 - $0.box.x1 < 6 * max($0.height, 1) }),
               !row.contains(where: { $0.text.contains(":") }) {
                runs.append(TextRun(page: row[0].page, row: row[0].row, index: 0, words: row.flatMap(\.words)))
            }
        }
        return runs
    }

    /// The run on the next row that overlaps `run` horizontally.
    static func nextRun(after run: TextRun, in page: FieldLayout) -> TextRun? {
        guard run.row + 1 < page.rows.count else { return nil }
        let next = page.rows[run.row + 1]
        guard let first = next.first, first.box.y0 - run.box.y1 < 1.5 * max(run.height, 1) else { return nil }
        return next.first { $0.box.x1 > run.box.x0 && $0.box.x0 < run.box.x1 }
    }

    /// Only legal-form words, parenthesised parts aside: "CO. (M) SDN BHD", "BHD".
    static func isNameTail(_ run: TextRun) -> Bool {
        var text: [Character] = [], depth = 0
        for character in run.text {
            // Only "(" and ")" themselves equal "(" and ")": a byte test.
            let byte = character.singleASCIIByte
            if byte == 0x28 { depth += 1 } else if byte == 0x29 { depth = max(0, depth - 1) } else if depth == 0 { text.append(character) }
        }
        let tokens = nameTokens(String(characters: text[...]))
        return !tokens.isEmpty && tokens.allSatisfy { CompanyWords.legalForms.contains($0) }
    }

    /// Folded tokens with dotted abbreviations joined ("B.V." → "bv", "S.A." → "sa").
    static func nameTokens(_ text: String) -> [String] {
        var result: [String] = []
        var letters = ""
        for token in ValueFinder.tokens(Array(text)).map(\.0) {
            if token.count == 1, token.first!.isLetterFast {
                letters += token
                continue
            }
            if !letters.isEmpty { result.append(letters); letters = "" }
            result.append(token)
        }
        if !letters.isEmpty { result.append(letters) }
        return result
    }

    /// A company registration number like "002043319-W" or "(139386 X)".
    static func isRegistrationToken(_ token: String) -> Bool {
        // Fewer than four digits: not one (trimming ASCII punctuation leaves no more).
        if token.utf8.allSatisfy({ $0 < 0x80 }), token.utf8.count(where: { $0 &- 0x30 < 10 }) < 4 { return false }
        let core = token.trimmingCharacters(in: CharacterSet(charactersIn: "();:,.\"'&"))
        // A range of house or unit numbers ("106-107", "12-14"), not a registration.
        let parts = core.split(separator: "-")
        if parts.count == 2, parts.allSatisfy({ (1...4).contains($0.count) && $0.allSatisfy(\.isNumber) }) { return false }
        let digits = core.filter(\.isNumber).count
        if digits >= 4, core.count >= 3, core.last!.isLetter, core[core.index(core.endIndex, offsetBy: -2)] == "-" { return true }
        return digits >= 4 && digits * 2 >= core.count && (core.contains("-") || core.last?.isLetter == true)
    }

    /// A line with a registration number, a date or only a code: not part of an address.
    static func isRegistrationLine(_ run: TextRun) -> Bool {
        if isRegistrationNumber(run) || !ValueFinder.dates(in: run.text).isEmpty { return true }
        let words = run.string.split(separator: " ").map(String.init)
        if words.count <= 3, words.contains(where: isRegistrationToken) { return true }
        let tokens = ValueFinder.tokens(run.text).map(\.0)
        if tokens.contains("co"), tokens.contains("no") || tokens.contains("reg") { return true }
        if tokens.contains("reg") || tokens.contains("gst") || tokens.contains("sst"), run.text.filter(\.isNumber).count >= 6 { return true }
        return run.text.filter { $0.isLetter || $0.isNumber }.count < 3
    }

    /// "002043319-W No.2, Jalan …" → "No.2, Jalan …".
    static func withoutRegistration(_ line: String) -> String {
        var words = line.split(separator: " ").map(String.init)
        while let first = words.first, isRegistrationToken(first) || !first.contains(where: { $0.isLetter || $0.isNumber }) || first.hasPrefix("(") && first.hasSuffix(")") || [";", ":", "|"].contains(first) {
            words.removeFirst()
        }
        return words.joined(separator: " ")
    }

    static func isRegistrationNumber(_ run: TextRun) -> Bool {
        let text = run.string.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("("), text.count <= 20 else { return false }
        return text.filter(\.isNumber).count >= 5
    }

    /// Words of country names that may follow an address's postcode line.
    static let countryWords: Set<String> = [
        "united", "states", "america", "canada", "australia", "zealand", "ireland", "uk", "england", "scotland", "wales",
        "austria", "osterreich", "schweiz", "suisse", "switzerland", "luxembourg", "belgie", "portugal", "poland", "polska",
        "sweden", "sverige", "norway", "norge", "denmark", "danmark", "finland", "suomi", "czech", "hungary", "greece",
        "china", "japan", "korea", "thailand", "vietnam", "philippines", "brunei", "hong", "kong", "taiwan", "emirates",
    ]

    /// A line with a postcode: a word of four to six digits ("81200 Johor Bahru", not "1851-A").
    static func hasPostcode(_ run: TextRun) -> Bool {
        run.text.split(separator: " ").contains { word in
            let digits = word.reversed().drop { ",.".contains($0) }
            return (4...6).contains(digits.count) && digits.allSatisfy { $0.isASCII && $0.isNumber }
        }
    }

    static func looksLikeAddress(_ tokens: [String], text: String) -> Bool {
        let words: Set<String> = ["str", "strasse", "straße", "street", "st", "road", "rd", "jalan", "jln", "rue", "avenue", "ave",
                                  "weg", "laan", "via", "calle", "lot", "no", "po", "box", "suite", "floor", "taman", "lorong", "blvd",
                                  "boulevard", "allee", "platz", "straat", "plein", "cedex", "bp", "bandar", "seksyen", "persiaran",
                                  "lebuh", "kampung", "kuala", "lumpur", "selangor", "johor", "darul", "ehsan", "malaysia", "singapore",
                                  "indonesia", "india", "deutschland", "germany", "france", "nederland", "netherlands", "belgique",
                                  "belgium", "espana", "spain", "italia", "italy", "usa", "kingdom"]
        if tokens.contains(where: { words.contains($0) || $0.hasSuffix("strasse") || $0.hasSuffix("straße") || $0.hasSuffix("str") || $0.hasSuffix("straat") }) {
            return true
        }
        return tokens.contains { $0.count >= 4 && $0.count <= 6 && $0.allSatisfy(\.isNumber) }
    }

    /// Tokens of a name without legal forms, for comparing spellings.
    static func core(_ text: String) -> [String] {
        nameTokens(text).filter { !CompanyWords.legalForms.contains($0) }
    }

    /// "Free SAS au capital de …" → "Free SAS".
    static func cutAtLegalForm(_ text: String) -> String {
        let characters = Array(text)
        let tokens = ValueFinder.tokens(characters)
        guard let last = tokens.indices.last(where: { $0 > 0 && CompanyWords.legalForms.contains(tokens[$0].0) && tokens[$0].0.count > 1 }),
              last < tokens.count - 1 else { return text }
        var end = tokens[last].1.upperBound
        if end < characters.count, characters[end] == "." { end += 1 }
        return String(characters[..<end])
    }

    /// A run as a candidate name: the part before an address separator, without document
    /// titles; nil when it cannot be a name (an e-mail, a date, mostly digits, a title).
    static func clean(_ run: TextRun) -> (text: String, range: Range<Int>, core: [String])? {
        let text = run.text
        var start = 0, end = text.count
        // "QualityHosting AG - Uferweg 40-42 - D-63571 Gelnhausen": the part before the address.
        for separator in [" - ", " · ", " | ", " – ", " • ", ", "] {
            let s = Array(separator)
            let firstByte = s[0].singleASCIIByte
            var i = 0
            while i + s.count <= end {
                // Two different ASCII characters are never equal: a byte test before comparing characters.
                if let byte = text[i].singleASCIIByte, let firstByte, byte != firstByte {
                    i += 1
                    continue
                }
                if text[i..<(i + s.count)].elementsEqual(s), text[(i + s.count)..<end].contains(where: \.isNumberFast) {
                    end = i
                    break
                }
                i += 1
            }
        }
        var tokens = ValueFinder.tokens(Array(text[..<end]))
        guard !tokens.allSatisfy({ CompanyWords.titleWords.contains($0.0) || CompanyWords.documentTitles.contains($0.0) }),
              !tokens.allSatisfy({ $0.0.count <= 2 }) else { return nil }
        while let first = tokens.first, CompanyWords.documentTitles.contains(first.0) || first.0 == "tax" {
            tokens.removeFirst()
            start = tokens.first?.1.lowerBound ?? end
        }
        while let last = tokens.last, CompanyWords.documentTitles.contains(last.0) {
            tokens.removeLast()
            end = tokens.last.map { min(end, $0.1.upperBound + (($0.1.upperBound < text.count && text[$0.1.upperBound] == ".") ? 1 : 0)) } ?? start
        }
        // A department after the name: "Free Service Abonné", "Telekom Kundenservice".
        if let department = CompanyWords.departments.first(where: { words in
            tokens.count > words.count && tokens.suffix(words.count).map(\.0) == words
        }) {
            tokens.removeLast(department.count)
            end = min(end, tokens.last!.1.upperBound)
        }
        // A sentence (more than 8 tokens) is no name: rejected before the costlier tests below.
        guard !tokens.isEmpty, tokens.count <= 8, start < end, !(text[start] == "(" && text[end - 1] == ")") else { return nil }
        var value = String(text[start..<end]).trimmingCharacters(in: CharacterSet(charactersIn: " ,;:-|_—~*'\"‘’“”&®©•·"))
        value = withoutLeadingNoise(value)
        value = ocrLegalForms(value)
        // A registration number after the name: "KING'S CONFECTIONERY S/B 273500-U (KSB)".
        if let cut = value.split(separator: " ").firstIndex(where: { isRegistrationToken(String($0)) }), cut > 0 {
            value = value.split(separator: " ")[..<cut].joined(separator: " ")
        }
        value = cutAtLegalForm(value)
        // An unclosed or trailing parenthesis: "Dion Realties Sdn Bhd (Co. No. 123)".
        if let open = value.lastIndex(of: "("), value.distance(from: open, to: value.endIndex) > 1,
           !value[open...].contains(")") || value[open...].contains(where: \.isNumber) && value.distance(from: value.startIndex, to: open) > 8 {
            value = String(value[..<open]).trimmingCharacters(in: .whitespaces)
        }
        let characters = Array(value)
        let letters = characters.count(where: \.isLetterFast), digits = characters.count(where: \.isNumberFast)
        guard letters >= 2, digits * 10 < characters.count * 3, characters.count <= 60,
              !value.contains("@"), !value.lowercased().contains("www"), !value.lowercased().contains("http"),
              ValueFinder.dates(in: characters).isEmpty, !value.contains("(c)"), !value.contains("©"),
              !(characters.first?.isNumber ?? true) || nameTokens(value).contains(where: { CompanyWords.legalForms.contains($0) }) || value.contains("S/B"),
              tokens.count >= 2 || letters >= 3
        else { return nil }
        let range = start..<min(text.count, start + characters.count)
        return (value, range, core(value))
    }

    /// An upper-case name without the speck OCR read before it at the line's start:
    /// "s THAI DELICIOUS RESTAURANT" is "THAI DELICIOUS RESTAURANT".
    static func withoutLeadingNoise(_ value: String) -> String {
        let words = value.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count >= 3, let first = words.first, first.count <= 2, first.allSatisfy({ $0.isLowercase }) else { return value }
        let rest = words.dropFirst().joined(separator: " ")
        guard rest.contains(where: \.isLetter), rest == rest.uppercased() else { return value }
        return rest
    }

    /// Words of a receipt's summary and of field labels: a line made of them is not a name
    /// ("GST Summary", "Rounding RM 1.77", "Cash Sale", "Nummer").
    static let labelWords: Set<String> = [
        "summary", "rounding", "subtotal", "change", "qty", "quantity", "price", "amount", "balance", "payment",
        "paid", "discount", "disc", "sale", "sales", "cashier", "nummer", "number", "datum", "date", "kunde", "customer",
        "kundennummer", "rechnungsnummer", "betrag", "menge", "preis", "montant", "numero", "item", "items", "total",
    ]

    /// Words that make a line a sentence rather than a name, in the languages the labels cover.
    static let sentenceWords: Set<String> = [
        "the", "for", "and", "you", "your", "please", "thank", "thanks", "keep", "will", "are", "is", "be", "to", "with",
        "die", "der", "das", "und", "bis", "zur", "zum", "unser", "unsere", "bleibt", "ist", "wir", "sie", "ihre",
        "les", "et", "reste", "jusqu", "notre", "nous", "vous", "est",
    ]

    /// How much a line's words say it is a label, a summary line or a sentence rather than
    /// a name (0 when they do not): subtracted from its score.
    static func labelOrSentencePenalty(_ tokens: [String]) -> Double {
        guard !tokens.contains(where: { CompanyWords.legalForms.contains($0) }) else { return 0 }
        var penalty = 0.0
        if tokens.contains(where: labelWords.contains) { penalty += 0.5 }
        // A column header with its unit: "Amount (RM)", "Preis (EUR)".
        if tokens.contains(where: { ValueFinder.currencyCode($0.uppercased()) != nil || ValueFinder.currencyWords[$0] != nil }),
           tokens.count <= 3 { penalty += 0.5 }
        if tokens.filter(sentenceWords.contains).count >= 2 || tokens.contains(where: { ["please", "thank", "keep"].contains($0) }) {
            penalty += 0.5
        }
        return penalty
    }

    /// OCR misreadings in a name's legal form and letters, same length: "SON BHD",
    /// "SDN BLD" → "SDN BHD"; "§/B8", "$/B" → "S/B"; "D.I.¥." → "D.I.Y.".
    static func ocrLegalForms(_ name: String) -> String {
        var words = name.split(separator: " ", omittingEmptySubsequences: false).map { word -> String in
            var word = String(word)
            // "§" and "¥" are not ASCII: an ASCII word needs no replacing.
            if !word.utf8.allSatisfy({ $0 < 0x80 }) {
                word = word.replacingOccurrences(of: "§", with: "S").replacingOccurrences(of: "¥", with: "Y")
            }
            if word.hasPrefix("$/") { word = "S" + word.dropFirst() }
            return word
        }
        func near(_ word: String, _ form: String) -> Bool {
            let a = Array(word.uppercased()), b = Array(form)
            return a.count == b.count && zip(a, b).filter { $0 != $1 }.count <= 1
        }
        // Only two three-letter words can be near "SDN BHD"; an ASCII word keeps its length upper-cased.
        func cannotBeThree(_ word: String) -> Bool { word.utf8.allSatisfy { $0 < 0x80 } && word.count != 3 }
        let digitLike: [Character: Character] = ["0": "O", "5": "S", "8": "B", "1": "I"]
        for i in words.indices {
            // "S/B8": a legal form with a stray character glued on.
            if words[i].count == 4, words[i].uppercased().hasPrefix("S/B"), !words[i].last!.isLetter { words[i] = String(words[i].prefix(3)) }
            guard i + 1 < words.count else { continue }
            if cannotBeThree(words[i]) || cannotBeThree(words[i + 1]) { continue }
            let pair = (words[i].uppercased(), words[i + 1].uppercased())
            let first = String(pair.0.map { digitLike[$0] ?? $0 }), second = String(pair.1.map { digitLike[$0] ?? $0 })
            if (pair.0 == "SDN" || pair.1 == "BHD" || first == "SDN" && second == "BHD") && near(first, "SDN") && near(second, "BHD") {
                let upper = words[i] == words[i].uppercased()
                words[i] = upper ? "SDN" : "Sdn"
                words[i + 1] = upper ? "BHD" : "Bhd"
            }
        }
        return words.joined(separator: " ")
    }

    /// The seller's address: the lines under the issuer's name until contact or tax lines.
    func address() -> Candidate? {
        guard let chosen = best(), let page = document.pages.first(where: { $0.page.number == chosen.candidate.run.page })
        else { return nil }
        let issuer = chosen.candidate
        let run = issuer.run
        // On a one-line letterhead the address follows the name.
        let rest = Array(run.text[min(issuer.range.upperBound, run.text.count)...])
        let restString = Self.withoutRegistration(String(rest).trimmingCharacters(in: CharacterSet(charactersIn: " -–|·•,")))
        if restString.filter(\.isNumber).count >= 3, restString.filter(\.isLetter).count >= 4,
           !restString.split(separator: " ").contains(where: { Self.isRegistrationToken(String($0)) }) {
            return Candidate(value: restString, raw: restString, run: run, range: issuer.range.upperBound..<run.text.count,
                             score: issuer.score * 0.8)
        }
        var lines: [TextRun] = []
        let stops = ["tel", "fax", "phone", "gst", "email", "e mail", "www", "http", "reg", "vat", "invoice", "receipt",
                     "date", "tax", "sst", "company", "ust", "mwst", "telefon", "hp", "mobile", "cashier", "table"]
        let center = (run.box.x0 + run.box.x1) / 2
        for (candidate, distance) in page.runs(below: run, from: run.box.x0 - 4 * run.height, to: run.box.x1 + 4 * run.height, maxRows: 8) {
            if lines.count >= 5 { break }
            // An OCR speck on a row of its own ("," or "—" between two address lines) neither
            // belongs to the address nor ends it.
            if !candidate.text.contains(where: { $0.isLetter || $0.isNumber }) { continue }
            // The second row of a two-row name ("CO. (M) SDN BHD").
            if lines.isEmpty, Self.isNameTail(candidate) || candidate.box.y0 < run.box.y1 - 0.3 * run.height { continue }
            if let last = lines.last, candidate.row == last.row { continue }
            if lines.isEmpty, Self.isRegistrationLine(candidate) { continue }
            // "GST REF No   : 001694261248" split in two runs.
            if lines.isEmpty, page.rows[candidate.row].count > 1,
               Self.isRegistrationLine(TextRun(page: candidate.page, row: candidate.row, index: 0,
                                               words: page.rows[candidate.row].flatMap(\.words))) { continue }
            // The outlet's name under the chain's ("DOMINO'S PIZZA PERMAS JAYA").
            if lines.isEmpty, chosen.core.count >= 2, Self.core(candidate.string).starts(with: chosen.core) { continue }
            if lines.isEmpty, distance > 5 { break }
            // Rows between this one and the last line hold at most OCR specks ("—", "'").
            if let last = lines.last, candidate.row - last.row > 1,
               page.rows[(last.row + 1)..<candidate.row].contains(where: { row in
                   row.contains { $0.text.filter { $0.isLetter || $0.isNumber }.count >= 2 }
               }) { break }
            let tokenRanges = ValueFinder.tokens(candidate.text)
            let tokens = tokenRanges.map(\.0)
            func isStop(_ token: String) -> Bool { stops.contains { token.hasPrefix($0) && ($0.count > 3 || token == $0) } }
            if let stop = tokens.firstIndex(where: isStop) {
                // The address's end on the row of its phone number: "81750 Johor Bahru, Johor. Tel No.: 07-387 3322".
                if stop >= 2, !lines.isEmpty || Self.hasPostcode(candidate), tokens[..<stop].contains(where: { $0.count >= 3 }) {
                    let end = tokenRanges[stop - 1].1.upperBound
                    var words: [Word] = []
                    var offset = 0
                    for word in candidate.words {
                        if offset + word.text.count <= end + 1 { words.append(word) }
                        offset += word.text.count + 1
                    }
                    if !words.isEmpty { lines.append(TextRun(page: candidate.page, row: candidate.row, index: candidate.index, words: words)) }
                }
                break
            }
            if Self.isRegistrationLine(candidate) { break }
            // A phone number whose label OCR misread ("Tal : +6 03 2026 6386").
            if candidate.text.filter(\.isLetter).count <= 4, !ValueFinder.phones(in: candidate.text).isEmpty { break }
            // After the postcode only a state or country continues it ("Johor"), not an outlet's name.
            if lines.contains(where: Self.hasPostcode), !candidate.text.contains(where: \.isNumber),
               !Self.looksLikeAddress(tokens, text: candidate.string), !tokens.contains(where: Self.countryWords.contains) { break }
            guard abs((candidate.box.x0 + candidate.box.x1) / 2 - center) < page.page.width * 0.3 || abs(candidate.box.x0 - run.box.x0) < 2 * run.height
            else { continue }
            lines.append(candidate)
        }
        // An outlet's name between the seller and its address ("IKEA Cheras" above "No 2A
        // Jalan Cochrane"): no digit, no address word, while the next line has both.
        if lines.count >= 2, !lines[0].text.contains(where: \.isNumber),
           !Self.looksLikeAddress(ValueFinder.tokens(lines[0].folded).map(\.0), text: lines[0].string),
           lines[1].text.contains(where: \.isNumber), Self.looksLikeAddress(ValueFinder.tokens(lines[1].folded).map(\.0), text: lines[1].string) {
            lines.removeFirst()
        }
        guard let first = lines.first else { return nil }
        let value = lines.map { Self.withoutRegistration($0.string) }.joined(separator: " ")
        return Candidate(value: value, raw: value, run: first, range: 0..<first.text.count, score: issuer.score * 0.7)
    }
}
