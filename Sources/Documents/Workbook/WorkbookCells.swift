import Foundation

/// A cell's place on a sheet from its A1 reference (`B3`: column 1, row 3; columns from 0,
/// rows from 1, as the sheet numbers them), within Excel's grid (XFD1048576).
public struct CellReference: Equatable, Sendable {
    public static let maxColumns = 16_384
    public static let maxRows = 1_048_576

    public let column: Int
    public let row: Int

    public init(column: Int, row: Int) {
        self.column = column
        self.row = row
    }

    /// Parses `B3` (or `$B$3`); nil for anything else or a place off the grid.
    public init?(_ text: String) {
        var column = 0, row = 0, letters = 0, digits = 0
        for byte in text.utf8 where byte != UInt8(ascii: "$") {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z") where digits == 0:
                column = column * 26 + Int(byte - UInt8(ascii: "A")) + 1
                letters += 1
            case UInt8(ascii: "a")...UInt8(ascii: "z") where digits == 0:
                column = column * 26 + Int(byte - UInt8(ascii: "a")) + 1
                letters += 1
            case UInt8(ascii: "0")...UInt8(ascii: "9") where letters > 0:
                row = row * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
            default:
                return nil
            }
            if letters > 3 || digits > 7 { return nil }
        }
        guard letters > 0, digits > 0, (1...CellReference.maxColumns).contains(column), (1...CellReference.maxRows).contains(row)
        else { return nil }
        self.column = column - 1
        self.row = row
    }
}

/// What a number format shows a cell's number as: a plain number, or a date or time (Excel
/// keeps dates as numbers and only their format says so).
public enum NumberFormatKind: Sendable, Equatable {
    case number, date, time, dateTime, duration

    /// The built-in formats that show dates and times (ECMA-376 §18.8.30): 14–17 dates,
    /// 18–21 times, 22 date and time, 45 `mm:ss`, 46 `[h]:mm:ss`, 47 `mmss.0`.
    public static func builtIn(_ id: Int) -> NumberFormatKind {
        switch id {
        case 14...17: .date
        case 18...21, 45, 47: .time
        case 22: .dateTime
        case 46: .duration
        default: .number
        }
    }

    /// The kind of a custom format code such as `yyyy-mm-dd`, `d mmm yy h:mm` or `[h]:mm`:
    /// d, y (and m alone) show a date, h and s a time, `[h]`/`[m]`/`[s]` an elapsed time.
    /// Only the first section counts, and quoted text (`"days"`), escaped (`\d`) and
    /// padding characters (`_)`, `*-`) and other brackets (`[Red]`, `[$-409]`, `[<100]`)
    /// are not format letters.
    public static func of(code: String) -> NumberFormatKind {
        var date = false, time = false, month = false, elapsed = false
        var characters = code.makeIterator()
        scan: while let character = characters.next() {
            switch character {
            case ";":
                break scan
            case "\"":
                while let quoted = characters.next(), quoted != "\"" {}
            case "\\", "_", "*":
                _ = characters.next()
            case "[":
                var inside = ""
                while let bracketed = characters.next(), bracketed != "]" { inside.append(bracketed) }
                let letters = Set(inside.lowercased())
                if letters.count == 1, let letter = letters.first, "hms".contains(letter) {
                    elapsed = true
                    time = true
                }
            default:
                switch character.lowercased() {
                case "d", "y": date = true
                case "h", "s": time = true
                case "m": month = true
                default: break
                }
            }
        }
        if date && time { return .dateTime }
        if time { return elapsed ? .duration : .time }
        if date || month { return .date }
        return .number
    }
}

/// Cell values as Assay stores them: Excel date serials as ISO 8601 text, numbers as the
/// plain decimals Excel shows at full precision.
public enum CellValueText {
    /// The text of a date serial shown with a format of `kind`: `2024-01-15`,
    /// `2024-01-15 13:45:00`, `13:45:00`, or for a duration the hours elapsed (`36:30:00`).
    ///
    /// The 1900 date system counts 1900-01-01 as day 1 and keeps Lotus 1-2-3's phantom
    /// 1900-02-29 as day 60 (nil: no such date), so later serials are days since 1899-12-30;
    /// the 1904 system (`date1904` in workbook.xml, old Mac workbooks) counts from 1904-01-01
    /// as day 0. Nil for a serial no calendar date matches (negative, day 0 or 60 of the 1900
    /// system, past 9999-12-31): the caller keeps the number.
    public static func date(serial: Double, kind: NumberFormatKind, date1904: Bool) -> String? {
        guard serial.isFinite, serial >= 0, serial < 2_958_466 else { return nil }
        // Whole seconds, rounded as Excel shows them (0.99999999 of a day is the next midnight).
        let seconds = Int((serial * 86_400).rounded())
        let day = seconds / 86_400, second = seconds % 86_400
        func clock(_ seconds: Int, hourDigits: Int) -> String {
            ValueParser.padded(seconds / 3600, hourDigits) + ":" + ValueParser.padded(seconds % 3600 / 60, 2) + ":"
                + ValueParser.padded(seconds % 60, 2)
        }
        let time = clock(second, hourDigits: 2)
        switch kind {
        case .number:
            return nil
        case .time:
            return time
        case .duration:
            return clock(seconds, hourDigits: 1)
        case .date, .dateTime:
            let unixDays: Int
            if date1904 {
                unixDays = day - 24_107
            } else {
                guard day >= 1, day != 60 else { return nil }
                unixDays = day < 60 ? day - 25_568 : day - 25_569
            }
            let (y, m, d) = civil(daysSince1970: unixDays)
            let date = ValueParser.isoDate(year: y, month: m, day: d)
            return kind == .date ? date : "\(date) \(time)"
        }
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    static func civil(daysSince1970 days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// A stored number (`<v>`: shortest round-trip text such as `0.30000000000000004` or
    /// `1.5E-3`) as the plain decimal Excel shows at its 15 significant digits (`0.3`,
    /// `0.0015`): no exponent, so Assay's number parsing types it; text that is not a
    /// number comes back as it is.
    public static func number(_ stored: String) -> String {
        if isShownAsStored(stored) { return stored }
        guard let value = Double(stored), value.isFinite else { return stored }
        let shown = String(format: "%.15g", value)
        if shown == "-0" { return "0" }
        guard shown.contains("e") else { return shown }
        return Decimal(string: shown).map { "\($0)" } ?? shown
    }

    /// Whether `%.15g` would print `stored` as it is: a plain decimal of at most 15 significant
    /// digits, no leading zero before other digits, no trailing zero after the point, not
    /// below 0.0001 (which `%g` writes with an exponent). Most numbers are; the check saves
    /// `String(format:)`, which cost more than reading the XML.
    static func isShownAsStored(_ stored: String) -> Bool {
        let zero = UInt8(ascii: "0")
        func isDigit(_ byte: UInt8) -> Bool { (zero...UInt8(ascii: "9")).contains(byte) }
        var utf8 = stored.utf8[...]
        if utf8.first == UInt8(ascii: "-") { utf8 = utf8.dropFirst() }
        let point = utf8.firstIndex(of: UInt8(ascii: "."))
        let whole = point.map { utf8[..<$0] } ?? utf8
        let fraction = point.map { utf8[utf8.index(after: $0)...] } ?? utf8[utf8.endIndex...]
        guard !whole.isEmpty, whole.allSatisfy(isDigit), fraction.allSatisfy(isDigit),
              point == nil || (!fraction.isEmpty && fraction.last != zero) else { return false }
        guard whole.first == zero else { return whole.count + fraction.count <= 15 }
        // 0.x: at most three zeros after the point (0.0001 is the smallest %g writes plainly).
        guard whole.count == 1, let first = fraction.firstIndex(where: { $0 != zero }) else { return false }
        let zeros = fraction.distance(from: fraction.startIndex, to: first)
        return zeros <= 3 && fraction.count - zeros <= 15
    }

    /// An ISO 8601 date or date-time of a strict-format cell (`t="d"`, `2024-01-15T13:45:00Z`)
    /// as the date alone when it has no time of day, else `2024-01-15 13:45:00`.
    public static func isoDate(_ stored: String) -> String {
        let parts = stored.split(separator: "T", maxSplits: 1)
        guard parts.count == 2 else { return stored }
        let time = parts[1].prefix(8)
        return time == "00:00:00" ? String(parts[0]) : "\(parts[0]) \(time)"
    }
}
