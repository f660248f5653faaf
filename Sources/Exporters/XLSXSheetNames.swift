/// Sheet names that Excel accepts, handed out once each: at most 31 characters, none of
/// `[]:*?/\`, no apostrophe at either end, never empty, and unique without regard to case
/// (Excel treats "Sales" and "SALES" as the same sheet). A title's sheets are numbered
/// "Title", "Title (2)", "Title (3)"…, continuing where an earlier table of the same title
/// stopped, so a second table called "Sales" simply gets the next free numbers.
struct XLSXSheetNames {
    static let maxLength = 31
    private static let forbidden: Set<Character> = ["[", "]", ":", "*", "?", "/", "\\"]

    /// Lowercased names in use. "History" is reserved by Excel for its change history.
    private var used: Set<String> = ["history"]
    /// The number to try next for each lowercased base name.
    private var nextNumber: [String: Int] = [:]

    /// The next free sheet name for `title`.
    mutating func next(for title: String) -> String {
        let base = Self.base(title)
        let key = base.lowercased()
        var number = nextNumber[key, default: 1]
        while true {
            let name = Self.fit(base, suffix: number == 1 ? "" : " (\(number))")
            number += 1
            if used.insert(name.lowercased()).inserted {
                nextNumber[key] = number
                return name
            }
        }
    }

    /// The title with forbidden and control characters turned into single spaces and the
    /// ends trimmed of spaces and apostrophes; "Sheet" if nothing is left.
    static func base(_ title: String) -> String {
        var result = ""
        for character in title {
            let blank = forbidden.contains(character) || character.isWhitespace
                || character.unicodeScalars.contains { $0.properties.generalCategory == .control }
            if blank {
                if !result.isEmpty, result.last != " " { result.append(" ") }
            } else {
                result.append(character)
            }
        }
        let trimmed = trimEnds(Substring(result))
        return trimmed.isEmpty ? "Sheet" : String(trimmed)
    }

    /// `base` shortened (by whole characters, counted in UTF-16 units as Excel counts them)
    /// so that it and `suffix` fit in 31 characters.
    static func fit(_ base: String, suffix: String) -> String {
        let room = maxLength - suffix.utf16.count
        var length = 0
        var end = base.startIndex
        for index in base.indices {
            length += base[index].utf16.count
            if length > room { break }
            end = base.index(after: index)
        }
        let kept = end == base.endIndex ? Substring(base) : trimEnds(base[..<end])
        return String(kept.isEmpty ? "Sheet" : kept) + suffix
    }

    private static func trimEnds(_ text: Substring) -> Substring {
        let isTrimmed: (Character) -> Bool = { $0 == " " || $0 == "'" }
        guard let first = text.firstIndex(where: { !isTrimmed($0) }),
              let last = text.lastIndex(where: { !isTrimmed($0) }) else { return "" }
        return text[first...last]
    }
}
