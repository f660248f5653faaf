import Foundation

/// Checks a total against the other amounts the document prints, and repairs it when
/// they show it was misread.
///
/// A receipt or invoice states its total several ways: net + tax (+ service charge)
/// (± rounding), cash tendered − change, the rounded "Nett total". OCR misreads a digit
/// of one of them now and then (52.00 → 32.00), rarely of two in the same way. So a total
/// that no other line confirms, while another printed total-or-payment amount is what the
/// lines add up to, is replaced by it; and a total of a document that rounds (a "Rounding"
/// line) is brought to the rounded amount. A replaced value keeps its own page and box but
/// a lower score: it was a repair, not a reading.
///
/// Before any repair, a total that disagrees is read again where it is printed (its box,
/// at two to three times the size, as one line, also digits only) when the page was OCR'd
/// and a `PageRereader` is at hand; the second reading is taken only when the arithmetic
/// confirms it, with the total's page and box and a lower score.
struct TotalCheck {
    /// What a line of a receipt's summary says, from the words before its amount.
    enum Role: Equatable { case subtotal, tax, total, rounding, payment, change, count }

    /// One line of the summary: its role, the last amount with decimals on it, where.
    struct Line {
        let role: Role
        let value: Double
        let negative: Bool
        let found: FoundValue
        let run: TextRun
        let order: Int
    }

    let lines: [Line]
    /// Every amount with decimals the document prints, in reading order: where a repaired total is shown.
    let printed: [(value: Double, found: FoundValue, run: TextRun)]
    /// Whether the document prints a rounding line, even one whose amount OCR lost ("Rounding fas ~0.0)").
    let rounds: Bool

    init(document: DocumentLayout) {
        var lines: [Line] = []
        var printed: [(Double, FoundValue, TextRun)] = []
        var rounds = false
        var order = 0
        for page in document.pages {
            for row in page.rows {
                defer { order += 1 }
                // The row's last amount with decimals, and the words before it.
                var last: (FoundValue, TextRun)?
                for run in row {
                    for value in ValueFinder.amounts(in: run.text) where value.quality >= 1 {
                        last = (value, run)
                        if let amount = Double(value.value) { printed.append((abs(amount), value, run)) }
                    }
                }
                if !rounds, Self.role(of: row.flatMap { ValueFinder.tokens($0.folded).map(\.0) }) == .rounding { rounds = true }
                guard let (value, run) = last, let amount = Double(value.value) else { continue }
                var context: [Character] = []
                for other in row where other.index < run.index { context += other.folded + [" "] }
                context += run.folded[..<value.range.lowerBound]
                guard let role = Self.role(of: ValueFinder.tokens(context).map(\.0)) else { continue }
                lines.append(Line(role: role, value: abs(amount), negative: amount < 0, found: value, run: run, order: order))
            }
        }
        self.lines = lines
        self.printed = printed
        self.rounds = rounds
    }

    /// The role of a line from its words; nil for item lines and anything else.
    static func role(of words: [String]) -> Role? {
        // OCR glues a label's words: "TotalGST", "SubTotal".
        let tokens = words.flatMap { word -> [String] in
            guard word.hasPrefix("total"), word.count > 5, word.dropFirst(5).allSatisfy(\.isLetter) else { return [word] }
            return ["total", String(word.dropFirst(5))]
        }
        func has(_ words: Set<String>) -> Bool { tokens.contains { words.contains($0) } }
        func hasPrefix(_ prefixes: [String]) -> Bool { tokens.contains { token in prefixes.contains { token.hasPrefix($0) } } }
        if has(["qty", "quantity", "items", "item", "pcs", "units", "menge", "anzahl", "quantite"]) { return .count }
        // "Total Savings -3.29", "Total Discount", "Total Points": not amounts paid.
        if has(["saving", "savings", "saved", "discount", "disc", "points", "point", "rabatt", "remise"]) { return nil }
        if has(["change", "baki", "kembali", "rendu", "wechselgeld", "ruckgeld", "cambio"]) { return .change }
        if has(["rounding", "round", "rounded", "penggenapan", "rundung", "arrondi"]) { return .rounding }
        if has(["cash", "tunai", "payment", "paid", "tendered", "tender", "visa", "mastercard", "master", "credit", "card",
                "debit", "bar", "gegeben", "especes", "efectivo"]) { return .payment }
        if has(["sub", "subtotal", "excl", "excluding", "exclusive", "before", "netto", "nettobetrag", "ht", "zwischensumme"])
            || hasPrefix(["subtot", "exclu"]) { return .subtotal }
        let included = has(["incl", "inkl", "inclusive", "included", "including", "inc", "ttc", "termasuk"])
        let isTax = has(["gst", "tax", "vat", "mwst", "ust", "tva", "sst", "iva", "btw", "service", "serv", "svc", "cukai"])
            || hasPrefix(["steuer", "mehrwertsteuer", "umsatzsteuer"])
        if isTax, !included, !has(["id", "reg", "no", "summary", "code", "invoice", "rate"]) { return .tax }
        if has(["total", "amount", "jumlah", "due", "payable", "grand", "nett", "brutto", "gesamt", "betrag", "montant",
                "totaal", "totale", "summe", "importe"]) { return .total }
        return nil
    }

    /// What the lines state the payable is: net + taxes (with and without the rounding),
    /// and cash − change; each with where it comes from.
    var impliedTotals: [(value: Double, fromSum: Bool)] {
        var implied: [(Double, Bool)] = []
        if let net = lines.first(where: { $0.role == .subtotal }) {
            let end = lines.first { $0.order > net.order && ($0.role == .payment || $0.role == .total || $0.role == .change) }?.order ?? Int.max
            let taxes = lines.filter { $0.role == .tax && $0.order > net.order && $0.order < end && $0.value < net.value }
            if !taxes.isEmpty {
                let sum = net.value + taxes.map(\.value).reduce(0, +)
                implied.append((sum, true))
                for rounding in lines where rounding.role == .rounding && rounding.value < 1 && rounding.value > 0 {
                    implied.append((sum + rounding.value, true))
                    implied.append((sum - rounding.value, true))
                }
            }
        }
        if let payment = lines.first(where: { $0.role == .payment }),
           let change = lines.first(where: { $0.role == .change && $0.order > payment.order }), change.value < payment.value {
            implied.append((payment.value - change.value, false))
        }
        return implied
    }

    /// Whether an amount was written with cents ("12.50", "1.234,56"), not as a bare integer.
    static func hasCents(_ raw: String) -> Bool {
        // OCR spaces a number's decimals off ("49. 40").
        let characters = Array(raw.filter { $0 != " " })
        guard characters.count >= 3 else { return false }
        let tail = characters.suffix(3)
        return ".,".contains(tail.first!) && tail.dropFirst().allSatisfy(\.isNumber)
    }

    /// `best` confirmed, or what the other lines show it should be.
    func checked(_ best: Candidate, rereader: PageRereader? = nil) -> Candidate {
        let implied = impliedTotals
        // A bare integer ("22", "1") where the total lines print cents is a count or a
        // misread: the last total line, or cash − change, is the total.
        if !Self.hasCents(best.raw) {
            if let line = lines.last(where: { $0.role == .total && $0.value >= 1 }) {
                return rounded(Candidate(value: String(format: "%.2f", line.value), raw: line.found.raw, run: line.run,
                                         range: line.found.range, score: min(best.score, 0.5),
                                         currency: line.found.currency ?? best.currency, magnitude: line.value))
            }
            if let value = implied.first(where: { !$0.fromSum })?.value, value >= 1,
               let shown = printed.last(where: { Self.same($0.value, value) }) ?? printed.first {
                let located = Self.same(shown.value, value)
                return Candidate(value: String(format: "%.2f", value), raw: located ? shown.found.raw : best.raw,
                                 run: located ? shown.run : best.run, range: located ? shown.found.range : best.range,
                                 score: min(best.score, 0.4), currency: best.currency, magnitude: value)
            }
        }
        let total = best.magnitude
        // Confirmed by a sum, or printed on two total lines ("Total Amount 8.60" … "Nett Total 8.60"): kept.
        if implied.contains(where: { Self.same($0.value, total) })
            || lines.filter({ $0.role == .total && Self.same($0.value, total) }).count >= 2 { return rounded(best) }
        if let rereader, let reread = Self.reread(best, implied: implied, rereader: rereader) { return rounded(reread) }
        return rounded(crossChecked(best, implied: implied))
    }

    /// `best` read again where it is printed, when the second reading is an amount the
    /// lines imply (net + tax, cash − change); nil when it is not, or cannot be read again.
    static func reread(_ best: Candidate, implied: [(value: Double, fromSum: Bool)], rereader: PageRereader) -> Candidate? {
        guard !implied.isEmpty, best.run.page > 0, let box = best.run.wordBox(of: best.range) else { return nil }
        for digitsOnly in [false, true] {
            guard let reading = rereader.reread(page: best.run.page, box: box, digitsOnly: digitsOnly) else { continue }
            for value in ValueFinder.amounts(in: Array(reading)).reversed() where value.quality >= 1 {
                guard let amount = Double(value.value).map(abs), amount > 0, !same(amount, best.magnitude),
                      implied.contains(where: { same($0.value, amount) }) else { continue }
                return Candidate(value: String(format: "%.2f", amount), raw: value.raw, run: best.run, range: best.range,
                                 score: min(best.score, 0.7), currency: value.currency ?? best.currency, magnitude: amount)
            }
        }
        return nil
    }

    static func same(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 0.005 }

    /// Whether OCR could have read one amount as the other: the same digits but one
    /// ("52.00" and "32.00", "10.40" and "40.40").
    static func confusable(_ a: Double, _ b: Double) -> Bool {
        let x = Array(String(format: "%.2f", a)), y = Array(String(format: "%.2f", b))
        guard x.count == y.count else { return false }
        return zip(x, y).filter { $0 != $1 }.count == 1
    }

    /// A printed total or payment that the sums confirm, where the total is not confirmed:
    /// by two independent sums, or by net + tax when the total's digits could be a misreading of it.
    func crossChecked(_ best: Candidate, implied: [(value: Double, fromSum: Bool)]) -> Candidate {
        guard !implied.isEmpty else { return best }
        let total = best.magnitude
        func support(_ value: Double) -> Int { implied.filter { Self.same($0.value, value) }.count }
        // A total found by a weak label ("Total", or one with a disqualifying word) gives way
        // to another printed total line that a sum confirms.
        let weak = best.score < 0.9
        func agreed(_ line: Line) -> Bool {
            let sources = Set(implied.filter { Self.same($0.value, line.value) }.map(\.fromSum))
            return sources.count >= 2 || sources.contains(true) && Self.confusable(total, line.value)
                || weak && line.role == .total && !sources.isEmpty
        }
        let printed = lines.filter { ($0.role == .total || $0.role == .payment) && !Self.same($0.value, total) && agreed($0) }
        if let pick = printed.max(by: { (support($0.value), $0.role == .total ? 1 : 0, -$0.order) < (support($1.value), $1.role == .total ? 1 : 0, -$1.order) }) {
            return Candidate(value: String(format: "%.2f", pick.value), raw: pick.found.raw, run: pick.run, range: pick.found.range,
                             score: min(best.score, 0.6), currency: pick.found.currency ?? best.currency, magnitude: pick.value)
        }
        // Two independent sums agree on an amount the total's digits could be a misreading of,
        // or that a total found by a weak label is not: shown where the page prints it, if it does.
        if let value = implied.map(\.value).first(where: { value in
            Set(implied.filter { Self.same($0.value, value) }.map(\.fromSum)).count >= 2 && (weak || Self.confusable(total, value))
        }) {
            if let shown = printed.last(where: { Self.same($0.value, value) }) {
                return Candidate(value: String(format: "%.2f", value), raw: shown.found.raw, run: shown.run, range: shown.found.range,
                                 score: min(best.score, 0.4), currency: shown.found.currency ?? best.currency, magnitude: value)
            }
            return Candidate(value: String(format: "%.2f", value), raw: best.raw, run: best.run, range: best.range,
                             score: min(best.score, 0.4), currency: best.currency, magnitude: value)
        }
        return best
    }

    /// A document with a rounding line pays its total rounded to 5 cents: the printed
    /// rounded amount when there is one, else the total rounded (a guess, so low score).
    func rounded(_ best: Candidate) -> Candidate {
        let cents = Int((best.magnitude * 100).rounded())
        // A rounding line that reads 0.00 says this total was not rounded.
        let roundings = lines.filter { $0.role == .rounding && $0.value < 1 }
        guard cents % 5 != 0, rounds, roundings.isEmpty || roundings.contains(where: { $0.value > 0 }) else { return best }
        let target = Double((Double(cents) / 5).rounded()) * 5 / 100
        if let printed = lines.first(where: { ($0.role == .total || $0.role == .payment || $0.role == .rounding)
            && $0.value >= 1 && Self.same($0.value, target) }) {
            return Candidate(value: String(format: "%.2f", target), raw: printed.found.raw, run: printed.run, range: printed.found.range,
                             score: min(best.score, 0.7), currency: printed.found.currency ?? best.currency, magnitude: target)
        }
        return Candidate(value: String(format: "%.2f", target), raw: best.raw, run: best.run, range: best.range,
                         score: min(best.score, 0.45), currency: best.currency, magnitude: target)
    }
}
