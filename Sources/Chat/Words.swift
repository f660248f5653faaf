import Foundation

/// The English a question is read with: folding, words, stems, and how a question's word
/// matches a column header's. General vocabulary only — nothing here knows a table.
enum Words {
    /// Lower case without diacritics ("Ålesund" → "alesund").
    static func fold(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in text.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars
        where scalar.properties.generalCategory != .nonspacingMark {
            scalars.append(scalar)
        }
        return String(scalars)
    }

    static func isWordCharacter(_ character: Character) -> Bool {
        character != "_" && (character.isLetter || character.isNumber)
    }

    /// The words of `text`, folded: runs of letters and digits.
    static func tokens(_ text: String) -> [String] {
        fold(text).split(whereSeparator: { !isWordCharacter($0) }).map(String.init)
    }

    /// The words joined by single spaces: how values and phrases are compared.
    static func normal(_ text: String) -> String { tokens(text).joined(separator: " ") }

    /// Plural and third-person endings off: "points" → "point", "series" → "series".
    static func stem(_ word: String) -> String {
        if word.count > 1, word.hasSuffix("s"), word.dropLast().allSatisfy(\.isNumber) { return String(word.dropLast()) }
        if word.count > 4, word.hasSuffix("ies") { return String(word.dropLast(3)) + "y" }
        if word.count > 3, word.hasSuffix("es"), let third = word.dropLast(2).last, "sxz".contains(third) {
            return String(word.dropLast(2))
        }
        if word.count > 3, word.hasSuffix("s"), !word.hasSuffix("ss") { return String(word.dropLast()) }
        return word
    }

    /// How well a question's (stemmed) word names a header's (stemmed) word: 1 for the same
    /// word, less for a shared long prefix, a one-letter typo or a synonym, 0 otherwise.
    static func match(_ question: String, _ header: String) -> Double {
        if question == header { return 1 }
        if question.first?.isNumber == true || header.first?.isNumber == true { return 0 }
        if question.count >= 5, header.count >= 5, question.prefix(5) == header.prefix(5) { return 0.8 }
        if oneEditApart(question, header) { return 0.8 }
        let (short, long) = question.count <= header.count ? (question, header) : (header, question)
        if short.count >= 4, long.hasPrefix(short), long.count - short.count <= 3 { return 0.7 }
        if let alternatives = synonyms[question], alternatives.contains(where: { $0 == header || stem($0) == header }) { return 0.7 }
        return 0
    }

    /// One insertion, deletion or substitution apart, for words of four letters or more (typos).
    static func oneEditApart(_ a: String, _ b: String) -> Bool {
        let x = Array(a), y = Array(b)
        guard abs(x.count - y.count) <= 1, min(x.count, y.count) >= 4, max(x.count, y.count) >= 5 else { return false }
        if x.count == y.count { return zip(x, y).filter { $0 != $1 }.count <= 1 }
        let (short, long) = x.count < y.count ? (x, y) : (y, x)
        var index = 0
        while index < short.count, short[index] == long[index] { index += 1 }
        return short[index...] == long[(index + 1)...]
    }

    static let stop: Set<String> = Set("""
        a an the of in on at for to by with and or is are was were be been being what whats which who whom whose \
        when where how many much did do does has have had that this these those there their its it as from name tell \
        me list give show find all any each per if then will would can could should shall i we you they he she his her \
        our your also only just s t get got
        """.split(separator: " ").map(String.init))
    static let questionWords: Set<String> = ["what", "whats", "which", "who", "whom", "whose", "when", "where", "how", "name",
                                             "tell", "list", "give", "show", "find"]
    /// Words that end a clause: a label never reaches over them.
    static let breaks: Set<String> = ["and", "or", "when", "where", "while", "if", "but", "whose", "which", "who", "that", "what"]

    static let greaterPhrases = ["more than", "greater than", "larger than", "bigger than", "higher than", "later than",
                                 "longer than", "over", "above", "exceeding", "after", "beyond", "greater then",
                                 "larger then", "more then", "since"]
    static let lessPhrases = ["less than", "fewer than", "smaller than", "lower than", "earlier than", "shorter than",
                              "under", "below", "before", "prior to", "less then", "smaller then", "fewer then",
                              "lower then", "until"]
    static let atLeastPhrases = ["at least", "no less than", "not less than", "no fewer than", "minimum of", "a minimum of"]
    static let atMostPhrases = ["at most", "no more than", "not more than", "up to", "maximum of", "a maximum of"]
    static let negations = ["not", "other than", "except", "except for", "excluding", "without", "isn t", "aren t",
                            "wasn t", "weren t", "doesn t", "don t", "didn t"]
    /// Every phrase that puts a bound before a value, longest first.
    static let comparisons: [(phrase: String, op: Interpretation.Operator)] =
        (greaterPhrases.map { ($0, Interpretation.Operator.greater) } + lessPhrases.map { ($0, .less) }
            + atLeastPhrases.map { ($0, .greaterOrEqual) } + atMostPhrases.map { ($0, .lessOrEqual) }
            + negations.map { ($0, .notEqual) })
        .sorted { $0.0.count > $1.0.count }
    static let comparisonWords: Set<String> = Set((greaterPhrases + lessPhrases + atLeastPhrases + atMostPhrases)
        .flatMap { $0.split(separator: " ").map(String.init) })
        .union(["than", "then", "greater", "larger", "more", "less", "fewer", "smaller", "lower", "higher", "bigger", "earlier",
                "later", "exactly", "equal", "equals", "equaling", "between"])

    /// Verbs and nouns a question uses for what a header calls otherwise.
    static let synonyms: [String: [String]] = [
        "wrote": ["written", "writer"], "write": ["written", "writer"], "directed": ["director"], "direct": ["director"],
        "won": ["winner", "winning"], "win": ["winner", "winning"], "born": ["birth"], "played": ["player"],
        "attended": ["attendance", "crowd"], "attend": ["attendance", "crowd"], "aired": ["air", "airdate"],
        "scored": ["score"], "coached": ["coach"], "located": ["location"], "produced": ["producer", "production"],
        "lost": ["loss"], "elected": ["election"], "released": ["release"], "ranked": ["rank"],
        "people": ["attendance", "crowd", "population"], "nation": ["country", "nationality"],
        "country": ["nation", "nationality"], "team": ["club"], "club": ["team"], "spectator": ["crowd", "attendance"],
        "viewer": ["viewers", "viewership", "audience"], "audience": ["viewer", "viewers"],
        "place": ["position", "location", "venue"], "site": ["venue", "location"], "stadium": ["venue", "ground"],
        "ground": ["venue"], "college": ["school"], "school": ["college"], "year": ["season"], "season": ["year"],
        "finished": ["finish", "position"], "percentage": ["percent"], "long": ["length", "duration"], "old": ["age"],
        "tall": ["height"], "heavy": ["weight"], "big": ["size", "area"], "large": ["size", "area"], "far": ["distance"],
        "cost": ["price"], "price": ["cost"], "revenue": ["sales", "amount", "total"], "sale": ["revenue", "amount"],
        "earning": ["revenue", "income"], "customer": ["client"], "client": ["customer"], "spend": ["amount", "cost"],
        "spent": ["amount", "cost"], "paid": ["amount", "payment"], "sold": ["sales", "quantity"], "qty": ["quantity"],
    ]

    /// Words for a person or an organisation: a "who" question asks for such a column.
    static let personHeaderWords: Set<String> = Set("""
        by name player driver rider winner director writer coach candidate incumbent artist author manager captain member \
        leader president representative actor actress singer owner opponent pilot jockey trainer customer client \
        employee person company vendor supplier seller buyer
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
    /// Header words of columns that number or name rows rather than measure them.
    static let identifierHeaderWords: Set<String> = Set("""
        no number num year season episode game week round pick rank position code id series seed heat lane race tie ep overall
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init))
}
