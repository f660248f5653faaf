import Foundation

/// Renders `ChartData` as an SVG document. Colours are presentation attributes (what a strict
/// Content-Security-Policy allows) and also CSS classes with variables (`--assay-series-0`,
/// `--assay-fg`…) in a `<style>` scoped to the chart, so a page that allows it can restyle.
public enum SVGRenderer {
    /// How colours are written.
    public enum Colours: Sendable {
        /// Attributes, and the `<style>` of CSS variables a page can override: for browsers.
        case cssVariables
        /// Attributes only, the theme's colours resolved: for renderers that know no CSS custom
        /// properties (librsvg 2.54 drops a `var()` declaration, so it would fall back to the
        /// attributes anyway) and for files that must look the same wherever they are opened.
        case resolved
    }

    public static func render(_ chart: ChartData, theme: ChartTheme = .light, width: Int = 640, height: Int = 360,
                              colours: Colours = .cssVariables) -> String {
        var svg = SVGWriter(chart: chart, theme: theme, width: Double(width), height: Double(height), colours: colours)
        svg.draw()
        return svg.finish()
    }
}

struct SVGWriter {
    let chart: ChartData
    let theme: ChartTheme
    let width: Double
    let height: Double
    let colours: SVGRenderer.Colours
    let scope: String
    var body: [String] = []

    init(chart: ChartData, theme: ChartTheme, width: Double, height: Double, colours: SVGRenderer.Colours) {
        self.chart = chart
        self.theme = theme
        self.width = width
        self.height = height
        self.colours = colours
        // A stable id from the content, so charts inlined together keep distinct ids.
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in "\(chart.kind.rawValue)|\(chart.title)|\(chart.labels.joined(separator: "\u{1}"))".utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100000001b3
        }
        scope = "ac" + String(hash % 0xFFFFFFFF, radix: 16)
    }

    // MARK: Document

    /// The CSS variables a page can set, scoped to this chart, with the theme's colours as fallbacks.
    var styleSheet: String {
        var css = ".\(scope) .bg{fill:var(--assay-bg,\(theme.background))}"
        css += ".\(scope) .fg{fill:var(--assay-fg,\(theme.foreground))}"
        css += ".\(scope) .muted{fill:var(--assay-muted,\(theme.muted))}"
        css += ".\(scope) .grid{stroke:var(--assay-grid,\(theme.grid))}"
        for (index, colour) in theme.palette.enumerated() {
            css += ".\(scope) .s\(index){fill:var(--assay-series-\(index),\(colour));stroke:var(--assay-series-\(index),\(colour))}"
        }
        return css
    }

    func finish() -> String {
        let style = colours == .cssVariables ? "<style>\(styleSheet)</style>\n" : ""
        let count = chart.kind == .table ? chart.rows.count : chart.labels.count
        let description = "\(kindWords) with \(count) \(count == 1 ? "value" : "values")"
            + (chart.series.count > 1 ? " in \(chart.series.count) series" : "")
        return """
            <svg xmlns="http://www.w3.org/2000/svg" class="assay-chart \(scope) assay-theme-\(SVGWriter.escape(theme.name))" \
            width="\(SVGWriter.n(width))" height="\(SVGWriter.n(height))" viewBox="0 0 \(SVGWriter.n(width)) \(SVGWriter.n(height))" \
            role="img" aria-labelledby="\(scope)-t \(scope)-d" font-family="sans-serif" font-size="12">
            <title id="\(scope)-t">\(SVGWriter.escape(chart.title))</title>
            <desc id="\(scope)-d">\(SVGWriter.escape(description))</desc>
            \(style)<rect class="bg" x="0" y="0" width="\(SVGWriter.n(width))" height="\(SVGWriter.n(height))" fill="\(theme.background)"/>
            \(body.joined(separator: "\n"))
            </svg>

            """
    }

    var kindWords: String {
        switch chart.kind {
        case .bar, .stackedBar: "Bar chart"
        case .horizontalBar: "Horizontal bar chart"
        case .line: "Line chart"
        case .area: "Area chart"
        case .pie: "Pie chart"
        case .donut: "Donut chart"
        case .scatter: "Scatter plot"
        case .histogram: "Histogram"
        case .kpi: "Key figure"
        case .table: "Table"
        }
    }

    mutating func draw() {
        text(chart.title, x: 16, y: 24, size: 15, weight: "600", anchor: "start", limit: Int(width / 8))
        let values = chart.series.flatMap { $0.values.compactMap { $0 } }
        switch chart.kind {
        case .kpi: drawKPI()
        case .table: drawTable()
        default:
            guard !values.isEmpty, chart.kind == .scatter || !chart.labels.isEmpty else {
                text("No data", x: width / 2, y: height / 2, size: 14, weight: nil, anchor: "middle", limit: 40, muted: true)
                return
            }
            switch chart.kind {
            case .pie, .donut: drawPie()
            case .scatter: drawScatter()
            case .horizontalBar: drawHorizontalBars()
            case .line, .area: drawLines()
            default: drawBars()
            }
        }
    }

    // MARK: Pieces

    mutating func text(_ value: String, x: Double, y: Double, size: Double, weight: String?, anchor: String, limit: Int,
                       muted: Bool = false, rotate: Bool = false) {
        let shown = value.count > limit ? String(value.prefix(max(1, limit - 1))) + "…" : value
        let tooltip = shown == value ? "" : "<title>\(SVGWriter.escape(value))</title>"
        let weightAttribute = weight.map { " font-weight=\"\($0)\"" } ?? ""
        let transform = rotate ? " transform=\"rotate(-35 \(SVGWriter.n(x)) \(SVGWriter.n(y)))\"" : ""
        body.append("<text class=\"\(muted ? "muted" : "fg")\" x=\"\(SVGWriter.n(x))\" y=\"\(SVGWriter.n(y))\" font-size=\"\(SVGWriter.n(size))\"\(weightAttribute) "
            + "text-anchor=\"\(anchor)\" fill=\"\(muted ? theme.muted : theme.foreground)\"\(transform)>\(SVGWriter.escape(shown))\(tooltip)</text>")
    }

    func colour(_ index: Int) -> String { theme.palette[index % theme.palette.count] }

    var plot: (left: Double, top: Double, right: Double, bottom: Double) {
        let legend = chart.series.count > 1 ? 18.0 : 0
        return (64, 44 + legend, width - 16, height - 56)
    }

    mutating func legend() {
        guard chart.series.count > 1 else { return }
        var x = 16.0
        for (index, series) in chart.series.enumerated() {
            body.append("<rect class=\"s\(index % theme.palette.count)\" x=\"\(SVGWriter.n(x))\" y=\"36\" width=\"10\" height=\"10\" fill=\"\(colour(index))\"/>")
            text(series.name, x: x + 14, y: 45, size: 11, weight: nil, anchor: "start", limit: 18)
            x += 24 + Double(min(series.name.count, 18)) * 6.5
        }
    }

    /// Grid lines and labels of a value axis from `low` to `high` (vertical, or horizontal when `across`).
    mutating func valueAxis(_ scale: LinearScale, across: Bool = false) {
        let p = plot
        for tick in scale.ticks {
            if across {
                let x = scale.position(tick, from: p.left, to: p.right)
                body.append("<line class=\"grid\" x1=\"\(SVGWriter.n(x))\" y1=\"\(SVGWriter.n(p.top))\" x2=\"\(SVGWriter.n(x))\" y2=\"\(SVGWriter.n(p.bottom))\" stroke=\"\(theme.grid)\"/>")
                text(ValueFormat.axis(tick, chart.valueFormat), x: x, y: p.bottom + 16, size: 11, weight: nil, anchor: "middle", limit: 12, muted: true)
            } else {
                let y = scale.position(tick, from: p.bottom, to: p.top)
                body.append("<line class=\"grid\" x1=\"\(SVGWriter.n(p.left))\" y1=\"\(SVGWriter.n(y))\" x2=\"\(SVGWriter.n(p.right))\" y2=\"\(SVGWriter.n(y))\" stroke=\"\(theme.grid)\"/>")
                text(ValueFormat.axis(tick, chart.valueFormat), x: p.left - 6, y: y + 4, size: 11, weight: nil, anchor: "end", limit: 10, muted: true)
            }
        }
    }

    /// Category labels under the plot: every one when they fit, else evenly thinned.
    mutating func categoryLabels(centres: [Double]) {
        let p = plot
        let space = centres.count > 1 ? centres[1] - centres[0] : p.right - p.left
        let rotate = space < 48
        let step = max(1, Int((22 / max(space, 1)).rounded(.up)))
        for (index, label) in chart.labels.enumerated() where index % step == 0 {
            text(ValueFormat.label(label, chart.labelFormat), x: centres[index], y: p.bottom + 16, size: 11, weight: nil,
                 anchor: rotate ? "end" : "middle", limit: rotate ? 14 : max(4, Int(space / 7)), muted: true, rotate: rotate)
        }
    }

    // MARK: Kinds

    mutating func drawBars() {
        let p = plot
        let stacked = chart.kind == .stackedBar
        let gap = chart.kind == .histogram ? 0.0 : 0.2
        let count = chart.labels.count
        let totals = (0..<count).map { index in chart.series.reduce(0.0) { $0 + max(0, $1.values[safe: index].flatMap { $0 } ?? 0) } }
        let all = chart.series.flatMap { $0.values.compactMap { $0 } }
        let scale = LinearScale(low: min(0, all.min() ?? 0), high: stacked ? (totals.max() ?? 0) : max(0, all.max() ?? 0))
        legend()
        valueAxis(scale)
        let band = (p.right - p.left) / Double(count)
        var centres: [Double] = []
        for index in 0..<count {
            let start = p.left + band * Double(index) + band * gap / 2
            let inner = band * (1 - gap)
            centres.append(start + inner / 2)
            var stackBase = 0.0
            for (s, series) in chart.series.enumerated() {
                guard let value = series.values[safe: index].flatMap({ $0 }) else { continue }
                let (x, w): (Double, Double) = stacked || chart.series.count == 1
                    ? (start, inner) : (start + inner / Double(chart.series.count) * Double(s), inner / Double(chart.series.count))
                let from = stacked ? stackBase : 0, to = stacked ? stackBase + value : value
                if stacked { stackBase += value }
                let y1 = scale.position(max(from, to), from: p.bottom, to: p.top), y0 = scale.position(min(from, to), from: p.bottom, to: p.top)
                body.append("<rect class=\"s\(s % theme.palette.count)\" x=\"\(SVGWriter.n(x))\" y=\"\(SVGWriter.n(y1))\" width=\"\(SVGWriter.n(max(w - (chart.kind == .histogram ? 1 : 0), 0.5)))\" "
                    + "height=\"\(SVGWriter.n(max(y0 - y1, 0.5)))\" fill=\"\(colour(s))\"><title>\(SVGWriter.escape(chart.labels[index])): \(SVGWriter.escape(ValueFormat.value(value, chart.valueFormat)))</title></rect>")
            }
        }
        categoryLabels(centres: centres)
    }

    mutating func drawHorizontalBars() {
        let p = (left: 140.0, top: plot.top, right: width - 24, bottom: height - 32)
        let all = chart.series.flatMap { $0.values.compactMap { $0 } }
        let scale = LinearScale(low: min(0, all.min() ?? 0), high: max(0, all.max() ?? 0))
        legend()
        for tick in scale.ticks {
            let x = scale.position(tick, from: p.left, to: p.right)
            body.append("<line class=\"grid\" x1=\"\(SVGWriter.n(x))\" y1=\"\(SVGWriter.n(p.top))\" x2=\"\(SVGWriter.n(x))\" y2=\"\(SVGWriter.n(p.bottom))\" stroke=\"\(theme.grid)\"/>")
            text(ValueFormat.axis(tick, chart.valueFormat), x: x, y: p.bottom + 16, size: 11, weight: nil, anchor: "middle", limit: 12, muted: true)
        }
        let band = (p.bottom - p.top) / Double(chart.labels.count)
        for (index, label) in chart.labels.enumerated() {
            let top = p.top + band * Double(index) + band * 0.1
            let inner = band * 0.8 / Double(max(1, chart.series.count))
            text(ValueFormat.label(label, chart.labelFormat), x: p.left - 6, y: top + band * 0.4 + 4, size: 11, weight: nil, anchor: "end", limit: 20, muted: true)
            for (s, series) in chart.series.enumerated() {
                guard let value = series.values[safe: index].flatMap({ $0 }) else { continue }
                let x0 = scale.position(min(0, value), from: p.left, to: p.right), x1 = scale.position(max(0, value), from: p.left, to: p.right)
                body.append("<rect class=\"s\(s % theme.palette.count)\" x=\"\(SVGWriter.n(x0))\" y=\"\(SVGWriter.n(top + inner * Double(s)))\" width=\"\(SVGWriter.n(max(x1 - x0, 0.5)))\" "
                    + "height=\"\(SVGWriter.n(inner))\" fill=\"\(colour(s))\"><title>\(SVGWriter.escape(label)): \(SVGWriter.escape(ValueFormat.value(value, chart.valueFormat)))</title></rect>")
            }
        }
    }

    mutating func drawLines() {
        let p = plot
        let all = chart.series.flatMap { $0.values.compactMap { $0 } }
        let scale = LinearScale(low: min(0, all.min() ?? 0), high: max(0, all.max() ?? 0))
        legend()
        valueAxis(scale)
        let count = chart.labels.count
        // Points at the middle of equal bands, so the first and last labels fit.
        let xs = (0..<count).map { p.left + (p.right - p.left) * (Double($0) + 0.5) / Double(count) }
        for (s, series) in chart.series.enumerated() {
            let points = (0..<count).compactMap { index -> (Double, Double, Double)? in
                guard let value = series.values[safe: index].flatMap({ $0 }) else { return nil }
                return (xs[index], scale.position(value, from: p.bottom, to: p.top), value)
            }
            guard !points.isEmpty else { continue }
            let path = points.enumerated().map { "\($0.offset == 0 ? "M" : "L")\(SVGWriter.n($0.element.0)) \(SVGWriter.n($0.element.1))" }.joined(separator: " ")
            if chart.kind == .area, points.count > 1 {
                let base = scale.position(max(0, scale.low), from: p.bottom, to: p.top)
                body.append("<path class=\"s\(s % theme.palette.count)\" d=\"\(path) L\(SVGWriter.n(points.last!.0)) \(SVGWriter.n(base)) L\(SVGWriter.n(points[0].0)) \(SVGWriter.n(base)) Z\" "
                    + "fill=\"\(colour(s))\" fill-opacity=\"0.25\" stroke=\"none\"/>")
            }
            body.append("<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour(s))\" stroke-width=\"2\"/>")
            if points.count == 1 || count <= 24 {
                for point in points {
                    body.append("<circle class=\"s\(s % theme.palette.count)\" cx=\"\(SVGWriter.n(point.0))\" cy=\"\(SVGWriter.n(point.1))\" r=\"3\" fill=\"\(colour(s))\"/>")
                }
            }
        }
        categoryLabels(centres: xs)
    }

    mutating func drawPie() {
        let values = (chart.series.first?.values ?? []).map { max(0, $0 ?? 0) }
        let total = values.reduce(0, +)
        guard total > 0 else {
            text("No data", x: width / 2, y: height / 2, size: 14, weight: nil, anchor: "middle", limit: 40, muted: true)
            return
        }
        let radius = min(width * 0.5, height - 60) / 2 - 8
        let cx = 16 + radius + 8, cy = 40 + (height - 40) / 2
        let inner = chart.kind == .donut ? radius * 0.55 : 0
        var angle = -Double.pi / 2
        for (index, value) in values.enumerated() where value > 0 {
            let sweep = value / total * 2 * Double.pi
            let label = "\(chart.labels[safe: index] ?? ""): \(ValueFormat.value(value, chart.valueFormat)) (\(ValueFormat.share(value / total)))"
            if sweep >= 2 * Double.pi - 1e-9 {
                body.append("<circle class=\"s\(index % theme.palette.count)\" cx=\"\(SVGWriter.n(cx))\" cy=\"\(SVGWriter.n(cy))\" r=\"\(SVGWriter.n(radius))\" fill=\"\(colour(index))\"><title>\(SVGWriter.escape(label))</title></circle>")
            } else {
                let end = angle + sweep
                let large = sweep > Double.pi ? 1 : 0
                func point(_ r: Double, _ a: Double) -> String { "\(SVGWriter.n(cx + r * cos(a))) \(SVGWriter.n(cy + r * sin(a)))" }
                var d = "M\(point(radius, angle)) A\(SVGWriter.n(radius)) \(SVGWriter.n(radius)) 0 \(large) 1 \(point(radius, end))"
                d += inner > 0 ? " L\(point(inner, end)) A\(SVGWriter.n(inner)) \(SVGWriter.n(inner)) 0 \(large) 0 \(point(inner, angle)) Z" : " L\(SVGWriter.n(cx)) \(SVGWriter.n(cy)) Z"
                body.append("<path class=\"s\(index % theme.palette.count)\" d=\"\(d)\" fill=\"\(colour(index))\" stroke=\"\(theme.background)\" stroke-width=\"1\"><title>\(SVGWriter.escape(label))</title></path>")
                angle = end
            }
            if inner > 0, sweep >= 2 * Double.pi - 1e-9 {
                body.append("<circle class=\"bg\" cx=\"\(SVGWriter.n(cx))\" cy=\"\(SVGWriter.n(cy))\" r=\"\(SVGWriter.n(inner))\" fill=\"\(theme.background)\"/>")
            }
        }
        // Legend beside the pie: the first 10 slices.
        let x = cx + radius + 24
        for (index, label) in chart.labels.prefix(10).enumerated() {
            let y = 56 + Double(index) * 20
            body.append("<rect class=\"s\(index % theme.palette.count)\" x=\"\(SVGWriter.n(x))\" y=\"\(SVGWriter.n(y - 9))\" width=\"10\" height=\"10\" fill=\"\(colour(index))\"/>")
            let value = values[safe: index] ?? 0
            text("\(ValueFormat.label(label, chart.labelFormat)) · \(ValueFormat.share(value / total))", x: x + 16, y: y, size: 11, weight: nil,
                 anchor: "start", limit: Int((width - x - 24) / 6.5))
        }
    }

    mutating func drawScatter() {
        let p = plot
        let ys = chart.series.first?.values ?? []
        let points = zip(chart.xValues, ys).compactMap { x, y in y.map { (x, $0) } }
        let xScale = LinearScale(low: points.map(\.0).min() ?? 0, high: points.map(\.0).max() ?? 1)
        let yScale = LinearScale(low: points.map(\.1).min() ?? 0, high: points.map(\.1).max() ?? 1)
        valueAxis(yScale)
        for tick in xScale.ticks {
            let x = xScale.position(tick, from: p.left, to: p.right)
            text(ValueFormat.axis(tick, .number), x: x, y: p.bottom + 16, size: 11, weight: nil, anchor: "middle", limit: 12, muted: true)
        }
        for point in points {
            body.append("<circle class=\"s0\" cx=\"\(SVGWriter.n(xScale.position(point.0, from: p.left, to: p.right)))\" "
                + "cy=\"\(SVGWriter.n(yScale.position(point.1, from: p.bottom, to: p.top)))\" r=\"3.5\" fill=\"\(colour(0))\" fill-opacity=\"0.75\"/>")
        }
    }

    mutating func drawKPI() {
        guard let value = chart.series.first?.values.first.flatMap({ $0 }) else {
            text("No data", x: width / 2, y: height / 2, size: 14, weight: nil, anchor: "middle", limit: 40, muted: true)
            return
        }
        text(ValueFormat.value(value, chart.valueFormat), x: width / 2, y: height * 0.5, size: min(56, height / 4), weight: "700",
             anchor: "middle", limit: 18)
        if let previous = chart.previous, previous != 0 {
            let change = (value - previous) / abs(previous)
            let up = change >= 0
            body.append("<text x=\"\(SVGWriter.n(width / 2))\" y=\"\(SVGWriter.n(height * 0.5 + 28))\" font-size=\"14\" text-anchor=\"middle\" "
                + "fill=\"\(up ? "#059669" : "#dc2626")\">\(up ? "▲" : "▼") \(SVGWriter.escape(ValueFormat.share(abs(change)))) vs previous period</text>")
        }
        if chart.sparkline.count > 1 {
            let scale = LinearScale(low: chart.sparkline.min()!, high: chart.sparkline.max()!)
            let left = width * 0.2, right = width * 0.8, bottom = height - 16, top = height - 56
            let path = chart.sparkline.enumerated().map { index, v in
                "\(index == 0 ? "M" : "L")\(SVGWriter.n(left + (right - left) * Double(index) / Double(chart.sparkline.count - 1))) \(SVGWriter.n(scale.position(v, from: bottom, to: top)))"
            }.joined(separator: " ")
            body.append("<path class=\"s0\" d=\"\(path)\" fill=\"none\" stroke=\"\(colour(0))\" stroke-width=\"1.5\"/>")
        }
    }

    mutating func drawTable() {
        guard !chart.headers.isEmpty else {
            text("No data", x: width / 2, y: height / 2, size: 14, weight: nil, anchor: "middle", limit: 40, muted: true)
            return
        }
        let columnWidth = (width - 32) / Double(chart.headers.count)
        let limit = max(3, Int(columnWidth / 7))
        for (index, header) in chart.headers.enumerated() {
            text(header, x: 16 + columnWidth * Double(index), y: 52, size: 12, weight: "600", anchor: "start", limit: limit)
        }
        body.append("<line class=\"grid\" x1=\"16\" y1=\"58\" x2=\"\(SVGWriter.n(width - 16))\" y2=\"58\" stroke=\"\(theme.grid)\"/>")
        let fitting = max(1, Int((height - 80) / 20))
        for (r, row) in chart.rows.prefix(fitting).enumerated() {
            for (index, cell) in row.prefix(chart.headers.count).enumerated() {
                text(cell, x: 16 + columnWidth * Double(index), y: 76 + Double(r) * 20, size: 11, weight: nil, anchor: "start", limit: limit)
            }
        }
        if chart.rows.count > fitting {
            text("+\(chart.rows.count - fitting) more rows", x: 16, y: height - 10, size: 11, weight: nil, anchor: "start", limit: 40, muted: true)
        }
    }

    // MARK: Text

    /// XML text and attribute escaping.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // XML 1.0 has no place for most control characters.
                if scalar.value < 0x20, scalar != "\t", scalar != "\n", scalar != "\r" { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// A coordinate with at most two decimals, no trailing zeros.
    static func n(_ value: Double) -> String {
        let rounded = (value * 100).rounded() / 100
        if rounded == rounded.rounded() { return String(Int(rounded)) }
        var text = String(format: "%.2f", rounded)
        while text.hasSuffix("0") { text.removeLast() }
        return text
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
