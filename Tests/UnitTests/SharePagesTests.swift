import Charts
import Crypto
import Foundation
import Sharing
import XCTest

/// The share, embed, gate and message pages: every value escaped (the SVG's too), no inline
/// script or style attribute, the CSP's frame-ancestors and custom-theme hash, themes, the
/// filter form, downloads, the grid and the gate's fields.
final class SharePagesTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let hostile = "<script>alert(1)</script>\"'&"
    static let hostileEscaped = "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;"

    static func bar(_ title: String = "Sales", labels: [String] = ["North", "South"], series: [String] = ["Units"]) -> ChartData {
        ChartData(kind: .bar, title: title, labels: labels,
                  series: series.enumerated().map { index, name in .init(name: name, values: labels.indices.map { Double($0 + index + 1) }) })
    }

    static func widget(_ id: String, title: String = "Sales", chart: ChartData? = bar(), error: String? = nil,
                       x: Int = 0, y: Int = 0, w: Int = 6, h: Int = 4, downloads: [PageLink] = []) -> PageWidget {
        PageWidget(id: id, title: title, type: "bar", chart: chart, error: error, x: x, y: y, w: w, h: h, downloads: downloads)
    }

    static func page(_ widgets: [PageWidget] = [widget("1")], theme: PageTheme = .light, layout: DashboardPageModel.Layout = .dashboard,
                     filters: [PageFilter] = [], hidden: [(name: String, value: String)] = [], note: String? = nil,
                     frameAncestors: [String] = []) -> RenderedPage {
        PageRenderer.dashboard(DashboardPageModel(title: "Revenue", theme: theme, layout: layout, widgets: widgets, filters: filters,
                                                  formAction: "/share/abc", hiddenFields: hidden, note: note, frameAncestors: frameAncestors))
    }

    static func matches(_ pattern: String, in text: String) -> [String] {
        let regex = try! NSRegularExpression(pattern: pattern, options: [.caseInsensitive])
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).map { String(text[Range($0.range, in: text)!]) }
    }

    // MARK: Escaping

    func testEveryValueOnTheDashboardIsEscapedTheChartsToo() {
        let h = Self.hostile
        let chart = Self.bar(h, labels: [h, "South"], series: [h, "Returns \(h)"])
        let page = Self.page(
            [Self.widget("1", title: h, chart: chart, downloads: [PageLink(label: h, href: "/share/abc/widgets/1.csv")]),
             Self.widget("2", title: "Broken", chart: nil, error: h, y: 4)],
            filters: [PageFilter(name: "f0", label: h, value: h, choices: [h, "West"], problem: h),
                      PageFilter(name: "f1", label: "Amount ≥", value: h, problem: nil)],
            hidden: [(name: "token", value: h)], note: h)
        let html = page.html
        XCTAssertFalse(html.contains("alert(1)</script>"), html)
        XCTAssertFalse(html.contains("\"'&"), "a raw quote, apostrophe and ampersand")
        XCTAssertEqual(Self.matches("<script", in: html).count, 1, "the one script is share.js")
        // Note, widget title, download label, error, filter label, value (select and text),
        // choice, problem, hidden field: each escaped at least once; the SVG has the rest.
        let escaped = html.components(separatedBy: Self.hostileEscaped).count - 1
        XCTAssertGreaterThanOrEqual(escaped, 10, html)
        XCTAssertTrue(html.contains("<p class=\"note\">\(Self.hostileEscaped)</p>"))
        XCTAssertTrue(html.contains("<h2 id=\"widget-1-title\">\(Self.hostileEscaped)</h2>"))
        XCTAssertTrue(html.contains("<p class=\"widget-error\">\(Self.hostileEscaped)</p>"))
        XCTAssertTrue(html.contains("<input type=\"hidden\" name=\"token\" value=\"\(Self.hostileEscaped)\">"))
        XCTAssertTrue(html.contains("<option value=\"\(Self.hostileEscaped)\" selected>\(Self.hostileEscaped)</option>"))
        // The chart: a category label and both series names (the legend), escaped by the SVG writer.
        let svg = Self.matches("<svg[\\s\\S]*?</svg>", in: html)
        XCTAssertEqual(svg.count, 1)
        XCTAssertTrue(svg[0].contains("<title>\(Self.hostileEscaped): "), "the bar's tooltip names its label")
        XCTAssertTrue(svg[0].contains("&lt;script&gt;"), "the legend")
        XCTAssertTrue(svg[0].contains("Returns &lt;script"), "the second series' name")
    }

    func testTheTemplatesInsertOnlyTheChartUnescaped() throws {
        let folder = Self.root.appendingPathComponent("Sources/Sharing/Templates")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".mustache") }
        XCTAssertEqual(Set(names), ["layout.mustache", "dashboard.mustache", "gate.mustache", "message.mustache"])
        var unescaped: [String] = []
        for name in names {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            unescaped += Self.matches("\\{\\{\\{[^}]*\\}\\}\\}|\\{\\{&[^}]*\\}\\}", in: text).map { "\(name): \($0)" }
            XCTAssertTrue(Self.matches("\\{\\{=", in: text).isEmpty, "\(name) changes the delimiters")
        }
        XCTAssertEqual(unescaped, ["dashboard.mustache: {{{svg}}}"])
    }

    // MARK: CSP-safe markup

    func testNoPageHasAStyleAttributeAnInlineScriptOrAnEventHandler() throws {
        let custom = try PageTheme.custom(background: "#101820", foreground: "#f0f0f0", accent: "#ff8800")
        let widgets = [Self.widget("1"), Self.widget("2", chart: ChartData(kind: .kpi, title: "Total", series: [.init(name: "Total", values: [42])],
                                                                           previous: 40, sparkline: [1, 3, 2]), x: 6, w: 3, h: 2),
                       Self.widget("3", chart: ChartData(kind: .pie, title: "Share", labels: ["A", "B"], series: [.init(name: "n", values: [1, 2])]), y: 4)]
        let filters = [PageFilter(name: "f0", label: "Region", value: "North", choices: ["North", "South"])]
        let pages = [
            Self.page(widgets, filters: filters), Self.page(widgets, theme: .dark), Self.page(widgets, theme: custom, filters: filters),
            Self.page([Self.widget("1")], layout: .embed(width: 400, height: 300), filters: filters),
            Self.page(widgets, layout: .embed(width: 800, height: 600)),
            PageRenderer.gate(GatePageModel(kind: .password, action: "/share/abc", error: "Wrong password.", theme: .light)),
            PageRenderer.gate(GatePageModel(kind: .teamSignIn, action: "/share/abc", retryAfter: 90, theme: custom)),
            PageRenderer.message(.linkNotFound), PageRenderer.message(.linkGone),
        ]
        for page in pages {
            XCTAssertEqual(Self.matches("\\sstyle\\s*=", in: page.html), [], page.html)
            XCTAssertEqual(Self.matches("<script\\b(?![^>]*\\ssrc=)[^>]*>", in: page.html), [], "inline script")
            XCTAssertEqual(Self.matches("\\son[a-z]+\\s*=", in: page.html), [], "event handler attribute")
            XCTAssertEqual(Self.matches("javascript:", in: page.html), [])
            XCTAssertFalse(page.contentSecurityPolicy.contains("unsafe"), page.contentSecurityPolicy)
            XCTAssertTrue(page.html.hasPrefix("<!doctype html>\n<html lang=\"en\">"), page.html)
            XCTAssertTrue(page.html.contains("<meta charset=\"utf-8\">"))
            XCTAssertTrue(page.html.contains("<link rel=\"stylesheet\" href=\"/static/share.css?v=\(PageRenderer.assetVersion)\">"))
        }
        XCTAssertTrue(pages[0].html.contains("<script src=\"/static/share.js?v=\(PageRenderer.assetVersion)\" defer></script>"))
    }

    func testALinkOrFormTargetThatIsNotAPathOrHTTPIsLeftOut() {
        let page = Self.page([Self.widget("1", downloads: [PageLink(label: "Evil", href: "javascript:alert(1)"),
                                                          PageLink(label: "Other site", href: "//evil.example/x"),
                                                          PageLink(label: "CSV", href: "/share/abc/widgets/1.csv")])])
        XCTAssertFalse(page.html.contains("Evil"))
        XCTAssertFalse(page.html.contains("evil.example"))
        XCTAssertTrue(page.html.contains("href=\"/share/abc/widgets/1.csv\""))
        let gate = PageRenderer.gate(GatePageModel(kind: .password, action: "javascript:alert(1)", theme: .light))
        XCTAssertTrue(gate.html.contains("<form class=\"card gate-form\" method=\"post\" action=\"\">"), gate.html)
    }

    // MARK: Content-Security-Policy

    func testThePolicyForbidsFramingWhenNoOriginIsGiven() {
        XCTAssertEqual(Self.page().contentSecurityPolicy,
                       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
                       + "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
        XCTAssertTrue(PageRenderer.gate(GatePageModel(kind: .password, action: "/s", theme: .light)).contentSecurityPolicy
            .hasSuffix("frame-ancestors 'none'"))
        XCTAssertTrue(PageRenderer.message(.linkGone).contentSecurityPolicy.hasSuffix("frame-ancestors 'none'"))
    }

    func testThePolicyNamesTheOriginsThatMayFrameAndDropsOddOnes() {
        let page = Self.page(layout: .embed(width: 400, height: 300),
                             frameAncestors: ["https://example.com", "http://intranet.example:8080", "https://*.example.org",
                                              "https://x.example; script-src *", "'self'", "https://a.example 'unsafe-inline'"])
        XCTAssertTrue(page.contentSecurityPolicy.hasSuffix(
            "; frame-ancestors https://example.com http://intranet.example:8080 https://*.example.org"), page.contentSecurityPolicy)
        XCTAssertEqual(page.contentSecurityPolicy.components(separatedBy: ";").count, 9)
        let allOdd = Self.page(frameAncestors: ["https://x.example;", " "])
        XCTAssertTrue(allOdd.contentSecurityPolicy.hasSuffix("frame-ancestors 'none'"))
    }

    // MARK: Themes

    func testACustomThemesStyleIsAllowedByItsHashAndNothingElse() throws {
        let theme = try PageTheme.custom(background: "#FFF8E7", foreground: "#222", accent: "#C0392B")
        let page = Self.page(theme: theme)
        let styles = Self.matches("<style>[\\s\\S]*?</style>", in: page.html)
        XCTAssertEqual(styles.count, 1)
        let text = String(styles[0].dropFirst("<style>".count).dropLast("</style>".count))
        XCTAssertTrue(text.hasPrefix(":root{"), text)
        for property in ["--bg:#fff8e7", "--fg:#222222", "--accent:#c0392b", "--muted:#", "--border:#"] {
            XCTAssertTrue(text.contains(property), "\(property) in \(text)")
        }
        let hash = Data(SHA256.hash(data: Data(text.utf8))).base64EncodedString()
        XCTAssertTrue(page.contentSecurityPolicy.contains("; style-src 'self' 'sha256-\(hash)'; "), page.contentSecurityPolicy)
        XCTAssertTrue(page.html.contains("<body class=\"theme-custom layout-dashboard\">"))
        // The style comes after the style sheet, so its :root colours win.
        let link = try XCTUnwrap(page.html.range(of: "/static/share.css"))
        XCTAssertLessThan(link.lowerBound, try XCTUnwrap(page.html.range(of: "<style>")).lowerBound)
        // The chart uses the theme's colours.
        XCTAssertTrue(page.html.contains("fill=\"#fff8e7\""))
        XCTAssertTrue(page.html.contains("fill=\"#c0392b\""), "the accent is the first series")
    }

    func testLightAndDarkPagesHaveNoStyleElementAndTheirBodyClass() {
        for (theme, body) in [(PageTheme.light, "theme-light"), (.dark, "theme-dark")] {
            let page = Self.page(theme: theme)
            XCTAssertFalse(page.html.contains("<style"))
            XCTAssertTrue(page.html.contains("<body class=\"\(body) layout-dashboard\">"))
            XCTAssertTrue(page.contentSecurityPolicy.contains("; style-src 'self'; "))
            XCTAssertTrue(page.html.contains("fill=\"\(theme.background)\""))
        }
    }

    func testLightAndDarkAreTheChartsColours() {
        XCTAssertEqual(PageTheme.light.background, ChartTheme.light.background)
        XCTAssertEqual(PageTheme.light.border, ChartTheme.light.grid)
        XCTAssertEqual(PageTheme.dark.muted, ChartTheme.dark.muted)
        XCTAssertEqual(PageTheme.dark.accent, ChartTheme.dark.palette[0])
        XCTAssertEqual(PageTheme.dark.palette, ChartTheme.dark.palette)
        XCTAssertEqual(PageTheme.named("light"), .light)
        XCTAssertEqual(PageTheme.named("dark"), .dark)
        XCTAssertNil(PageTheme.named("custom"))
        XCTAssertNil(PageTheme.named("Dark "))
    }

    func testCustomColoursAreNormalisedAndThePaletteSuitsTheBackground() throws {
        let dark = try PageTheme.custom(background: "#000", foreground: "#EEE", accent: "#0f0")
        XCTAssertEqual(dark.name, .custom)
        XCTAssertEqual(dark.background, "#000000")
        XCTAssertEqual(dark.foreground, "#eeeeee")
        XCTAssertEqual(dark.accent, "#00ff00")
        XCTAssertEqual(dark.palette, ["#00ff00"] + ChartTheme.dark.palette)
        let light = try PageTheme.custom(background: "#fafafa", foreground: "#111111", accent: "#2563EB")
        XCTAssertEqual(light.palette, ChartTheme.light.palette, "the accent is the light palette's first colour: not twice")
        XCTAssertNotEqual(light.muted, light.foreground)
        XCTAssertNotEqual(light.border, light.background)
    }

    func testABadCustomColourIsRefusedNamingTheField() {
        for bad in ["red; background:url(x)", "#12345g", "red", "#1234", "", "#", "#ffffff ", " #fff", "#ff\"ff", "#fff;x"] {
            XCTAssertThrowsError(try PageTheme.custom(background: bad, foreground: "#000", accent: "#00f"), bad) { error in
                XCTAssertEqual((error as? PageTheme.InvalidColour)?.field, "background")
            }
        }
        XCTAssertThrowsError(try PageTheme.custom(background: "#fff", foreground: "#000", accent: "url(x)")) { error in
            XCTAssertEqual("\(error)", "accent must be a colour written #rgb or #rrggbb")
        }
    }

    func testAThemeMadeWithoutCheckingCannotBreakOutOfTheChartOrTheStyle() {
        let theme = PageTheme(name: .custom, background: "#fff\" onload=\"alert(1)", foreground: "#000}body{x:y", muted: "#666",
                              border: "#ddd", accent: "#00f</style>", palette: ["#00f\"/><script>"])
        let page = Self.page(theme: theme)
        XCTAssertFalse(page.html.contains("onload"))
        XCTAssertFalse(page.html.contains("body{"))
        XCTAssertFalse(page.html.contains("<script>"))
        XCTAssertEqual(Self.matches("</style>", in: page.html).count, 1)
    }

    // MARK: Filters and downloads

    func testTheFilterFormAppearsOnlyWithFiltersAndCarriesTheHiddenFields() {
        XCTAssertFalse(Self.page(hidden: [(name: "t", value: "x")]).html.contains("<form"))
        let page = Self.page(filters: [PageFilter(name: "f0", label: "Region =", value: "North", choices: ["North", "South"]),
                                       PageFilter(name: "f1", label: "Amount ≥", value: "abc", problem: "Not a number; the dashboard's 100 is used.")],
                             hidden: [(name: "token", value: "signed.part")])
        let html = page.html
        XCTAssertTrue(html.contains("<form class=\"filters\" method=\"get\" action=\"/share/abc\">"), html)
        XCTAssertTrue(html.contains("<input type=\"hidden\" name=\"token\" value=\"signed.part\">"))
        XCTAssertTrue(html.contains("<label for=\"filter-0\">Region =</label>"))
        XCTAssertTrue(html.contains("<select id=\"filter-0\" name=\"f0\">"))
        XCTAssertTrue(html.contains("<option value=\"North\" selected>North</option>"))
        XCTAssertTrue(html.contains("<option value=\"South\">South</option>"))
        XCTAssertTrue(html.contains("<label for=\"filter-1\">Amount ≥</label>"))
        XCTAssertTrue(html.contains("<input type=\"text\" id=\"filter-1\" name=\"f1\" value=\"abc\" aria-invalid=\"true\" aria-describedby=\"filter-1-problem\">"))
        XCTAssertTrue(html.contains("<p class=\"filter-problem\" id=\"filter-1-problem\">Not a number; the dashboard&#39;s 100 is used.</p>"))
        XCTAssertTrue(html.contains("<button type=\"submit\" class=\"button apply\">Apply</button>"))
        XCTAssertEqual(Self.matches("filter-problem", in: html).count, 1, "only the filter with a problem")
    }

    func testAValueInForceMissingFromTheChoicesIsStillChosen() {
        let html = Self.page(filters: [PageFilter(name: "f0", label: "Region", value: "", choices: ["North"])]).html
        XCTAssertTrue(html.contains("<option value=\"\" selected>(any)</option>\n<option value=\"North\">North</option>"), html)
    }

    func testTheEditFormAppearsOnlyWithAnEditActionAndEscapesTheTitles() {
        XCTAssertFalse(Self.page().html.contains("method=\"post\""), "no edit action: nothing edits")
        let model = DashboardPageModel(title: Self.hostile, theme: .light, layout: .dashboard,
                                       widgets: [Self.widget("w1", title: Self.hostile)],
                                       filters: [PageFilter(name: "f0", label: "Region =", value: "North")],
                                       formAction: "/share/abc", editAction: "/share/abc/edit")
        let html = PageRenderer.dashboard(model).html
        XCTAssertTrue(html.contains("<form class=\"edit-form\" method=\"post\" action=\"/share/abc/edit\">"), html)
        XCTAssertTrue(html.contains("name=\"title\" value=\"\(Self.hostileEscaped)\""))
        XCTAssertTrue(html.contains("name=\"widget.w1\" value=\"\(Self.hostileEscaped)\""))
        XCTAssertTrue(html.contains("<input type=\"hidden\" name=\"f0\" value=\"North\">"))
        XCTAssertTrue(html.contains("name=\"save_filters\""))
        XCTAssertFalse(html.contains("<script>alert"))
    }

    func testDownloadLinksAppearOnlyWhenGiven() {
        let withLinks = Self.page([Self.widget("1", downloads: [PageLink(label: "CSV", href: "/share/abc/widgets/1.csv"),
                                                                PageLink(label: "Excel", href: "/share/abc/widgets/1.xlsx")]),
                                   Self.widget("2", y: 4)]).html
        XCTAssertTrue(withLinks.contains("<li><a class=\"button small\" href=\"/share/abc/widgets/1.csv\" download>CSV</a></li>"))
        XCTAssertTrue(withLinks.contains("<li><a class=\"button small\" href=\"/share/abc/widgets/1.xlsx\" download>Excel</a></li>"))
        XCTAssertEqual(Self.matches("class=\"downloads\"", in: withLinks).count, 1, "widget 2 has none")
        XCTAssertFalse(Self.page().html.contains("download"))
    }

    // MARK: Layout

    func testWidgetsComeInRowThenColumnOrderWithTheirGridClassesAndChartSizes() {
        let html = Self.page([Self.widget("c", y: 4, w: 12, h: 3), Self.widget("b", x: 6, w: 6, h: 4), Self.widget("a", x: 0, w: 6, h: 4)]).html
        let ids = Self.matches("id=\"widget-[a-z]\"", in: html)
        XCTAssertEqual(ids, ["id=\"widget-a\"", "id=\"widget-b\"", "id=\"widget-c\""])
        XCTAssertTrue(html.contains("<section class=\"widget type-bar col-7 span-6 rows-4\" id=\"widget-b\" aria-labelledby=\"widget-b-title\">"), html)
        XCTAssertTrue(html.contains("<section class=\"widget type-bar col-1 span-12 rows-3\" id=\"widget-c\""))
        let sizes = Self.matches("<svg [^>]*>", in: html).map { tag in
            Self.matches("(width|height)=\"\\d+\"", in: tag).joined(separator: " ")
        }
        XCTAssertEqual(sizes, ["width=\"576\" height=\"264\"", "width=\"576\" height=\"264\"", "width=\"1176\" height=\"184\""])
        XCTAssertTrue(html.contains("<body class=\"theme-light layout-dashboard\">"))
        XCTAssertTrue(html.contains("<header class=\"page-header\">\n<h1>Revenue</h1>"))
        XCTAssertTrue(html.contains("<title>Revenue</title>"))
    }

    func testAGridPlaceOutsideTheTwelveColumnsIsPulledBackIn() {
        let html = Self.page([Self.widget("1", x: 10, w: 6, h: 0), Self.widget("2", x: -3, y: 1, w: 40, h: 2)]).html
        XCTAssertTrue(html.contains("class=\"widget type-bar col-11 span-2 rows-1\""), html)
        XCTAssertTrue(html.contains("width=\"176\" height=\"160\""), "the smallest chart height")
        XCTAssertTrue(html.contains("class=\"widget type-bar col-1 span-12 rows-2\""), html)
    }

    func testAnEmbeddedWidgetFillsTheFrameLessItsTitle() {
        let html = Self.page([Self.widget("1")], layout: .embed(width: 400, height: 300), note: "Shared by Acme").html
        XCTAssertTrue(html.contains("<body class=\"theme-light layout-embed embed-single\">"))
        XCTAssertTrue(html.contains("width=\"400\" height=\"272\""), html)
        XCTAssertFalse(html.contains("page-header"))
        XCTAssertFalse(html.contains("Shared by Acme"))
        XCTAssertFalse(html.contains("embed-title"))
        let filtered = Self.page([Self.widget("1", downloads: [PageLink(label: "CSV", href: "/e/1.csv")])],
                                 layout: .embed(width: 400, height: 300), filters: [PageFilter(name: "f0", label: "Region", value: "")]).html
        XCTAssertTrue(filtered.contains("width=\"400\" height=\"196\""), "300 less the title, filter bar and downloads")
    }

    func testAnEmbeddedDashboardIsTheGridScaledToTheFrame() {
        let html = Self.page([Self.widget("1", w: 6), Self.widget("2", x: 6, w: 6)], layout: .embed(width: 600, height: 400)).html
        XCTAssertTrue(html.contains("<body class=\"theme-light layout-embed\">"))
        XCTAssertTrue(html.contains("<h1 class=\"embed-title\">Revenue</h1>"))
        XCTAssertEqual(Self.matches("<svg [^>]*width=\"276\" height=\"264\"", in: html).count, 2, html)
    }

    func testAWidgetWithoutAChartSaysWhy() {
        let html = Self.page([Self.widget("1", chart: nil, error: "The table no longer exists.")]).html
        XCTAssertTrue(html.contains("<p class=\"widget-error\">The table no longer exists.</p>"))
        XCTAssertFalse(html.contains("<svg"))
        XCTAssertTrue(Self.page([]).html.contains("<p class=\"empty\">"))
    }

    func testTheChartsTitleIsTheWidgetsHeadingNotDrawnTwice() {
        let html = Self.page([Self.widget("1", title: "Units by region", chart: Self.bar("Units by region"))]).html
        XCTAssertEqual(Self.matches("Units by region", in: html).count, 1, html)
    }

    // MARK: Gate and message pages

    func testThePasswordGateAsksForThePasswordOnly() {
        let html = PageRenderer.gate(GatePageModel(kind: .password, action: "/share/abc", error: "Wrong password.", theme: .dark)).html
        XCTAssertTrue(html.contains("<form class=\"card gate-form\" method=\"post\" action=\"/share/abc\">"), html)
        XCTAssertEqual(Self.matches("<input ", in: html).count, 1)
        XCTAssertTrue(html.contains("<input type=\"password\" id=\"gate-password\" name=\"password\""))
        XCTAssertTrue(html.contains("<label for=\"gate-password\">Password</label>"))
        XCTAssertTrue(html.contains("<p class=\"gate-error\" role=\"alert\">Wrong password.</p>"))
        XCTAssertFalse(html.contains("gate-wait"))
        XCTAssertTrue(html.contains("<body class=\"theme-dark layout-gate\">"))
        XCTAssertFalse(html.contains("share.js"))
    }

    func testTheTeamGateAsksForEmailAndPasswordAndSaysHowLongToWait() {
        let html = PageRenderer.gate(GatePageModel(kind: .teamSignIn, action: "/share/team1", retryAfter: 90, theme: .light)).html
        XCTAssertTrue(html.contains("action=\"/share/team1\""))
        XCTAssertEqual(Self.matches("<input ", in: html).count, 2)
        XCTAssertTrue(html.contains("<input type=\"email\" id=\"gate-email\" name=\"email\""))
        XCTAssertTrue(html.contains("<input type=\"password\" id=\"gate-password\" name=\"password\""))
        XCTAssertTrue(html.contains("<p class=\"gate-wait\" role=\"status\">Too many attempts. Try again in 2 minutes.</p>"), html)
        XCTAssertFalse(html.contains("disabled"))
        XCTAssertFalse(html.contains("gate-error"))
        for (seconds, words) in [(1, "1 second"), (45, "45 seconds"), (60, "1 minute"), (3600, "1 hour"), (3601, "2 hours")] {
            let page = PageRenderer.gate(GatePageModel(kind: .password, action: "/s", retryAfter: seconds, theme: .light))
            XCTAssertTrue(page.html.contains("Try again in \(words)."), "\(seconds)")
        }
    }

    func testTheMessagePageSaysItsWordsAndNothingMore() {
        for model in [MessagePageModel.linkNotFound, .linkGone] {
            let html = PageRenderer.message(model).html
            XCTAssertTrue(html.contains("<title>\(model.heading)</title>"))
            XCTAssertTrue(html.contains("<h1>\(model.heading)</h1>\n<p>\(model.message)</p>"), html)
            XCTAssertFalse(html.contains("<form"))
            XCTAssertFalse(html.contains("<script"))
            XCTAssertFalse(html.contains(String(model.status)))
            // Only the heading and message are text on the page.
            let body = html.components(separatedBy: "<body ").last?.drop { $0 != ">" }.dropFirst() ?? ""
            let text = String(body).replacingOccurrences(of: "<[^>]*>", with: "", options: .regularExpression)
                .split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            XCTAssertEqual(text, [model.heading, model.message])
        }
        XCTAssertEqual(MessagePageModel.linkNotFound.status, 404)
        XCTAssertEqual(MessagePageModel.linkGone.status, 410)
        let custom = PageRenderer.message(MessagePageModel(status: 410, heading: Self.hostile, message: "x")).html
        XCTAssertTrue(custom.contains("<h1>\(Self.hostileEscaped)</h1>"))
    }

    // MARK: Static files

    func testTheAssetVersionIsTheHashOfTheStaticFiles() throws {
        var bytes = try Data(contentsOf: Self.root.appendingPathComponent("static/share.css"))
        bytes += try Data(contentsOf: Self.root.appendingPathComponent("static/share.js"))
        let hex = SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
        XCTAssertEqual(PageRenderer.staticFilesVersion, String(hex.prefix(12)),
                       "static/share.css or share.js changed: set PageRenderer.staticFilesVersion to \(hex.prefix(12))")
    }
}
