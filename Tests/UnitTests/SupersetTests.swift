import JSONValues
import Superset
import XCTest

/// The pure parts of the Superset client: Superset's error bodies, viz types, chart params,
/// SQLAlchemy URIs and Rison queries.
final class SupersetTests: XCTestCase {
    func message(_ text: String, status: Int = 422) -> String {
        SupersetError.message(fromBody: Array(text.utf8), status: status)
    }

    func testErrorMessagesAreReadFromEveryShapeSupersetAnswersWith() {
        XCTAssertEqual(message(#"{"message": "Dataset warehouse.t already exists"}"#), "Dataset warehouse.t already exists")
        XCTAssertEqual(message(#"{"message": {"database_name": ["A database with the same name already exists."]}}"#),
                       "database_name: A database with the same name already exists.")
        XCTAssertEqual(message(#"{"errors": [{"message": "Connection failed", "error_type": "GENERIC"}, {"message": "second"}]}"#),
                       "Connection failed; second")
        XCTAssertEqual(message(#"{"msg": "Signature verification failed"}"#), "Signature verification failed")
        XCTAssertEqual(message("<!doctype html><html><head><title>500: Internal server error | Superset</title></head></html>", status: 500),
                       "Superset answered HTTP 500: 500: Internal server error | Superset")
        XCTAssertEqual(message("", status: 503), "Superset answered HTTP 503")
        XCTAssertEqual(message(#"{"result": []}"#, status: 400), "Superset answered HTTP 400")
    }

    func testLongMessagesAreClipped() {
        let long = String(repeating: "x", count: 2000)
        XCTAssertLessThanOrEqual(message(#"{"message": "\#(long)"}"#).count, 501)
    }

    func testAPasswordInSupersetsWordsIsBlankedOut() {
        let error = SupersetError(.rejected, "could not connect as u:s3cret-pw@db", status: 422).redacting("s3cret-pw")
        XCTAssertEqual(error.message, "could not connect as u:****@db")
        XCTAssertEqual(error.status, 422)
    }

    func testOnlyRefusedCallerInputCountsAsTheCallersMistake() {
        XCTAssertTrue(SupersetError(.rejected, "dup", status: 422).isCallersMistake)
        XCTAssertFalse(SupersetError(.rejected, "boom", status: 500).isCallersMistake)
        XCTAssertFalse(SupersetError(.rejected, "forbidden", status: 403).isCallersMistake)
        XCTAssertFalse(SupersetError(.unreachable, "down").isCallersMistake)
    }

    func testATokenRefusalIsA401OrFlaskJWTs422ButNotSupersetsOwn422() {
        XCTAssertTrue(SupersetClient.isTokenRefusal(status: 401, body: Array(#"{"message": "Not authorized"}"#.utf8)))
        XCTAssertTrue(SupersetClient.isTokenRefusal(status: 422, body: Array(#"{"msg": "Signature verification failed"}"#.utf8)))
        XCTAssertFalse(SupersetClient.isTokenRefusal(status: 422, body: Array(#"{"message": "already exists"}"#.utf8)))
        XCTAssertFalse(SupersetClient.isTokenRefusal(status: 500, body: []))
    }

    func testWidgetTypesMapToSuperset61VizTypes() {
        XCTAssertEqual(ChartParams.vizType(forWidget: "bar"), "echarts_timeseries_bar")
        XCTAssertEqual(ChartParams.vizType(forWidget: "line"), "echarts_timeseries_line")
        XCTAssertEqual(ChartParams.vizType(forWidget: "pie"), "pie")
        XCTAssertEqual(ChartParams.vizType(forWidget: "kpi"), "big_number_total")
        XCTAssertEqual(ChartParams.vizType(forWidget: "table"), "table")
        XCTAssertEqual(ChartParams.vizType(forWidget: "something new"), "table")
    }

    func testABarWidgetPutsItsDimensionOnTheXAxisAndItsMeasuresAsMetrics() throws {
        let widget: JSON = ["type": "bar", "title": "Sales by region",
                            "query": ["dimensions": ["region"], "measures": [["op": "sum", "column": "amount"], ["op": "count"]], "limit": 50]]
        let chart = ChartParams(widget: widget, datasetID: 7)
        XCTAssertEqual(chart.vizType, "echarts_timeseries_bar")
        // Superset stores params as a JSON string that parses back to the form data.
        let params = try JSON.parse(Array(chart.paramsText.utf8))
        XCTAssertEqual(params["datasource"], "7__table")
        XCTAssertEqual(params["viz_type"], "echarts_timeseries_bar")
        XCTAssertEqual(params["x_axis"], "region")
        XCTAssertEqual(params["row_limit"], 50)
        guard case .array(let metrics)? = params["metrics"] else { return XCTFail("no metrics") }
        XCTAssertEqual(metrics.count, 2)
        XCTAssertEqual(metrics[0]["aggregate"], "SUM")
        XCTAssertEqual(metrics[0]["column"]?["column_name"], "amount")
        XCTAssertEqual(metrics[0]["label"], "sum_amount")
        XCTAssertEqual(metrics[1]["sqlExpression"], "COUNT(*)")
    }

    func testALineOverMonthsGetsAMonthlyTimeGrain() {
        let widget: JSON = ["type": "line", "query": ["dimensions": [["column": "day", "bucket": "month"]], "measures": [["op": "avg", "column": "v"]]]]
        let chart = ChartParams(widget: widget, datasetID: 1)
        XCTAssertEqual(chart.params["time_grain_sqla"], "P1M")
        XCTAssertEqual(chart.params["x_axis"], "day")
    }

    func testPieKPIAndTableParams() {
        let pie = ChartParams(widget: ["type": "pie", "query": ["dimensions": ["kind"], "measures": [["op": "count"]]]], datasetID: 3)
        XCTAssertEqual(pie.params["groupby"], ["kind"])
        XCTAssertEqual(pie.params["metric"]?["label"], "count")
        let kpi = ChartParams(widget: ["type": "kpi", "title": "Total", "query": ["measures": [["op": "max", "column": "n", "as": "top"]]]], datasetID: 3)
        XCTAssertEqual(kpi.params["metric"]?["aggregate"], "MAX")
        XCTAssertEqual(kpi.params["metric"]?["label"], "top")
        let rows = ChartParams(widget: ["type": "table", "query": ["columns": ["a", "b"]]], datasetID: 3)
        XCTAssertEqual(rows.params["query_mode"], "raw")
        XCTAssertEqual(rows.params["all_columns"], ["a", "b"])
        let median = ChartParams(widget: ["type": "kpi", "query": ["measures": [["op": "median", "column": "we\"ird"]]]], datasetID: 3)
        XCTAssertEqual(median.params["metric"]?["sqlExpression"], "percentile_cont(0.5) WITHIN GROUP (ORDER BY \"we\"\"ird\")")
    }

    func testThePositionJSONPlacesChartsInRowsOfTwelveColumns() throws {
        let text = ChartParams.positionJSON(title: "Sales", charts: [
            (chartID: 11, name: "A", layout: ["x": 0, "y": 0, "w": 6, "h": 4]),
            (chartID: 12, name: "B", layout: ["x": 6, "y": 0, "w": 6, "h": 4]),
            (chartID: 13, name: "C", layout: ["x": 0, "y": 4, "w": 12, "h": 4]),
        ])
        let position = try JSON.parse(Array(text.utf8))
        XCTAssertEqual(position["GRID_ID"]?["children"], ["ROW-1", "ROW-2"])
        XCTAssertEqual(position["ROW-1"]?["children"], ["CHART-11", "CHART-12"])
        XCTAssertEqual(position["CHART-13"]?["meta"]?["chartId"], 13)
        XCTAssertEqual(position["CHART-13"]?["meta"]?["width"], 12)
        XCTAssertEqual(position["HEADER_ID"]?["meta"]?["text"], "Sales")
    }

    func testURIsEscapeCredentialsAndUseSocketsAsAHostParameter() {
        XCTAssertEqual(SupersetURI.make(driver: "postgresql+psycopg2", user: "u", password: "p@ss:/word", host: "db.example", port: 5432,
                                        database: "sales", query: [("sslmode", "require")]),
                       "postgresql+psycopg2://u:p%40ss%3A%2Fword@db.example:5432/sales?sslmode=require")
        XCTAssertEqual(SupersetURI.make(driver: "postgresql+psycopg2", user: "r", password: "x", host: "", port: nil, database: "assay",
                                        query: [("host", "/tmp/pg run"), ("port", "5432")]),
                       "postgresql+psycopg2://r:x@/assay?host=/tmp/pg%20run&port=5432")
        XCTAssertEqual(SupersetURI.make(driver: "mysql+pymysql", user: "u", password: "p", host: "::1", port: 3306, database: "d"),
                       "mysql+pymysql://u:p@[::1]:3306/d")
    }

    func testHostsAreSplitAndReadFromDatabaseURLs() {
        XCTAssertTrue(SupersetURI.splitHost("db:6543") == ("db", 6543))
        XCTAssertTrue(SupersetURI.splitHost("[::1]:6543") == ("::1", 6543))
        XCTAssertTrue(SupersetURI.splitHost("/var/run/pg") == ("/var/run/pg", nil))
        XCTAssertTrue(SupersetURI.hostOf(databaseURL: "postgresql://a:b@/assay?host=/tmp/s&port=19432")! == ("/tmp/s", 19432))
        XCTAssertTrue(SupersetURI.hostOf(databaseURL: "postgresql://a:b@db.internal:5433/assay")! == ("db.internal", 5433))
        XCTAssertTrue(SupersetURI.hostOf(databaseURL: "host=/run/pg port=6000 dbname=assay")! == ("/run/pg", 6000))
        XCTAssertNil(SupersetURI.hostOf(databaseURL: "dbname=assay"))
    }

    func testRisonQuotesAndEscapes() {
        XCTAssertEqual(SupersetURI.risonString("it's!"), "'it!'s!!'")
        XCTAssertEqual(SupersetURI.listQuery(filters: [("database_name", "eq", SupersetURI.risonString("a b"))], pageSize: 1),
                       "(filters:!((col:database_name,opr:eq,value:'a%20b')),page_size:1)")
    }

    func testWarehouseRolesAreNamedByTeam() {
        let team = UUID(uuidString: "12345678-9ABC-DEF0-1234-56789ABCDEF0")!
        XCTAssertEqual(SupersetSync.warehouseRole(team: team), "assay_superset_123456789abcdef0123456789abcdef0")
    }
}
