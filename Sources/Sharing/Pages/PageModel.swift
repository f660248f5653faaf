import Charts

// What the share and embed pages show, decided by the routes (permissions, filters, data) and
// drawn by `PageRenderer` (templates, charts, CSS, the Content-Security-Policy). Every string
// here is plain text: the templates escape it.

/// A page's colours: the page itself and its charts. Colours are `#rrggbb`, checked when the
/// theme is made, so they can go into a style sheet as they are.
public struct PageTheme: Sendable, Equatable {
    public enum Name: String, Sendable, CaseIterable { case light, dark, custom }

    public let name: Name
    public let background: String
    public let foreground: String
    public let muted: String
    public let border: String
    public let accent: String
    /// The colours of chart series, in order.
    public let palette: [String]

    public init(name: Name, background: String, foreground: String, muted: String, border: String, accent: String, palette: [String]) {
        self.name = name
        self.background = background
        self.foreground = foreground
        self.muted = muted
        self.border = border
        self.accent = accent
        self.palette = palette
    }

    /// The charts' theme with these colours.
    public var chart: ChartTheme {
        ChartTheme(name: name.rawValue, background: background, foreground: foreground, muted: muted, grid: border, palette: palette)
    }
}

/// A link on a page (a download, say).
public struct PageLink: Sendable, Equatable {
    public let label: String
    public let href: String

    public init(label: String, href: String) {
        self.label = label
        self.href = href
    }
}

/// One widget as a page shows it: its chart (drawn at the size the page gives it) or why it
/// has none, its place in the dashboard's 12-column grid, and its downloads.
public struct PageWidget: Sendable {
    public let id: String
    public let title: String
    /// The dashboard widget's type (`kpi`, `bar`, `line`, …).
    public let type: String
    /// Nil when the widget could not be read (`error` says why).
    public let chart: ChartData?
    public let error: String?
    /// The grid place: column (0–11), row, width in columns (1–12), height in rows.
    public let x: Int
    public let y: Int
    public let w: Int
    public let h: Int
    /// CSV, Excel and PDF downloads: empty unless the link allows exporting.
    public let downloads: [PageLink]

    public init(id: String, title: String, type: String, chart: ChartData?, error: String?, x: Int, y: Int, w: Int, h: Int,
                downloads: [PageLink] = []) {
        self.id = id
        self.title = title
        self.type = type
        self.chart = chart
        self.error = error
        self.x = x
        self.y = y
        self.w = w
        self.h = h
        self.downloads = downloads
    }
}

/// A dashboard filter a viewer may change (links with `interact`): a field of the page's
/// GET form named `name`.
public struct PageFilter: Sendable {
    /// The query parameter (`f0`, `f1`, …).
    public let name: String
    /// What it filters, in words (`region =`, `amount ≥`).
    public let label: String
    /// The value in force.
    public let value: String
    /// The values to choose from; empty for a free text field.
    public let choices: [String]
    /// Why the value the viewer gave was not used (the dashboard's own value is in force).
    public let problem: String?

    public init(name: String, label: String, value: String, choices: [String] = [], problem: String? = nil) {
        self.name = name
        self.label = label
        self.value = value
        self.choices = choices
        self.problem = problem
    }
}

/// A shared dashboard (`GET /share/{id}`) or an embedded widget (`GET /embed/{id}`).
public struct DashboardPageModel: Sendable {
    public enum Layout: Sendable, Equatable {
        /// The whole dashboard in its grid, page width.
        case dashboard
        /// An iframe's content: the widgets fill `width` × `height` pixels, no page chrome.
        case embed(width: Int, height: Int)
    }

    public let title: String
    public let theme: PageTheme
    public let layout: Layout
    public let widgets: [PageWidget]
    /// Empty unless the viewer may change filters.
    public let filters: [PageFilter]
    /// The page's own path, where the filter form sends its GET.
    public let formAction: String
    /// Hidden fields the filter form carries along (an embed's signed token).
    public let hiddenFields: [(name: String, value: String)]
    /// A line under the title or at the foot (`Shared by Acme · updated 2026-12-07 10:00 UTC`).
    public let note: String?
    /// The origins allowed to frame the page (`https://example.com`); empty: none may.
    public let frameAncestors: [String]
    /// Links with `edit`: where the form that renames the dashboard and its widgets (and keeps
    /// the filter values in force) POSTs. Nil: nothing on the page edits anything.
    public let editAction: String?

    public init(title: String, theme: PageTheme, layout: Layout, widgets: [PageWidget], filters: [PageFilter] = [],
                formAction: String, hiddenFields: [(name: String, value: String)] = [], note: String? = nil,
                frameAncestors: [String] = [], editAction: String? = nil) {
        self.editAction = editAction
        self.title = title
        self.theme = theme
        self.layout = layout
        self.widgets = widgets
        self.filters = filters
        self.formAction = formAction
        self.hiddenFields = hiddenFields
        self.note = note
        self.frameAncestors = frameAncestors
    }
}

/// The form a protected link shows first: a password (secure links) or a team member's
/// email and password (team links).
public struct GatePageModel: Sendable {
    public enum Kind: Sendable { case password, teamSignIn }

    public let kind: Kind
    /// Where the form POSTs (the link's own path).
    public let action: String
    /// Shown above the form after a failed attempt ("Wrong password.").
    public let error: String?
    /// Set when attempts are refused for a while: the seconds to wait.
    public let retryAfter: Int?
    public let theme: PageTheme

    public init(kind: Kind, action: String, error: String? = nil, retryAfter: Int? = nil, theme: PageTheme) {
        self.kind = kind
        self.action = action
        self.error = error
        self.retryAfter = retryAfter
        self.theme = theme
    }
}

/// A plain page for links that cannot be opened: unknown (404) or no longer open (410). The
/// wording is the same for every reason, so it does not tell which.
public struct MessagePageModel: Sendable {
    public let status: Int
    public let heading: String
    public let message: String

    public init(status: Int, heading: String, message: String) {
        self.status = status
        self.heading = heading
        self.message = message
    }
}

/// HTML and the Content-Security-Policy it needs.
public struct RenderedPage: Sendable {
    public let html: String
    public let contentSecurityPolicy: String

    public init(html: String, contentSecurityPolicy: String) {
        self.html = html
        self.contentSecurityPolicy = contentSecurityPolicy
    }
}
