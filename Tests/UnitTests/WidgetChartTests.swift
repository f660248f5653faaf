import Charts
import Dashboards
import JSONValues
import XCTest

/// Widget data as charts: a KPI over periods shows the latest with its change and a sparkline.
final class WidgetChartTests: XCTestCase {
    let columns: JSON = [
        ["name": "month", "type": "date", "role": "dimension", "label": "Day (month)"],
        ["name": "total", "type": "number", "role": "measure", "label": "Total Amount"],
    ]

    func testAKPIOverPeriodsShowsTheLatestAgainstThePrevious() {
        let data: JSON = ["columns": columns, "rows": [["2024-01-01", 10], ["2024-02-01", 12], ["2024-03-01", 15]]]
        let chart = WidgetChart.chart(widget: ["type": "kpi", "title": "Revenue"], data: data)
        XCTAssertEqual(chart.series.first?.values, [15])
        XCTAssertEqual(chart.previous, 12)
        XCTAssertEqual(chart.sparkline, [10, 12, 15])
        let svg = SVGRenderer.render(chart)
        XCTAssertTrue(svg.contains("▲ 25% vs previous period"), svg)
        XCTAssertTrue(svg.contains("fill=\"none\" stroke="), "a sparkline")
    }

    func testAKPIWithoutPeriodsIsOneNumber() {
        let measure: JSON = ["name": "total", "type": "number", "role": "measure", "label": "Total Amount"]
        let data: JSON = ["columns": [measure], "rows": [[42]]]
        let chart = WidgetChart.chart(widget: ["type": "kpi", "title": "Revenue"], data: data)
        XCTAssertEqual(chart.series.first?.values, [42])
        XCTAssertNil(chart.previous)
        XCTAssertFalse(SVGRenderer.render(chart).contains("vs previous period"))
        // One period only: nothing to compare with.
        let single = WidgetChart.chart(widget: ["type": "kpi", "title": "Revenue"], data: ["columns": columns, "rows": [["2024-01-01", 10]]])
        XCTAssertEqual(single.series.first?.values, [10])
        XCTAssertNil(single.previous)
    }
}
