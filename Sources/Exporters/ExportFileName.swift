import Foundation

/// File names for exported tables that every operating system accepts: what batch zips name
/// their entries. Names are the tables' human names (`TableExport.humanName`), cleaned and
/// made unique.
public enum ExportFileName {
    /// The most UTF-8 bytes a name keeps before its suffix and extension: well inside the
    /// 255 bytes file systems allow, with room for a folder when the zip is unpacked.
    public static let maxStemBytes = 120

    /// Names Windows keeps for devices, with or without an extension.
    static let reserved: Set<String> = Set(["CON", "PRN", "AUX", "NUL"]
        + (1...9).map { "COM\($0)" } + (1...9).map { "LPT\($0)" })

    /// Characters Windows, macOS or Linux refuse in a file name (or read as a path).
    static let forbidden = Set("/\\:*?\"<>|".unicodeScalars)

    /// `name` made safe as a file name: forbidden and control characters become `_`, leading
    /// and trailing spaces and trailing dots go, a reserved device name gets a leading `_`,
    /// and it is cut (at a character) to `maxStemBytes`. An empty result is `table`.
    public static func safe(_ name: String) -> String {
        let scalars = name.unicodeScalars.map { scalar -> Unicode.Scalar in
            forbidden.contains(scalar) || scalar.properties.generalCategory == .control
                || scalar.properties.generalCategory == .format ? "_" : scalar
        }
        var cleaned = trimmed(String(String.UnicodeScalarView(scalars)))
        if cleaned.utf8.count > maxStemBytes {
            var cut = ""
            for character in cleaned {
                guard cut.utf8.count + character.utf8.count <= maxStemBytes else { break }
                cut.append(character)
            }
            cleaned = trimmed(cut)
        }
        if cleaned.isEmpty { return "table" }
        let device = cleaned.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        if reserved.contains(device.trimmingCharacters(in: .whitespaces).uppercased()) { cleaned = "_" + cleaned }
        return cleaned
    }

    /// One safe file name per name, in order, each ending in `.ext`: a name already taken
    /// (ignoring case, as Windows and macOS do) gets ` (2)`, ` (3)`… before the extension.
    public static func unique(_ names: [String], extension ext: String) -> [String] {
        var taken: Set<String> = []
        return names.map { name in
            let stem = safe(name)
            var candidate = "\(stem).\(ext)"
            var number = 1
            while taken.contains(candidate.lowercased()) {
                number += 1
                candidate = "\(stem) (\(number)).\(ext)"
            }
            taken.insert(candidate.lowercased())
            return candidate
        }
    }

    /// Without leading spaces, or trailing spaces and dots (Windows drops those).
    private static func trimmed(_ text: String) -> String {
        var result = Substring(text)
        while let first = result.first, first.isWhitespace { result = result.dropFirst() }
        while let last = result.last, last.isWhitespace || last == "." { result = result.dropLast() }
        return String(result)
    }
}
