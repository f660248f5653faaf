import Foundation

/// The default extractor: no network, labels and their synonyms, layout and type-aware
/// parsing.
///
/// For every field it looks for the field's labels (its name, its synonyms, and built-in
/// labels in several languages when the field's id or name is a known meaning such as
/// "amount" or "due_date"), then for a value of the field's type right of the label, in
/// the columns to its right, or below it. Candidates are scored by label strength,
/// position, how typical the value is, and words that disqualify it ("Subtotal", "Due
/// date"); the best one wins. Issuer, currency and an invoice's date and total have
/// fallbacks for pages without labels.
public struct RuleBasedExtractor: FieldExtracting {
    /// Reads a region of an OCR'd page again: a total the document's arithmetic disagrees
    /// with is re-read where it is printed (`TotalCheck`). nil: only the arithmetic repairs.
    let rereader: PageRereader?

    public init(rereader: PageRereader? = nil) {
        self.rereader = rereader
    }

    public func extract(pages: [PageModel], fields: [FieldSpec]) throws -> [ExtractedField] {
        let document = DocumentLayout(pages: pages, rereader: rereader)
        return fields.map { spec in
            guard let candidate = FieldSearch(spec: spec, document: document).best() else { return .missing(spec) }
            return candidate.field(for: spec)
        }
    }
}

/// A document as page layouts, plus what several fields share (the currency).
struct DocumentLayout {
    let pages: [FieldLayout]
    let currency: Candidate?
    /// What several fields' searches share, found by the first that needs it.
    let cache = SearchCache()

    final class SearchCache {
        var unlabelledIssuers: [IssuerFinder.Scored]?
    }

    /// Whether the document writes numeric dates month first (`03/05/2024` is March 5).
    let monthFirst: Bool
    let rereader: PageRereader?

    init(pages: [PageModel], rereader: PageRereader? = nil) {
        let layouts = pages.map(FieldLayout.init)
        self.pages = layouts
        self.rereader = rereader
        currency = CurrencyDetector.detect(in: layouts)
        monthFirst = DateOrder.monthFirst(in: layouts, currency: currency?.value)
    }

    var runs: [TextRun] { pages.flatMap(\.runs) }
}

/// A value found for a field, where it is, and how sure the extractor is.
struct Candidate {
    let value: String
    let raw: String
    let run: TextRun
    let range: Range<Int>
    var score: Double
    var currency: String? = nil
    /// Sorts equal scores: amounts prefer the larger, others the earlier.
    var magnitude: Double = 0

    func field(for spec: FieldSpec) -> ExtractedField {
        let confidence = max(0.01, min(1, score)) * (0.5 + 0.5 * min(1, run.confidence))
        return ExtractedField(fieldID: spec.id, name: spec.name, type: spec.type, value: value, raw: raw,
                              currency: currency, confidence: (confidence * 100).rounded() / 100, page: run.page,
                              box: run.box(of: range))
    }
}

/// The search for one field in one document.
struct FieldSearch {
    let spec: FieldSpec
    let document: DocumentLayout
    let concept: FieldConcept?

    init(spec: FieldSpec, document: DocumentLayout) {
        self.spec = spec
        self.document = document
        concept = FieldConcept.of(spec)
    }

    var labels: [Label] {
        var labels = ([spec.name, spec.id.replacingOccurrences(of: "_", with: " ")] + spec.synonyms).map { Label($0, 1) }
        let builtIns = concept?.labels ?? []
        labels += builtIns
        // Generic names ("Amount", "Date") stay labels but weaker than specific built-ins.
        if let concept, concept == .total || concept == .invoiceDate || concept == .invoiceNumber {
            labels = labels.map { label in
                let builtIn = builtIns.first { $0.tokens == label.tokens }
                return builtIn ?? label
            }
        }
        return labels.filter { !$0.isEmpty }
    }

    func best() -> Candidate? {
        if spec.type == .text, concept == .issuer { return IssuerFinder(document: document, labels: labels).best()?.candidate }
        if spec.type == .text, concept == .address { return IssuerFinder(document: document, labels: []).address() }
        if spec.type == .currencyCode { return labelled().first ?? document.currency }
        var candidates = labelled()
        if concept == .total { candidates = ranked(Self.afterRounding(candidates, in: document)) }
        if candidates.isEmpty { candidates = fallback() }
        guard var best = candidates.first else { return nil }
        if concept == .total, spec.type == .currency || spec.type == .number { best = TotalCheck(document: document).checked(best, rereader: document.rereader) }
        if spec.type == .currency, best.currency == nil { best.currency = document.currency?.value }
        return best
    }

    /// Candidates next to labels, best first.
    func labelled() -> [Candidate] {
        var candidates: [Candidate] = []
        let labels = labels
        for page in document.pages {
            for run in page.runs {
                // By index: most labels are ruled out by their characters, without copying them.
                for index in labels.indices where run.asciiMask.contains(labels[index].required) {
                    let label = labels[index]
                    for range in LabelMatcher.find(label, in: run, fuzzy: true) {
                        candidates += values(after: range, label: label, in: run, page: page)
                    }
                }
            }
        }
        return ranked(candidates)
    }

    static let roundingLabels = ["rounding", "rounding adj", "round adj", "rounding adjustment", "penggenapan", "rundung"].map { Label($0) }

    /// A receipt rounds its total to 5 cents ("Total 7.72 / Rounding -0.02 / Nett Total
    /// 7.70"): of two totals that differ by the rounding, the one below is the payable.
    static func afterRounding(_ candidates: [Candidate], in document: DocumentLayout) -> [Candidate] {
        var roundings: [Double] = []
        for page in document.pages {
            for run in page.runs {
                for label in roundingLabels {
                    for range in LabelMatcher.find(label, in: run, fuzzy: true) {
                        if let value = ValueFinder.amounts(in: run.text, from: range.upperBound).first,
                           let amount = Double(value.value), amount != 0, abs(amount) < 1 { roundings.append(abs(amount)) }
                    }
                }
            }
        }
        guard !roundings.isEmpty else { return candidates }
        var result = candidates
        for (i, x) in candidates.enumerated() {
            for y in candidates where (y.run.page, y.run.row) < (x.run.page, x.run.row) {
                // The rounded total is a multiple of 5 cents, the other is not.
                func round(_ amount: Double) -> Bool { Int((amount * 100).rounded()) % 5 == 0 }
                guard round(x.magnitude), !round(y.magnitude),
                      roundings.contains(where: { abs(abs(x.magnitude - y.magnitude) - $0) < 0.005 }) else { continue }
                result[i].score = max(result[i].score, max(x.score, y.score) + 0.15)
            }
        }
        return result
    }

    func ranked(_ candidates: [Candidate]) -> [Candidate] {
        let preferLarger = spec.type == .currency || concept == .total
        let sorted = candidates.sorted { a, b in
            if abs(a.score - b.score) > 0.1 { return a.score > b.score }
            if preferLarger, a.magnitude != b.magnitude { return a.magnitude > b.magnitude }
            if a.score != b.score { return a.score > b.score }
            return (a.run.page, a.run.row, a.range.lowerBound) < (b.run.page, b.run.row, b.range.lowerBound)
        }
        return sorted
    }

    /// Values for a label: in the rest of its run, in the next runs of its row, or below it.
    func values(after range: Range<Int>, label: Label, in run: TextRun, page: FieldLayout) -> [Candidate] {
        var found: [Candidate] = []
        let remainder = Array(run.text[range.upperBound...])
        if let value = firstValue(in: run, from: range.upperBound) {
            let gap = value.range.lowerBound - range.upperBound
            found.append(candidate(value, in: run, weight: label.weight * (gap > 25 ? 0.8 : 1), context: Array(run.folded[..<value.range.lowerBound])))
        }
        // OCR split a date over two runs ("Date : 26-06~  2018").
        if found.isEmpty, spec.type == .date, let next = page.rows[run.row].first(where: { $0.index == run.index + 1 }) {
            let joined = TextRun(page: run.page, row: run.row, index: run.index, words: run.words + next.words)
            if let value = firstValue(in: joined, from: range.upperBound), value.range.lowerBound < run.text.count,
               value.range.upperBound > run.text.count {
                found.append(candidate(value, in: joined, weight: label.weight * 0.9, context: Array(joined.folded[..<value.range.lowerBound])))
            }
        }
        guard found.isEmpty, label.weight >= 0.4 else { return found }
        let labelContext = Array(run.folded)
        // Runs to the right on the same row.
        let row = page.rows[run.row]
        var rowValues: [(value: FoundValue, run: TextRun, step: Int)] = []
        for (step, next) in row.filter({ $0.index > run.index }).prefix(2).enumerated() {
            if let value = firstValue(in: next, from: 0), value.range.lowerBound <= 6 { rowValues.append((value, next, step)) }
        }
        // A count before the amount, in its own column ("Total Sales  2 RM  4.70"): the amount.
        if var pick = rowValues.first {
            if spec.type == .currency, pick.value.quality < 1, let amount = rowValues.first(where: { $0.value.quality >= 1 }) { pick = amount }
            found.append(candidate(pick.value, in: pick.run, weight: label.weight * (pick.step == 0 ? 0.95 : 0.85),
                                   context: labelContext + [" "] + Array(pick.run.folded[..<pick.value.range.lowerBound])))
        }
        let remainderIsLabel = remainder.filter(\.isNumber).isEmpty && remainder.filter(\.isLetter).count <= 4
        guard found.isEmpty, remainderIsLabel else { return found }
        // Runs below, in the label's column.
        let labelBox = run.box(of: range)
        let h = max(run.height, 1)
        for (below, distance) in page.runs(below: run, from: labelBox.x0 - 2 * h, to: max(labelBox.x1, labelBox.x0 + 4 * h) + h) {
            let start = below.offset(atX: labelBox.x0 - 2 * h)
            guard let value = firstValue(in: below, from: start), value.range.lowerBound - start <= 6 else { continue }
            found.append(candidate(value, in: below, weight: label.weight * (0.9 - 0.1 * Double(distance - 1)),
                                   context: labelContext))
            break
        }
        return found
    }

    func candidate(_ value: FoundValue, in run: TextRun, weight: Double, context: [Character]) -> Candidate {
        var score = weight * value.quality * disqualification(context)
        var magnitude = 0.0
        if spec.type == .currency || concept == .total {
            magnitude = abs(Double(value.value) ?? 0)
            if magnitude == 0 { score *= 0.5 }
        }
        return Candidate(value: value.value, raw: value.raw, run: run, range: value.range, score: score,
                         currency: value.currency, magnitude: magnitude)
    }

    /// 1, or less when words before the value show it is something else.
    func disqualification(_ context: [Character]) -> Double {
        guard let concept, !concept.disqualifiers.isEmpty else { return 1 }
        let tokens = ValueFinder.tokens(context).map(\.0)
        let inclusive = tokens.contains { ["incl", "inkl", "inclusive", "including", "ttc", "brutto", "termasuk", "inclusief", "incluido", "inc"].contains($0) }
        let taxWords: Set<String> = ["tax", "vat", "gst", "mwst", "ust", "tva", "btw", "iva", "steuer", "cukai", "sst"]
        var disqualifiers = concept.disqualifiers
        if concept == .total, !inclusive { disqualifiers += taxWords }
        for token in tokens {
            for word in disqualifiers where word.count <= 2 ? token == word : token.hasPrefix(word) {
                if concept == .total, word == "sub", token == "subscription" { continue }
                return 0.25
            }
        }
        return 1
    }

    /// The first value of the field's type in `run` from `start`.
    func firstValue(in run: TextRun, from start: Int) -> FoundValue? {
        let text = run.text
        guard start < text.count else { return nil }
        switch spec.type {
        case .date: return ValueFinder.dates(in: text, from: start, monthFirst: document.monthFirst).first
        case .currency:
            // A count before the amount ("Total Sales 2 RM 4.70"): the amount with decimals.
            let amounts = ValueFinder.amounts(in: text, from: start)
            let first = amounts.first.map { $0.quality < 1 ? amounts.first { $0.quality >= 1 } ?? $0 : $0 }
            return first.map { value in
                var value = value
                if value.currency != nil { value.quality = min(1, value.quality + 0.1) }
                return value
            }
        case .number: return ValueFinder.amounts(in: text, from: start).first
        case .integer:
            return ValueFinder.amounts(in: text, from: start).first.flatMap { value in
                guard let number = Double(value.value), number == number.rounded(), abs(number) < 1e15 else { return nil }
                return FoundValue(range: value.range, value: String(Int64(number)), raw: value.raw)
            }
        case .percentage:
            if let percent = ValueFinder.percentages(in: text, from: start).first { return percent }
            return ValueFinder.amounts(in: text, from: start).first.map { value in
                var value = value
                value.quality *= 0.6
                return value
            }
        case .email: return ValueFinder.emails(in: text, from: start).first
        case .url: return ValueFinder.urls(in: text, from: start).first
        case .phone: return ValueFinder.phones(in: text, from: start).first
        case .boolean: return ValueFinder.booleans(in: text, from: start).first
        case .currencyCode: return CurrencyDetector.code(in: run, from: start)
        case .text:
            if isIdentifier { return ValueFinder.identifier(in: text, from: start) }
            return phrase(in: text, from: start)
        }
    }

    /// Whether a text field holds one token (an invoice number, an id) rather than a phrase.
    var isIdentifier: Bool {
        if let concept { return concept.isIdentifier }
        let words = ValueFinder.tokens(Array(TextRun.fold(spec.name + " " + spec.id.replacingOccurrences(of: "_", with: " ")))).map(\.0)
        return words.contains { ["number", "no", "nr", "id", "code", "ref", "reference", "iban", "bic", "nummer", "numero", "num"].contains($0) }
    }

    /// The rest of a run as a phrase, without leading separators.
    func phrase(in text: [Character], from start: Int) -> FoundValue? {
        var p = start
        while p < text.count, " :.-#|=\u{00A0}".contains(text[p]) { p += 1 }
        var end = text.count
        while end > p, " ,;:".contains(text[end - 1]) { end -= 1 }
        guard end > p, text[p..<end].contains(where: { $0.isLetter || $0.isNumber }) else { return nil }
        let raw = String(text[p..<end])
        return FoundValue(range: p..<end, value: raw, raw: raw, quality: 0.9)
    }

    /// Without a label: the typical place of an invoice's total and date, contacts anywhere.
    func fallback() -> [Candidate] {
        var candidates: [Candidate] = []
        let runs = document.runs
        switch (spec.type, concept) {
        case (.currency, .total?):
            for run in runs {
                for value in ValueFinder.amounts(in: run.text) where value.currency != nil && value.quality >= 1 {
                    candidates.append(Candidate(value: value.value, raw: value.raw, run: run, range: value.range, score: 0.3,
                                                currency: value.currency, magnitude: abs(Double(value.value) ?? 0)))
                }
            }
        case (.date, .invoiceDate?):
            for run in runs {
                for value in ValueFinder.dates(in: run.text, monthFirst: document.monthFirst)
                where disqualification(Array(run.folded[..<value.range.lowerBound])) == 1 {
                    candidates.append(Candidate(value: value.value, raw: value.raw, run: run, range: value.range,
                                                score: 0.4 * min(1, value.quality)))
                }
            }
        case (.email, _), (.url, _), (.phone, _):
            for run in runs {
                if let value = firstValue(in: run, from: 0) {
                    candidates.append(Candidate(value: value.value, raw: value.raw, run: run, range: value.range, score: 0.4))
                }
            }
        default:
            break
        }
        return ranked(candidates)
    }
}
