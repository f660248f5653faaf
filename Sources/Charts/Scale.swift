import Foundation

/// A linear scale over "nice" bounds: ticks at 1, 2 or 5 times a power of ten.
struct LinearScale {
    let low: Double
    let high: Double
    let ticks: [Double]

    init(low rawLow: Double, high rawHigh: Double, count: Int = 5) {
        var low = rawLow, high = rawHigh
        if low == high {
            // One value (or all equal): a range around it.
            low = low == 0 ? 0 : (low > 0 ? 0 : low * 2)
            high = high == 0 ? 1 : (high > 0 ? high * 1.2 : 0)
        }
        let step = LinearScale.nice((high - low) / Double(max(1, count - 1)))
        let start = (low / step).rounded(.down) * step
        let end = (high / step).rounded(.up) * step
        var ticks: [Double] = []
        var value = start
        while value <= end + step / 2, ticks.count < 50 {
            ticks.append(abs(value) < step / 1e6 ? 0 : value)
            value += step
        }
        self.low = start
        self.high = end
        self.ticks = ticks
    }

    static func nice(_ raw: Double) -> Double {
        guard raw > 0, raw.isFinite else { return 1 }
        let power = pow(10, (log10(raw)).rounded(.down))
        let fraction = raw / power
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * power
    }

    /// Where `value` falls between `from` (low) and `to` (high) on screen.
    func position(_ value: Double, from: Double, to: Double) -> Double {
        guard high > low else { return from }
        return from + (value - low) / (high - low) * (to - from)
    }
}

/// Numbers, money, shares and dates as readers expect them: thousands separators, two
/// decimals for money, fixed formatting (no locale), so output is deterministic.
public enum ValueFormat {
    static let symbols = ["EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF ", "INR": "₹"]

    static func value(_ number: Double, _ format: ChartData.Format) -> String {
        switch format {
        case .currency(let code):
            let symbol = symbols[code.uppercased()] ?? (code.isEmpty ? "" : code.uppercased() + " ")
            return (number < 0 ? "-" : "") + symbol + grouped(abs(number), decimals: 2)
        case .percent:
            return grouped(number, decimals: number.rounded() == number ? 0 : 1) + "%"
        default:
            return grouped(number, decimals: number.rounded() == number ? 0 : 2)
        }
    }

    /// Axis ticks: compact (12k, 3.4M) when large.
    static func axis(_ number: Double, _ format: ChartData.Format) -> String {
        let magnitude = abs(number)
        let compact: String
        if magnitude >= 1_000_000_000 { compact = trim(number / 1_000_000_000) + "B" }
        else if magnitude >= 1_000_000 { compact = trim(number / 1_000_000) + "M" }
        else if magnitude >= 10_000 { compact = trim(number / 1_000) + "k" }
        else { compact = grouped(number, decimals: number.rounded() == number ? 0 : 2) }
        switch format {
        case .currency(let code): return (symbols[code.uppercased()] ?? "") + compact
        case .percent: return compact + "%"
        default: return compact
        }
    }

    static func share(_ fraction: Double) -> String {
        let percent = fraction * 100
        return (percent >= 10 || percent.rounded() == percent ? String(Int(percent.rounded())) : trim(percent)) + "%"
    }

    /// Category labels: ISO dates shortened to what their bucket shows.
    static func label(_ text: String, _ format: ChartData.Format) -> String {
        guard format == .date, text.count >= 10 else { return text }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let parts = text.prefix(10).split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]) else { return text }
        return parts[2] == 1 ? "\(months[parts[1] - 1]) \(parts[0])" : "\(parts[2]) \(months[parts[1] - 1]) \(parts[0])"
    }

    static func trim(_ number: Double) -> String {
        var text = String(format: "%.1f", number)
        if text.hasSuffix(".0") { text.removeLast(2) }
        return text
    }

    /// A number for a sentence: thousands grouped, at most four decimals, no trailing zeros.
    public static func sentence(_ number: Double) -> String {
        guard number.isFinite else { return String(number) }
        var text = grouped(number, decimals: 4)
        guard text.contains(".") else { return text }
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    static func grouped(_ number: Double, decimals: Int) -> String {
        let text = String(format: "%.\(decimals)f", abs(number))
        let parts = text.split(separator: ".", maxSplits: 1)
        var integer = String(parts[0])
        var out = ""
        while integer.count > 3 {
            out = "," + integer.suffix(3) + out
            integer.removeLast(3)
        }
        out = integer + out
        if parts.count > 1 { out += "." + parts[1] }
        return (number < 0 && out.contains(where: { $0 != "0" && $0 != "." && $0 != "," }) ? "-" : "") + out
    }
}
