// TEMPORARY: replaced by the real renderer (branch share-pages).
import Charts
import Foundation

public enum PageRenderer {
    public static func dashboard(_ model: DashboardPageModel) -> RenderedPage {
        RenderedPage(html: "<!doctype html><title>x</title>", contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'")
    }
    public static func gate(_ model: GatePageModel) -> RenderedPage {
        RenderedPage(html: "<!doctype html><form method=post action=\"\(model.action)\"><input name=password></form>", contentSecurityPolicy: "default-src 'none'")
    }
    public static func message(_ model: MessagePageModel) -> RenderedPage {
        RenderedPage(html: "<!doctype html><h1>\(model.heading)</h1>", contentSecurityPolicy: "default-src 'none'")
    }
}

extension PageTheme {
    public static let light = PageTheme(name: .light, background: "#ffffff", foreground: "#1f2933", muted: "#616e7c", border: "#e4e7eb",
                                        accent: "#2563eb", palette: ChartTheme.light.palette)
    public static let dark = PageTheme(name: .dark, background: "#111827", foreground: "#f3f4f6", muted: "#9ca3af", border: "#374151",
                                       accent: "#60a5fa", palette: ChartTheme.dark.palette)
    public static func named(_ name: String) -> PageTheme? { name == "dark" ? .dark : name == "light" ? .light : nil }
    public static func custom(background: String, foreground: String, accent: String) throws -> PageTheme {
        PageTheme(name: .custom, background: background, foreground: foreground, muted: foreground, border: foreground, accent: accent,
                  palette: [accent])
    }
}
