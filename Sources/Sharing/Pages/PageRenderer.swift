/// The HTML of the share and embed pages, each with the Content-Security-Policy it needs.
///
/// The routes decide what a page shows (`DashboardPageModel`, `GatePageModel`,
/// `MessagePageModel`); this draws it: Mustache templates that escape every value, charts as
/// inline SVG with their colours as attributes, and `/static/share.css` and `share.js`. A page
/// has no inline script and no `style=` attribute; a custom theme's colours are one `<style>`
/// element the CSP allows by its hash.
public enum PageRenderer {
    /// The `?v=` of the style sheet and script links, so a new release's files are fetched
    /// though nginx lets browsers keep `/static/` for a week.
    ///
    /// Defaults to `PageRenderer.staticFilesVersion`, the start of the SHA-256 of
    /// `static/share.css` and `static/share.js` (a unit test fails, naming the new value, when
    /// the files change and this does not). Set it once at start-up, before serving, if the
    /// files are deployed some other way.
    nonisolated(unsafe) public static var assetVersion = staticFilesVersion

    /// The first 12 hex digits of the SHA-256 of `static/share.css` followed by `static/share.js`.
    public static let staticFilesVersion = "14bbb1996abf"

    /// A shared dashboard (`layout: .dashboard`) or an embed (`.embed(width:height:)`).
    public static func dashboard(_ model: DashboardPageModel) -> RenderedPage {
        let theme = model.theme.checked
        var context = document(title: model.title, theme: model.theme, script: true)
        context.merge(DashboardPageContext(model: model, theme: theme).values) { _, new in new }
        return page("dashboard", context, theme: model.theme, frameAncestors: model.frameAncestors)
    }

    /// The form a protected link shows first: a password, or a team member's email and
    /// password. Both POST to `model.action` (fields `password`, and `email` for team links).
    /// When attempts are refused for a while the page says how long to wait; the form stays
    /// usable, since the server refuses anyway.
    public static func gate(_ model: GatePageModel) -> RenderedPage {
        let teamSignIn = model.kind == .teamSignIn
        let title = teamSignIn ? "Sign in to view this dashboard" : "This dashboard is protected"
        var context = document(title: title, theme: model.theme, script: false)
        context["bodyClass"] = "\(model.theme.bodyClass) layout-gate"
        context["heading"] = title
        context["intro"] = teamSignIn ? "It is shared with a team. Sign in with your Assay account."
            : "Enter the password you were given with the link."
        context["action"] = PageAttributes.url(model.action) ?? ""
        context["teamSignIn"] = teamSignIn
        context["submitLabel"] = teamSignIn ? "Sign in" : "Open"
        context["error"] = optional(model.error)
        context["wait"] = optional(model.retryAfter.map { "Too many attempts. Try again in \(waitWords($0))." })
        return page("gate", context, theme: model.theme, frameAncestors: [])
    }

    /// A plain page for a link that cannot be opened: the heading and message, nothing else.
    public static func message(_ model: MessagePageModel) -> RenderedPage {
        var context = document(title: model.heading, theme: .light, script: false)
        // Follows the viewer's light or dark preference: the page knows no link's theme.
        context["bodyClass"] = "theme-auto layout-message"
        context["heading"] = model.heading
        context["message"] = model.message
        return page("message", context, theme: .light, frameAncestors: [])
    }

    // MARK: Pieces

    /// What `layout.mustache` reads: the title, the static files, the theme.
    static func document(title: String, theme: PageTheme, script: Bool) -> [String: Any] {
        [
            "title": title,
            "assetVersion": assetVersion,
            "customStyle": optional(theme.customStyle),
            "script": script,
        ]
    }

    static func page(_ template: String, _ context: [String: Any], theme: PageTheme, frameAncestors: [String]) -> RenderedPage {
        let policy = ContentSecurityPolicy(inlineStyles: theme.customStyle.map { [$0] } ?? [], frameAncestors: frameAncestors)
        return RenderedPage(html: PageTemplates.render(template, context), contentSecurityPolicy: policy.header)
    }

    /// An optional value as a section of zero or one items. A missing key would not do: a
    /// Mustache name not found in the current object is looked up in the enclosing ones.
    static func optional(_ value: String?) -> [String] { value.map { [$0] } ?? [] }

    /// `45 seconds`, `2 minutes`, `1 hour`: rounded up, so the wait is never understated.
    static func waitWords(_ seconds: Int) -> String {
        func words(_ count: Int, _ unit: String) -> String { "\(count) \(unit)\(count == 1 ? "" : "s")" }
        let seconds = max(seconds, 1)
        if seconds < 60 { return words(seconds, "second") }
        if seconds < 3600 { return words((seconds + 59) / 60, "minute") }
        return words((seconds + 3599) / 3600, "hour")
    }
}
