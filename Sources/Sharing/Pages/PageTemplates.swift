import Foundation
import Mustache

/// The pages' Mustache templates (`Sources/Sharing/Templates`), read once per process.
///
/// Every template inserts values with `{{ }}`, which HTML-escapes them; the one unescaped
/// insertion is `{{{svg}}}`, the chart `PageRenderer` drew itself. The templates ship inside
/// the module's resource bundle, so one that is missing or does not parse is a broken build:
/// the unit tests render every page, and the process stops with the template's name.
enum PageTemplates {
    /// Each page extends `layout` (`{{<layout}}`), which holds the document's head.
    static let names = ["layout", "dashboard", "gate", "message"]

    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for name in names {
            guard let url = Bundle.module.url(forResource: name, withExtension: "mustache", subdirectory: "Templates"),
                  let data = FileManager.default.contents(atPath: url.path)
            else {
                fatalError("Sharing: the page template \(name).mustache is missing from the module's resources")
            }
            do {
                try library.register(String(decoding: data, as: UTF8.self), named: name)
            } catch {
                fatalError("Sharing: the page template \(name).mustache does not parse: \(error)")
            }
        }
        return library
    }()

    static func render(_ name: String, _ context: [String: Any]) -> String {
        guard let html = library.render(context, withTemplate: name) else {
            fatalError("Sharing: no page template named \(name)")
        }
        return html
    }
}
