import Foundation

/// PostgreSQL's COPY text format: fields split by tabs, `\N` for NULL, and backslash escapes
/// for backslash, tab, newline, carriage return and the rarer control characters. Rows are
/// encoded here for `COPY … FROM STDIN` and decoded from `COPY … TO STDOUT`.
public enum CopyText {
    /// Appends one row to `out`: the fields tab-separated, `nil` as `\N`, the row ended by a
    /// newline, each field escaped as the connectors' source copies are (`appendEscaped`).
    public static func encodeRow<Fields: Sequence<String?>>(_ fields: Fields, into out: inout [UInt8]) {
        var first = true
        for field in fields {
            if !first { out.append(0x09) }
            first = false
            guard let field else {
                out.append(contentsOf: [0x5C, 0x4E]) // \N
                continue
            }
            appendEscaped(field.utf8, into: &out)
        }
        out.append(0x0A)
    }

    /// Appends one field's text escaped: backslash, tab, newline and carriage return get a
    /// backslash; NUL, which PostgreSQL text cannot hold, is left out. Inlinable: the
    /// connectors escape every byte of a source table through it.
    @inlinable
    public static func appendEscaped<Bytes: Sequence>(_ bytes: Bytes, into out: inout [UInt8]) where Bytes.Element == UInt8 {
        for byte in bytes {
            switch byte {
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x09: out.append(contentsOf: [0x5C, 0x74])
            case 0x0A: out.append(contentsOf: [0x5C, 0x6E])
            case 0x0D: out.append(contentsOf: [0x5C, 0x72])
            case 0x00: break
            default: out.append(byte)
            }
        }
    }

    /// Appends one row (one field, e.g. a JSON document) without its final newline, unescaped.
    public static func unescape(_ row: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        var index = 0
        let end = row.count - 1
        while index < end {
            let byte = row[index]
            if byte == 0x5C, index + 1 < end {
                out.append(escaped(row[index + 1]))
                index += 2
            } else {
                out.append(byte)
                index += 1
            }
        }
    }

    /// Splits one row into `values` (one per column; extra fields are ignored, missing ones nil).
    public static func decode(_ row: UnsafeRawBufferPointer, into values: inout [String?]) {
        let end = row.count > 0 && row[row.count - 1] == 0x0A ? row.count - 1 : row.count
        var start = 0
        var column = 0
        var index = 0
        var hasEscape = false
        while index <= end {
            if index == end || row[index] == 0x09 {
                if column < values.count {
                    values[column] = field(row, start, index, hasEscape: hasEscape)
                }
                column += 1
                start = index + 1
                hasEscape = false
            } else if row[index] == 0x5C {
                hasEscape = true
                index += 1 // the escaped byte cannot end the field
            }
            index += 1
        }
        while column < values.count {
            values[column] = nil
            column += 1
        }
    }

    private static func field(_ row: UnsafeRawBufferPointer, _ start: Int, _ end: Int, hasEscape: Bool) -> String? {
        if end - start == 2, row[start] == 0x5C, row[start + 1] == 0x4E { return nil } // \N
        let slice = UnsafeRawBufferPointer(rebasing: row[start..<end])
        guard hasEscape else { return String(decoding: slice, as: UTF8.self) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(slice.count)
        var index = 0
        while index < slice.count {
            if slice[index] == 0x5C, index + 1 < slice.count {
                bytes.append(escaped(slice[index + 1]))
                index += 2
            } else {
                bytes.append(slice[index])
                index += 1
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func escaped(_ byte: UInt8) -> UInt8 {
        switch byte {
        case 0x6E: 0x0A // n
        case 0x74: 0x09 // t
        case 0x72: 0x0D // r
        case 0x62: 0x08 // b
        case 0x66: 0x0C // f
        case 0x76: 0x0B // v
        default: byte
        }
    }
}

