import Charts
import Foundation

/// The themes a link may have: light and dark (the charts' own colours) and custom ones made
/// from three colours a dashboard owner picks.
extension PageTheme {
    /// A custom colour that is not `#rgb` or `#rrggbb`; `field` names which one.
    public struct InvalidColour: Error, Sendable, Equatable, CustomStringConvertible {
        /// `background`, `foreground` or `accent`.
        public let field: String

        public var description: String { "\(field) must be a colour written #rgb or #rrggbb" }
    }

    public static let light = PageTheme(name: .light, chart: .light)
    public static let dark = PageTheme(name: .dark, chart: .dark)

    /// `light` or `dark`; nil for anything else (a custom theme needs its colours).
    public static func named(_ name: String) -> PageTheme? {
        switch name {
        case Name.light.rawValue: .light
        case Name.dark.rawValue: .dark
        default: nil
        }
    }

    /// A theme from three colours, each `#rgb` or `#rrggbb` (stored as lowercase `#rrggbb`).
    ///
    /// Muted text and borders are mixed from the background and foreground, so they keep
    /// their contrast whatever the colours; the chart palette starts with the accent and goes
    /// on with the light or dark palette, whichever suits the background. Nothing but a hex
    /// colour is accepted because the colours go into a style sheet as they are.
    public static func custom(background: String, foreground: String, accent: String) throws -> PageTheme {
        guard let background = HexColour(background) else { throw InvalidColour(field: "background") }
        guard let foreground = HexColour(foreground) else { throw InvalidColour(field: "foreground") }
        guard let accent = HexColour(accent) else { throw InvalidColour(field: "accent") }
        let base: ChartTheme = background.isDark ? .dark : .light
        return PageTheme(
            name: .custom,
            background: background.text,
            foreground: foreground.text,
            muted: foreground.mixed(with: background, by: 0.35).text,
            border: background.mixed(with: foreground, by: 0.15).text,
            accent: accent.text,
            palette: [accent.text] + base.palette.filter { $0 != accent.text })
    }

    init(name: Name, chart: ChartTheme) {
        self.init(name: name, background: chart.background, foreground: chart.foreground, muted: chart.muted, border: chart.grid,
                  accent: chart.palette[0], palette: chart.palette)
    }

    /// Whether the background is dark (form controls and scroll bars follow it).
    var isDark: Bool { HexColour(background)?.isDark ?? (name == .dark) }

    /// Text on the accent colour (buttons): white or near-black, whichever reads better.
    var onAccent: String { HexColour(accent)?.isDark ?? true ? "#ffffff" : "#111827" }
}

/// An sRGB colour read from `#rgb` or `#rrggbb`.
struct HexColour: Equatable {
    let red: Int
    let green: Int
    let blue: Int

    init?(_ text: String) {
        let digits = Array(text.utf8.dropFirst())
        guard text.utf8.first == UInt8(ascii: "#"), digits.count == 3 || digits.count == 6 else { return nil }
        var values: [Int] = []
        for byte in digits {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): values.append(Int(byte - UInt8(ascii: "0")))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): values.append(Int(byte - UInt8(ascii: "a")) + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): values.append(Int(byte - UInt8(ascii: "A")) + 10)
            default: return nil
            }
        }
        if values.count == 3 { values = values.flatMap { [$0, $0] } }
        red = values[0] * 16 + values[1]
        green = values[2] * 16 + values[3]
        blue = values[4] * 16 + values[5]
    }

    init(red: Int, green: Int, blue: Int) {
        self.red = red
        self.green = green
        self.blue = blue
    }

    /// Lowercase `#rrggbb`.
    var text: String { "#" + [red, green, blue].map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined() }

    /// This colour moved `share` (0–1) of the way towards `other`.
    func mixed(with other: HexColour, by share: Double) -> HexColour {
        func mix(_ a: Int, _ b: Int) -> Int { Int((Double(a) + (Double(b) - Double(a)) * share).rounded()) }
        return HexColour(red: mix(red, other.red), green: mix(green, other.green), blue: mix(blue, other.blue))
    }

    /// WCAG relative luminance, 0 (black) to 1 (white).
    var luminance: Double {
        func linear(_ channel: Int) -> Double {
            let c = Double(channel) / 255
            return c <= 0.03928 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4)
        }
        return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    }

    /// Dark when white text on it has more contrast than black text.
    var isDark: Bool { (1.05 / (luminance + 0.05)) > ((luminance + 0.05) / 0.05) }
}

extension PageTheme {
    /// This theme with every colour a checked `#rrggbb`.
    ///
    /// `custom(…)` checks its colours, but the memberwise initialiser does not, and the colours
    /// go unescaped into the chart's SVG attributes and the page's `<style>`: anything that is
    /// not a hex colour is replaced by the light (or dark) theme's colour in its place.
    var checked: PageTheme {
        let base: PageTheme = name == .dark ? .dark : .light
        func colour(_ text: String, _ fallback: String) -> String { HexColour(text)?.text ?? fallback }
        let palette = palette.compactMap { HexColour($0)?.text }
        return PageTheme(name: name, background: colour(background, base.background), foreground: colour(foreground, base.foreground),
                         muted: colour(muted, base.muted), border: colour(border, base.border), accent: colour(accent, base.accent),
                         palette: palette.isEmpty ? base.palette : palette)
    }

    /// The `<body>` class that picks the style sheet's colours: `theme-light`, `theme-dark`,
    /// or `theme-custom` for any other colours (set by `customStyle`).
    var bodyClass: String {
        switch self {
        case .light: "theme-light"
        case .dark: "theme-dark"
        default: "theme-custom"
        }
    }

    /// For a custom theme, the text of the page's one `<style>` element: the colours as CSS
    /// custom properties on `:root`, which the style sheet uses everywhere. Nil for light and
    /// dark, whose colours are in the style sheet. Only `#`, hex digits and fixed words: it
    /// reads the same escaped or not, so its hash in the CSP matches what the page carries.
    var customStyle: String? {
        guard self != .light, self != .dark else { return nil }
        let theme = checked
        return ":root{color-scheme:\(theme.isDark ? "dark" : "light");--bg:\(theme.background);--fg:\(theme.foreground);"
            + "--muted:\(theme.muted);--border:\(theme.border);--accent:\(theme.accent);--on-accent:\(theme.onAccent)}"
    }
}
