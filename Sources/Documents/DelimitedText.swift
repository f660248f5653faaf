import Foundation
import SwiftCSV

/// Spreadsheets saved as delimited text (CSV, TSV, semicolon- or pipe-separated): recognised
/// by content (they have no magic bytes), decoded (UTF-8 with or without a BOM, else Windows-1252,
/// which covers Latin-1) and parsed by SwiftCSV (quotes, doubled quotes, quoted delimiters
/// and newlines).
public enum DelimitedText {
    static let candidates: [Character] = [",", ";", "\t", "|"]
    /// How much of a file is looked at to recognise it.
    static let sniffBytes = 64 * 1024

    /// The file's text and the encoding it was read in; nil for binary content.
    public static func decode(_ data: Data) -> (text: String, encoding: String)? {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        // Text has no NUL bytes and few control characters besides tab, CR and LF.
        let controls = bytes.lazy.filter { $0 < 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }.count
        guard !bytes.contains(0), controls * 100 <= bytes.count else { return nil }
        if let text = String(validating: bytes, as: UTF8.self) { return (text, "utf-8") }
        if let text = String(bytes: bytes, encoding: .windowsCP1252) { return (text, "windows-1252") }
        return nil
    }

    /// The delimiter of text that reads as records of fields: at least two records (a quoted
    /// newline stays inside its record), the candidate on every one of the first 50, and one
    /// count of it on most of them (short rows are allowed). Prose with a comma here and
    /// there has no such delimiter.
    public static func delimiter(of text: String) -> Character? {
        var best: (Character, Int)?
        for candidate in candidates {
            var counts: [Int] = []
            var inQuotes = false, count = 0, filled = false
            for character in text {
                if counts.count >= 50 { break }
                if character == "\"" { inQuotes.toggle() }
                if !inQuotes, character == "\n" || character == "\r" || character == "\r\n" {
                    if filled { counts.append(count) }
                    count = 0
                    filled = false
                    continue
                }
                if !inQuotes, character == candidate { count += 1 }
                if !character.isWhitespace { filled = true }
            }
            if filled, counts.count < 50 { counts.append(count) }
            guard counts.count >= 2, counts.allSatisfy({ $0 >= 1 }) else { continue }
            let modal = Dictionary(counts.map { ($0, 1) }, uniquingKeysWith: +).max { ($0.value, $0.key) < ($1.value, $1.key) }!
            guard modal.value * 10 >= counts.count * 6 else { continue }
            if best == nil || modal.key > best!.1 { best = (candidate, modal.key) }
        }
        return best?.0
    }

    /// True when the file at `path` is delimited text.
    public static func sniff(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        var head = (try? handle.read(upToCount: sniffBytes)) ?? Data()
        // A cut in the middle of a UTF-8 sequence is not a reason to call the file binary.
        while let last = head.last, last & 0xC0 == 0x80 || last >= 0xC0 { head.removeLast() }
        guard let text = decode(head)?.text else { return false }
        return delimiter(of: text) != nil
    }

    /// Every row of the file, the first as it is (a header or not), each padded to the widest.
    public static func rows(path: String, maxRows: Int) throws -> (rows: [[String]], delimiter: Character, encoding: String) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DocumentProblem("corrupt_document", "the file cannot be read")
        }
        guard let (text, encoding) = decode(data), let delimiter = delimiter(of: text) else {
            throw DocumentProblem("corrupt_document", "the file is not delimited text (CSV, TSV)")
        }
        let csv: EnumeratedCSV
        do {
            csv = try EnumeratedCSV(string: text, delimiter: CSVDelimiter(unicodeScalarLiteral: delimiter), loadColumns: false)
        } catch {
            throw DocumentProblem("corrupt_document", "the CSV cannot be parsed: \(error)")
        }
        var rows = [csv.header] + csv.rows
        rows.removeAll { $0.allSatisfy { $0.trimmingCharacters(in: .whitespaces).isEmpty } }
        guard rows.count <= maxRows + 1 else {
            throw DocumentProblem("too_many_rows", "the file has more than \(maxRows) rows, the limit")
        }
        let width = rows.map(\.count).max() ?? 0
        guard width >= 1, !rows.isEmpty else { throw DocumentProblem("corrupt_document", "the file has no rows") }
        rows = rows.map { $0.count < width ? $0 + Array(repeating: "", count: width - $0.count) : $0 }
        return (rows, delimiter, encoding)
    }
}
