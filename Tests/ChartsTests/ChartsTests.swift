import Charts
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// Server-side SVG charts: one golden file per kind (`Tests/fixtures/charts/*.svg`; run with
/// `ASSAY_UPDATE_GOLDEN=1` to rewrite them after a deliberate change, and look at them), well-
/// formed XML, escaping, determinism, empty and single-point data.
final class ChartsTests: XCTestCase {
    static let months = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01"]

    static let samples: [(String, ChartData)] = [
        ("bar", ChartData(kind: .bar, title: "Total amount by customer", labels: ["Acme Corporation International", "Beta", "Gamma"],
                          series: [.init(name: "Total amount", values: [12_500, 8_250.5, 300])], valueFormat: .currency("EUR"))),
        ("grouped_bar", ChartData(kind: .bar, title: "Units and returns", labels: ["North", "South"],
                                  series: [.init(name: "Units", values: [10, 7]), .init(name: "Returns", values: [2, nil])])),
        ("stacked_bar", ChartData(kind: .stackedBar, title: "Sales by region", labels: ["Q1", "Q2", "Q3"],
                                  series: [.init(name: "North", values: [3, 4, 5]), .init(name: "South", values: [1, 2, 3])])),
        ("horizontal_bar", ChartData(kind: .horizontalBar, title: "Top customers", labels: ["Acme", "Beta"],
                                     series: [.init(name: "Total", values: [1_200_000, 450_000])])),
        ("line", ChartData(kind: .line, title: "Revenue by month", labels: months,
                           series: [.init(name: "Revenue", values: [100, 140, 90, 210, 180, 260]),
                                    .init(name: "Costs", values: [80, 90, 95, nil, 120, 130])], labelFormat: .date)),
        ("area", ChartData(kind: .area, title: "Signups", labels: months, series: [.init(name: "Signups", values: [1, 3, 2, 8, 13, 21])],
                           labelFormat: .date)),
        ("pie", ChartData(kind: .pie, title: "Share by channel", labels: ["Web", "Shop", "Phone"],
                          series: [.init(name: "Orders", values: [50, 30, 20])])),
        ("donut", ChartData(kind: .donut, title: "Paid invoices", labels: ["Paid", "Open"], series: [.init(name: "Invoices", values: [3, 1])])),
        ("scatter", ChartData(kind: .scatter, title: "Price against units", series: [.init(name: "Price", values: [2.5, 4, 1, 100])],
                              xValues: [10, 5, 7, 1])),
        ("histogram", ChartData(kind: .histogram, title: "Distribution of amount", labels: ["0", "10", "20", "30"],
                                series: [.init(name: "Count", values: [4, 9, 3, 1])])),
        ("kpi", ChartData(kind: .kpi, title: "Total revenue", series: [.init(name: "Total", values: [1_234_567.891])],
                          valueFormat: .currency("USD"), previous: 1_000_000, sparkline: [1, 3, 2, 5, 4, 6])),
        ("table", ChartData(kind: .table, title: "Invoices", headers: ["Customer", "Amount"],
                            rows: [["Acme", "1,200.00"], ["Beta", "90.50"]])),
    ]

    func testEveryKindMatchesItsGoldenFile() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/charts")
        let update = ProcessInfo.processInfo.environment["ASSAY_UPDATE_GOLDEN"] == "1"
        for (name, chart) in Self.samples {
            let svg = SVGRenderer.render(chart)
            let file = folder.appendingPathComponent("\(name).svg")
            if update { try svg.write(to: file, atomically: true, encoding: .utf8) }
            let golden = try String(contentsOf: file, encoding: .utf8)
            XCTAssertEqual(svg, golden, "\(name).svg differs from its golden file")
        }
        let dark = SVGRenderer.render(Self.samples[0].1, theme: .dark)
        XCTAssertTrue(dark.contains("assay-theme-dark") && dark.contains(ChartTheme.dark.palette[0]))
    }

    func testEveryChartIsWellFormedAccessibleXML() {
        for (name, chart) in Self.samples {
            let svg = SVGRenderer.render(chart)
            let parser = XMLParser(data: Data(svg.utf8))
            XCTAssertTrue(parser.parse(), "\(name): \(parser.parserError.map { "\($0)" } ?? "")")
            XCTAssertTrue(svg.contains("role=\"img\""), name)
            XCTAssertTrue(svg.contains("<title id="), name)
            XCTAssertTrue(svg.contains("<desc id="), name)
        }
    }

    func testLabelsAreTextNeverMarkup() {
        let chart = ChartData(kind: .bar, title: "<script>alert('t')</script>", labels: ["<script>alert(1)</script>", "a&b \"q\""],
                              series: [.init(name: "x</text><script>", values: [1, 2])])
        let svg = SVGRenderer.render(chart)
        XCTAssertFalse(svg.contains("<script"))
        XCTAssertTrue(svg.contains("&lt;script&gt;"))
        XCTAssertTrue(XMLParser(data: Data(svg.utf8)).parse())
    }

    func testSameDataGivesTheSameBytes() {
        for (_, chart) in Self.samples {
            XCTAssertEqual(SVGRenderer.render(chart), SVGRenderer.render(chart))
        }
    }

    func testResolvedColoursDropOnlyTheStyleSheet() {
        for (name, chart) in Self.samples {
            for theme in [ChartTheme.light, .dark] {
                let web = SVGRenderer.render(chart, theme: theme)
                let resolved = SVGRenderer.render(chart, theme: theme, colours: .resolved)
                XCTAssertFalse(resolved.contains("<style") || resolved.contains("var("), "\(name): no CSS variables for librsvg")
                XCTAssertTrue(resolved.contains("fill=\"\(theme.background)\""), "\(name): the theme's colours are attributes")
                let withoutStyle = web.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("<style>") }.joined(separator: "\n")
                XCTAssertEqual(resolved, withoutStyle, "\(name): everything else is the web's chart")
            }
        }
    }

    func testEmptyAndSinglePointData() {
        let empty = SVGRenderer.render(ChartData(kind: .line, title: "Nothing", labels: [], series: []))
        XCTAssertTrue(empty.contains(">No data<"))
        let one = SVGRenderer.render(ChartData(kind: .line, title: "One", labels: ["2024-01-01"], series: [.init(name: "n", values: [5])]))
        XCTAssertTrue(one.contains("<circle"))
        XCTAssertTrue(XMLParser(data: Data(one.utf8)).parse())
        let zeroPie = SVGRenderer.render(ChartData(kind: .pie, title: "Zero", labels: ["a"], series: [.init(name: "n", values: [0])]))
        XCTAssertTrue(zeroPie.contains(">No data<"))
    }

    func testLongLabelsAreCutWithTheFullTextInATitle() {
        let long = String(repeating: "Very long customer name ", count: 4)
        let svg = SVGRenderer.render(ChartData(kind: .bar, title: "Long", labels: [long, "b"], series: [.init(name: "n", values: [1, 2])]))
        XCTAssertTrue(svg.contains("…"))
        XCTAssertTrue(svg.contains("<title>\(long)</title>"))
    }
}
