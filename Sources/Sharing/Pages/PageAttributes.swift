/// Checks on values that go into attributes where escaping alone is not enough.
///
/// The templates HTML-escape every value, so nothing can leave its attribute; but an escaped
/// `javascript:` link is still a link, and a class with a space is two classes. The routes
/// give plain paths and words; these keep anything else out.
enum PageAttributes {
    /// `href` or `action` values: a path on this site (`/share/…`, not `//host`) or an
    /// http(s) URL, without spaces or control characters. Nil for anything else.
    static func url(_ text: String) -> String? {
        guard !text.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f || $0 == "\\" }) else { return nil }
        if text.hasPrefix("/") { return text.hasPrefix("//") ? nil : text }
        let lower = text.lowercased()
        return lower.hasPrefix("https://") || lower.hasPrefix("http://") ? text : nil
    }

    /// A word for a class name (`kpi`, `horizontal_bar`): lowercase letters, digits, `_` and
    /// `-`, else `other`.
    static func classWord(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"): true
            default: false
            }
        }
        return plain ? text : "other"
    }
}
