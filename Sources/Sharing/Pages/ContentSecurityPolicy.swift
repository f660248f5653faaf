import Crypto
import Foundation

/// The Content-Security-Policy of a share or embed page.
///
/// Scripts, styles, images and fonts come only from Assay itself: no inline script, no
/// `style=` attribute and no `'unsafe-inline'`. The one inline style a page may have, a custom
/// theme's colours, is allowed by its SHA-256 hash, so a page cannot carry any other.
/// `frame-ancestors` names the origins that may embed the page, or `'none'`.
struct ContentSecurityPolicy {
    /// The exact texts of the page's `<style>` elements.
    var inlineStyles: [String] = []
    /// Origins allowed to frame the page; empty: none may.
    var frameAncestors: [String] = []

    var header: String {
        let styles = (["'self'"] + inlineStyles.map { "'\(Self.hash(of: $0))'" }).joined(separator: " ")
        let ancestors = frameAncestors.filter(Self.isPlainOrigin)
        return [
            "default-src 'none'",
            "script-src 'self'",
            "style-src \(styles)",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors \(ancestors.isEmpty ? "'none'" : ancestors.joined(separator: " "))",
        ].joined(separator: "; ")
    }

    /// A CSP hash source's value: `sha256-` and the base64 SHA-256 of the text's UTF-8 bytes.
    static func hash(of text: String) -> String {
        "sha256-" + Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString()
    }

    /// The caller checked the origins already; this keeps anything that could end the
    /// directive or add another (`;`, spaces, quotes) out of the header all the same.
    static func isPlainOrigin(_ origin: String) -> Bool {
        !origin.isEmpty && origin.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "."), UInt8(ascii: ":"), UInt8(ascii: "/"), UInt8(ascii: "*"), UInt8(ascii: "-"):
                true
            default:
                false
            }
        }
    }
}
