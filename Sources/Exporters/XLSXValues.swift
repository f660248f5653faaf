#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CXlsxWriter

/// Parsers for PostgreSQL's text output of one cell, working on the bytes of a C string so the
/// hot loop of an .xlsx export allocates nothing per cell (no Foundation formatters, no
/// substrings). Each returns nil when the text is not what its kind promises; the caller then
/// writes the text as a string instead of failing the export.
enum XLSXValues {
    /// Excel keeps 15 significant digits; longer integers (ids, account numbers) stay exact
    /// only as text.
    static let maxExactDigits = 15

    /// A finite number from the whole of `text` (`123`, `-4.5`, `1e3`). `strtod` follows the C
    /// locale's decimal point, which is `.` because the server never calls `setlocale`. NaN
    /// and infinities (PostgreSQL's `NaN`, `Infinity`) have no Excel form and return nil.
    static func number(_ text: UnsafePointer<CChar>, count: Int) -> Double? {
        guard count > 0 else { return nil }
        var end: UnsafeMutablePointer<CChar>?
        let value = strtod(text, &end)
        guard let end, end == UnsafeMutablePointer(mutating: text) + count, value.isFinite else { return nil }
        return value
    }

    /// An integer column's value, or nil when it has more digits than Excel keeps exactly.
    static func integer(_ text: UnsafePointer<CChar>, count: Int) -> Double? {
        let digits = text.pointee == 0x2D ? count - 1 : count   // a leading "-"
        guard digits <= maxExactDigits else { return nil }
        return number(text, count: count)
    }

    /// `t`/`f` (PostgreSQL) or `true`/`false`, any case.
    static func boolean(_ text: UnsafePointer<CChar>, count: Int) -> Bool? {
        let bytes = UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self)
        func matches(_ word: StaticString) -> Bool {
            guard word.utf8CodeUnitCount == count else { return false }
            for i in 0..<count where bytes[i] | 0x20 != word.utf8Start[i] { return false }
            return true
        }
        if matches("t") || matches("true") { return true }
        if matches("f") || matches("false") { return false }
        return nil
    }

    /// `YYYY-MM-DD`, exactly, within Excel's range (1900-01-01 to 9999-12-31). Earlier dates,
    /// BC dates and `infinity` return nil.
    static func date(_ text: UnsafePointer<CChar>, count: Int) -> lxw_datetime? {
        guard count == 10 else { return nil }
        return datePart(UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self))
    }

    /// `YYYY-MM-DD HH:MM:SS[.ffffff][offset]` (or with `T`), or a bare date as midnight. The
    /// offset (`+00`, `-08`, `+05:30`, `Z`) is checked but not applied: Excel has no time zones,
    /// and the wall-clock time PostgreSQL printed is what a reader of the export expects to see.
    static func timestamp(_ text: UnsafePointer<CChar>, count: Int) -> lxw_datetime? {
        let bytes = UnsafeRawPointer(text).assumingMemoryBound(to: UInt8.self)
        guard count >= 10, var value = datePart(bytes) else { return nil }
        if count == 10 { return value }
        guard count >= 19, bytes[10] == 0x20 || bytes[10] == 0x54, bytes[13] == 0x3A, bytes[16] == 0x3A,
              let hour = twoDigits(bytes + 11), hour < 24,
              let minute = twoDigits(bytes + 14), minute < 60,
              let second = twoDigits(bytes + 17), second < 60 else { return nil }
        var index = 19
        let fraction = fractionalSeconds(bytes, count: count, index: &index)
        guard isOffset(bytes + index, count: count - index) else { return nil }
        value.hour = Int32(hour)
        value.min = Int32(minute)
        value.sec = Double(second) + fraction
        return value
    }

    /// The date in the first ten bytes, validated against the calendar.
    private static func datePart(_ bytes: UnsafePointer<UInt8>) -> lxw_datetime? {
        guard bytes[4] == 0x2D, bytes[7] == 0x2D,
              let high = twoDigits(bytes), let low = twoDigits(bytes + 2),
              let month = twoDigits(bytes + 5), let day = twoDigits(bytes + 8) else { return nil }
        let year = high * 100 + low
        guard (1900...9999).contains(year), (1...12).contains(month),
              day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        return lxw_datetime(year: Int32(year), month: Int32(month), day: Int32(day), hour: 0, min: 0, sec: 0)
    }

    private static func twoDigits(_ bytes: UnsafePointer<UInt8>) -> Int? {
        let tens = Int(bytes[0]) - 0x30, ones = Int(bytes[1]) - 0x30
        guard (0...9).contains(tens), (0...9).contains(ones) else { return nil }
        return tens * 10 + ones
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// The `.ffffff` after the seconds, if any, advancing `index` past it.
    private static func fractionalSeconds(_ bytes: UnsafePointer<UInt8>, count: Int, index: inout Int) -> Double {
        guard index < count, bytes[index] == 0x2E else { return 0 }
        index += 1
        var fraction = 0.0, scale = 1.0
        while index < count, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            scale /= 10
            fraction += Double(bytes[index] - 0x30) * scale
            index += 1
        }
        return fraction
    }

    /// Nothing, `Z`, or a sign followed by digits and colons (`+00`, `-08:00`, `+05:30`).
    private static func isOffset(_ bytes: UnsafePointer<UInt8>, count: Int) -> Bool {
        if count == 0 { return true }
        if count == 1 { return bytes[0] == 0x5A }
        guard bytes[0] == 0x2B || bytes[0] == 0x2D else { return false }
        for i in 1..<count where !(bytes[i] >= 0x30 && bytes[i] <= 0x3A) { return false }
        return true
    }
}
