import Foundation

/// A label to look for on a page, e.g. "Invoice no." or "Rechnungsnummer", with how
/// strongly it points at its field.
struct Label: Sendable {
    /// Folded tokens: runs of letters and digits, and the symbols `#`, `°` and `%`.
    let tokens: [[Character]]
    /// `tokens` as `TextRun.code`s.
    let tokenCodes: [[UInt32]]
    /// The first character of every token: a run without one of them cannot match.
    let required: ASCIIMask
    /// Every character: a run may miss at most as many of them as substitutions are allowed.
    let characters: ASCIIMask
    let weight: Double
    /// Also matches at the end of a longer word: German compounds ("Handelsrechnung").
    let compound: Bool

    init(_ text: String, _ weight: Double = 1, compound: Bool = false) {
        var tokens: [[Character]] = []
        var current: [Character] = []
        for character in text.map(TextRun.fold) {
            if character.isLetter || character.isNumber {
                current.append(character)
            } else {
                if !current.isEmpty { tokens.append(current); current = [] }
                if "#°%".contains(character) { tokens.append([character]) }
            }
        }
        if !current.isEmpty { tokens.append(current) }
        self.tokens = tokens
        tokenCodes = tokens.map { $0.map(TextRun.code) }
        required = ASCIIMask(tokenCodes.compactMap(\.first))
        characters = ASCIIMask(tokenCodes.joined())
        self.weight = weight
        self.compound = compound
    }

    var isEmpty: Bool { tokens.isEmpty }
}

/// Where a label was found: its run and the character range it covers.
struct LabelHit {
    let run: TextRun
    let range: Range<Int>
    let label: Label
}

enum LabelMatcher {
    static let separators: Set<Character> = [" ", ".", ":", "-", "/", "_", "'", "’", "(", ")", ",", "\u{00A0}"]
    /// `separators` as codes: no other character equals one of them.
    static let separatorCodes = Set(separators.map(TextRun.code))

    /// Every occurrence of `label` in `run`. Tokens may be glued or separated by a few
    /// punctuation characters; a match must start and end at a word boundary (a glued
    /// value after it is fine: "Bruttosumme529,87").
    ///
    /// With `fuzzy`, on OCR text a label word of five or more letters may differ in one
    /// letter, never the first: OCR misreads a letter now and then ("Totat", "Anount").
    static func find(_ label: Label, in run: TextRun, fuzzy: Bool = false) -> [Range<Int>] {
        guard let first = label.tokens.first?.first, run.asciiMask.contains(label.required) else { return [] }
        let substitutions = fuzzy && run.isOCR ? 1 : 0
        guard run.asciiMask.missing(label.characters) <= substitutions else { return [] }
        let text = run.folded
        let codes = run.foldedCodes
        let firstCode = TextRun.code(first)
        var found: [Range<Int>] = []
        var start = 0
        while start < text.count {
            // A tight scan to the next possible start: the same code, or a character of several scalars.
            if firstCode != TextRun.multiScalar {
                while start < codes.count, codes[start] != firstCode, codes[start] != TextRun.multiScalar { start += 1 }
                if start == codes.count { break }
            }
            defer { start += 1 }
            let code = codes[start]
            // Equal single-scalar codes are equal characters; only other cases compare characters.
            guard code == firstCode && code != TextRun.multiScalar
                    || (code == TextRun.multiScalar || firstCode == TextRun.multiScalar) && text[start] == first else { continue }
            if start > 0, !label.compound, isWordCharacter(text[start - 1]) {
                // Allow a camel-case glue: "datumFactuur".
                guard run.text[start].isUppercaseFast, run.text[start - 1].isLowercaseFast else { continue }
            }
            var position = start
            var matched = true
            var allowed = substitutions
            for (n, token) in label.tokens.enumerated() {
                if n > 0 {
                    var skipped = 0
                    while position < text.count, separatorCodes.contains(codes[position]), skipped < 3 {
                        position += 1
                        skipped += 1
                    }
                }
                guard position + token.count <= text.count,
                      tokenMatches(token, label.tokenCodes[n], text[position..<(position + token.count)],
                                   codes[position..<(position + token.count)], substitutions: &allowed) else {
                    matched = false
                    break
                }
                position += token.count
            }
            guard matched else { continue }
            if position < text.count, let last = label.tokens.last?.last, last.isLetterFast, text[position].isLetterFast {
                // A longer word ("Totaleinnahmen") unless glued camel case ("TotalEUR").
                guard run.text[position].isUppercaseFast, run.text[position - 1].isLowercaseFast else { continue }
            }
            found.append(start..<position)
        }
        return found
    }

    /// Whether `text` spells `token`, with up to `substitutions` wrong characters in a
    /// token of five or more letters (never its first); spends the substitutions it uses.
    /// Codes are compared first: equal single-scalar codes are equal characters, different
    /// ASCII codes different ones; only the rest compare characters.
    static func tokenMatches(_ token: [Character], _ tokenCodes: [UInt32], _ text: ArraySlice<Character>,
                             _ textCodes: ArraySlice<UInt32>, substitutions: inout Int) -> Bool {
        var wrong = 0
        for (i, (expectedCode, actualCode)) in zip(tokenCodes, textCodes).enumerated() {
            if expectedCode == actualCode, expectedCode != TextRun.multiScalar { continue }
            let expected = token[i], actual = text[text.startIndex + i]
            guard expectedCode < 0x80 && actualCode < 0x80 || expected != actual else { continue }
            guard token.count >= 5, i > 0, expected.isLetterFast, isWordCharacter(actual) else { return false }
            wrong += 1
            if wrong > substitutions { return false }
        }
        substitutions -= wrong
        return true
    }

    static func isWordCharacter(_ character: Character) -> Bool { character.isWordFast }

    /// True if any of `words` occurs as a word (or word start) in `text` (folded).
    static func contains(_ text: [Character], anyOf words: [String]) -> Bool {
        let string = String(text)
        for word in words {
            var searchRange = string.startIndex..<string.endIndex
            while let range = string.range(of: word, range: searchRange) {
                let before = range.lowerBound == string.startIndex ? nil : string[string.index(before: range.lowerBound)]
                if before.map({ !$0.isLetter }) ?? true { return true }
                searchRange = range.upperBound..<string.endIndex
            }
        }
        return false
    }
}
