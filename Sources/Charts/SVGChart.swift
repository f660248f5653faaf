import Foundation

/// Server-side SVG charts: bar (vertical, horizontal, grouped, stacked), line and area (one or
/// several series), pie and donut, scatter, histogram, KPI and table. The output depends only
/// on the input (no clocks, no random ids, fixed number formatting), so the same data gives
/// the same bytes and can be cached and compared with golden files. Colours come from CSS
/// variables with the theme's values as fallbacks, so a page can restyle a chart.
public struct ChartData: Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        case bar, horizontalBar = "horizontal_bar", stackedBar = "stacked_bar", line, area, pie, donut, scatter, histogram, kpi, table
    }

    /// How values of a column read: plain numbers, money, shares, dates, text.
    public enum Format: Sendable, Equatable {
        case number, currency(String), percent, date, text
    }

    public struct Series: Sendable {
        public let name: String
        public let values: [Double?]
        public init(name: String, values: [Double?]) {
            self.name = name
            self.values = values
        }
    }

    public var kind: Kind
    public var title: String
    /// Category labels (x axis, pie slices); for scatter, unused.
    public var labels: [String]
    public var series: [Series]
    /// Scatter: x values paired with `series[0].values`.
    public var xValues: [Double]
    public var valueFormat: Format
    public var labelFormat: Format
    /// KPI: the previous period's value (for the change) and a sparkline.
    public var previous: Double?
    public var sparkline: [Double]
    /// Table: headers and rows of text.
    public var headers: [String]
    public var rows: [[String]]

    public init(kind: Kind, title: String, labels: [String] = [], series: [Series] = [], xValues: [Double] = [],
                valueFormat: Format = .number, labelFormat: Format = .text, previous: Double? = nil, sparkline: [Double] = [],
                headers: [String] = [], rows: [[String]] = []) {
        self.kind = kind
        self.title = title
        self.labels = labels
        self.series = series
        self.xValues = xValues
        self.valueFormat = valueFormat
        self.labelFormat = labelFormat
        self.previous = previous
        self.sparkline = sparkline
        self.headers = headers
        self.rows = rows
    }
}

public struct ChartTheme: Sendable {
    public let name: String
    public let background: String
    public let foreground: String
    public let muted: String
    public let grid: String
    public let palette: [String]

    public static let light = ChartTheme(name: "light", background: "#ffffff", foreground: "#1f2933", muted: "#616e7c", grid: "#e4e7eb",
                                         palette: ["#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"])
    public static let dark = ChartTheme(name: "dark", background: "#111827", foreground: "#f3f4f6", muted: "#9ca3af", grid: "#374151",
                                        palette: ["#60a5fa", "#fbbf24", "#34d399", "#f87171", "#a78bfa", "#22d3ee", "#f472b6", "#a3e635"])

    public init(name: String, background: String, foreground: String, muted: String, grid: String, palette: [String]) {
        self.name = name
        self.background = background
        self.foreground = foreground
        self.muted = muted
        self.grid = grid
        self.palette = palette
    }

    public static func named(_ name: String) -> ChartTheme { name == "dark" ? .dark : .light }
}
