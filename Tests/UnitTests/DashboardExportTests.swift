import Dashboards
import Data
import Exporters
import Foundation
import JSONValues
import XCTest

/// Dashboard exports drawn from a dashboard whose widgets' data is given (no database): the
/// PDF read back with poppler (text of the header, the charts' titles and axis labels, the
/// data tables' headers on every page, vector paths and no raster image), the PNG's size, the
/// .xlsx's chart parts and typed cells, the JSON's shape; and the pure pieces (grid bands, the
/// row bound that decides stream or job, filters in words).
final class DashboardExportTests: TemporaryFolderTestCase {
    // MARK: - The sample dashboard

    static let months = ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01"]

    static func column(_ name: String, _ type: String, _ role: String, _ label: String) -> JSON {
        ["name": .string(name), "type": .string(type), "role": .string(role), "label": .string(label)]
    }

    static func widget(_ id: String, _ type: String, _ title: String, _ layout: (Int, Int, Int, Int)) -> JSON {
        ["id": .string(id), "type": .string(type), "title": .string(title), "table": "6f1c9b3e-0000-4000-8000-000000000001",
         "query": ["measures": [["op": "count"]]],
         "layout": ["x": .int(Int64(layout.0)), "y": .int(Int64(layout.1)), "w": .int(Int64(layout.2)), "h": .int(Int64(layout.3))]]
    }

    /// Two KPIs, a line, bars, a pie, a scatter, a histogram, a 300-row table and a widget
    /// whose table is gone; widgets and data as `Dashboards.data` gives them.
    static let sample: (record: DashboardRecord, results: [JSON]) = {
        let widgets: [JSON] = [
            widget("w1", "kpi", "Number of rows", (0, 0, 3, 2)),
            widget("w2", "kpi", "Total Price", (3, 0, 3, 2)),
            widget("w3", "line", "Total Price by month", (0, 2, 6, 4)),
            widget("w4", "bar", "Total Price by Customer", (6, 2, 6, 4)),
            widget("w5", "pie", "Orders by channel", (0, 6, 6, 4)),
            widget("w6", "scatter", "Price against units", (6, 6, 6, 4)),
            widget("w7", "histogram", "Distribution of Price", (0, 10, 6, 4)),
            widget("w8", "table", "Orders", (0, 14, 12, 6)),
            widget("w9", "bar", "Gone", (6, 10, 6, 4)),
        ]
        let orders: [JSON] = (0..<300).map { index in
            [.string("ORD-\(10_000 + index)"), .string("2024-0\(index % 6 + 1)-1\(index % 9)"), .double(Double(index) * 1.25 + 0.5),
             .bool(index % 3 == 0)]
        }
        let results: [JSON] = [
            ["columns": [column("count", "number", "measure", "Number of rows")], "rows": [[1200]], "truncated": false],
            ["columns": [column("sum_price", "number", "measure", "Total Price")], "rows": [[45678.5]], "truncated": false],
            ["columns": [column("day_month", "date", "dimension", "Day (month)"), column("sum_price", "number", "measure", "Total Price")],
             "rows": .array(zip(months, [100, 140.5, 90, 210, 180, 260]).map { [.string($0), .double($1)] }), "truncated": false],
            ["columns": [column("customer", "text", "dimension", "Customer"), column("sum_price", "number", "measure", "Total Price")],
             "rows": [["Acme", 12500.25], ["Beta", 8250], ["Gamma Ltd", 300]], "truncated": false],
            ["columns": [column("channel", "text", "dimension", "Channel"), column("count", "number", "measure", "Orders")],
             "rows": [["Web", 50], ["Shop", 30], ["Phone", 20]], "truncated": false],
            ["columns": [column("units", "number", "column", "Units"), column("price", "number", "column", "Price")],
             "rows": [[1, 2.5], [4, 4], [7, 1], [10, 9.75]], "truncated": false],
            ["columns": [column("price_bin", "number", "dimension", "Price (bins)"), column("count", "number", "measure", "Count")],
             "rows": [[0, 4], [10, 9], [20, 3], [30, 1]], "truncated": false],
            ["columns": [column("order_no", "text", "column", "Order"), column("day", "date", "column", "Day"),
                         column("price", "number", "column", "Price"), column("paid", "boolean", "column", "Paid")],
             "rows": .array(orders), "truncated": true],
            ["error": ["code": "table_missing", "message": "the widget's table no longer exists"]],
        ]
        let config: JSON = ["widgets": .array(widgets), "filters": [["column": "customer", "op": "=", "value": "Acme"]]]
        let record = DashboardRecord(id: UUID(uuidString: "0d0d0d0d-0000-4000-8000-000000000001")!,
                                     teamID: UUID(uuidString: "0d0d0d0d-0000-4000-8000-000000000002")!,
                                     title: "Sales overview", theme: "light", config: config.serializedText,
                                     sources: "{\"document_id\": \"0d0d0d0d-0000-4000-8000-000000000003\"}")
        return (record, results)
    }()

    private func export(data: Bool = true) -> DashboardExport {
        DashboardExport(Self.sample.record, results: data ? Self.sample.results : nil, tables: [],
                        exportedAt: Date(timeIntervalSince1970: 1_717_171_717))
    }

    private func write(_ format: String, options: JSON = [:], includeData: Bool = true) throws -> String {
        var reader = FieldReader(["format": .string(format), "include_data": .bool(includeData), "options": options])
        let spec = DashboardExportSpec.read(&reader)
        try reader.finish()
        let path = "\(folder!)/dashboard.\(spec.fileExtension)"
        try export(data: true).write(spec, to: path, tempDirectory: folder)
        return path
    }

    // MARK: - PDF

    func testPDFHasTheHeaderVectorChartsAndPaginatedDataTables() throws {
        let path = try write("pdf")
        let text = try run("pdftotext", ["-layout", path, "-"])
        for expected in ["Sales overview", "Filters", "customer = Acme", "Exported at", "Number of rows", "1,200",
                         "Total Price by month", "Total Price by Customer", "Acme", "Gamma Ltd", "Orders by channel",
                         "Price against units", "Distribution of Price", "Jan 2024", "could not be read",
                         "Data: Orders", "ORD-10299", "the first 300"] {
            XCTAssertTrue(text.contains(expected), "\(expected) missing from the PDF's text")
        }
        // The data tables' header is on every page they run to.
        let pages = text.components(separatedBy: "\u{0C}").filter { $0.contains("ORD-1") }
        XCTAssertGreaterThan(pages.count, 1, "300 rows should take more than one page")
        for page in pages { XCTAssertTrue(page.contains("Order") && page.contains("Paid"), "a page of orders without the header") }
        // Charts are vectors and text, not pictures.
        XCTAssertEqual(try run("pdfimages", ["-list", path]).split(separator: "\n").count, 2, "the PDF should hold no raster image")
        let operators = try pathOperators(path)
        XCTAssertGreaterThan(operators, 200, "the charts should be drawn as paths")
        // Each page renders.
        let pngs = "\(folder!)/page"
        _ = try run("pdftoppm", ["-r", "30", "-png", path, pngs])
        let rendered = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasPrefix("page") && $0.hasSuffix(".png") }
        XCTAssertEqual(rendered.count, try pageCount(path))
    }

    func testPDFWithoutDataHasOnlyTheCharts() throws {
        let path = try write("pdf", options: ["orientation": "portrait", "page_size": "letter"], includeData: false)
        let text = try run("pdftotext", ["-layout", path, "-"])
        XCTAssertTrue(text.contains("Total Price by Customer"))
        XCTAssertFalse(text.contains("Data: Orders"))
        XCTAssertTrue(try run("pdfinfo", [path]).contains("612 x 792"), "letter, portrait")
    }

    // MARK: - PNG

    func testPNGIsOneImageOfTheWholeDashboardAtTheWidthAsked() throws {
        let path = try write("png", options: ["width": 1000])
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let width = bytes[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = bytes[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(width, 1000)
        // Nine widgets in six bands below a header: taller than wide.
        XCTAssertGreaterThan(height, width)
        XCTAssertLessThan(height, 4 * width)
    }

    // MARK: - Excel

    func testWorkbookHasAboutSheetTypedDataAndNativeCharts() throws {
        let path = try write("excel")
        let listing = try run("unzip", ["-l", path])
        for index in 1...5 { XCTAssertTrue(listing.contains("xl/charts/chart\(index).xml"), "chart\(index) missing") }
        XCTAssertFalse(listing.contains("xl/charts/chart6.xml"), "KPIs, tables and a widget without data get no chart")
        let charts = try (1...5).map { try run("unzip", ["-p", path, "xl/charts/chart\($0).xml"]) }.joined()
        for kind in ["c:lineChart", "c:barChart", "c:pieChart", "c:scatterChart"] { XCTAssertTrue(charts.contains(kind), kind) }
        XCTAssertTrue(charts.contains("'Total Price by month'!$B$2:$B$7"), "the line's values are the sheet's cells")
        XCTAssertTrue(charts.contains("<c:numCache>"), "charts carry their data cache")

        let script = """
        import json, sys, datetime, openpyxl
        book = openpyxl.load_workbook(sys.argv[1])
        def value(v):
            return v.isoformat() if isinstance(v, (datetime.date, datetime.datetime)) else v
        out = {"sheets": book.sheetnames}
        for name in book.sheetnames:
            out[name] = [[value(c.value) for c in row] for row in book[name].iter_rows(max_row=3)]
        out["types"] = [type(book["Total Price by month"]["A2"].value).__name__, type(book["Total Price by month"]["B2"].value).__name__]
        print(json.dumps(out))
        """
        guard let output = try? run("python3", ["-c", script, path]) else { throw XCTSkip("python3 with openpyxl is missing") }
        let book = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        XCTAssertEqual(book["sheets"] as? [String], ["About", "Number of rows", "Total Price", "Total Price by month",
                                                   "Total Price by Customer", "Orders by channel", "Price against units",
                                                   "Distribution of Price", "Orders", "Gone"])
        let types = try XCTUnwrap(book["types"] as? [String])
        XCTAssertEqual(types[0], "datetime", "a month is a date")
        XCTAssertTrue(["int", "float"].contains(types[1]), "a sum is a number, not \(types[1])")
        let about = try XCTUnwrap(book["About"] as? [[Any]])
        XCTAssertEqual(about[1][1] as? String, "Sales overview")
        let kpi = try XCTUnwrap(book["Total Price"] as? [[Any]])
        XCTAssertEqual(kpi[1][0] as? String, "Total Price")
        XCTAssertEqual(kpi[1][1] as? Double, 45678.5)
        let orders = try XCTUnwrap(book["Orders"] as? [[Any]])
        XCTAssertEqual(orders[0] as? [String], ["Order", "Day", "Price", "Paid"])
        XCTAssertEqual(orders[1][3] as? Bool, true)
        XCTAssertEqual(orders[1][1] as? String, "2024-01-10T00:00:00")
    }

    // MARK: - JSON

    func testJSONIsTheDashboardWithItsData() throws {
        let path = try write("json")
        let body = try JSON.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: path))))
        XCTAssertEqual(body["title"], "Sales overview")
        XCTAssertEqual(body["exported_at"], .string(PostgresTime.format(Date(timeIntervalSince1970: 1_717_171_717))))
        guard case .array(let widgets)? = body["widgets"] else { return XCTFail("no widgets") }
        XCTAssertEqual(widgets.count, 9)
        XCTAssertEqual(widgets[0]["data"]?["rows"], [[1200]])
        XCTAssertEqual(widgets[8]["data"]?["error"]?["code"], "table_missing")
        XCTAssertEqual(body["filters"], [["column": "customer", "op": "=", "value": "Acme"]])

        let bare = try write("json", includeData: false)
        let plain = try JSON.parse([UInt8](Data(contentsOf: URL(fileURLWithPath: bare))))
        guard case .array(let configured)? = plain["widgets"] else { return XCTFail("no widgets") }
        XCTAssertNil(configured[0]["data"])
        XCTAssertNotNil(configured[0]["query"])
    }

    // MARK: - The request

    func testBadRequestsNameTheirFields() {
        var reader = FieldReader(["format": "docx", "include_data": "yes"])
        _ = DashboardExportSpec.read(&reader)
        XCTAssertEqual(Set(reader.errors.map(\.0)), ["format", "include_data"])
        reader = FieldReader(["format": "png", "options": ["width": 10, "page_size": "a4"]])
        _ = DashboardExportSpec.read(&reader)
        XCTAssertEqual(Set(reader.errors.map(\.0)), ["options.width", "options.page_size"])
        reader = FieldReader(["format": "json", "options": ["ndjson": true]])
        _ = DashboardExportSpec.read(&reader)
        XCTAssertEqual(reader.errors.first?.1, "is not an option of json; it takes none")
        // What a job stores reads back as the same spec.
        reader = FieldReader(["format": "pdf", "include_data": false, "options": ["orientation": "portrait"]])
        let spec = DashboardExportSpec.read(&reader)
        let again = DashboardExportSpec.stored(format: "pdf", options: spec.stored)
        XCTAssertEqual(again?.includeData, false)
        XCTAssertEqual(again?.pdf.orientation, .portrait)
    }

    // MARK: - Pure pieces

    func testGridBandsKeepRowsTogetherAndFitAPage() {
        let places = [DashboardLayout.Place(x: 0, y: 0, w: 3, h: 2), DashboardLayout.Place(x: 3, y: 0, w: 3, h: 2),
                      DashboardLayout.Place(x: 0, y: 2, w: 6, h: 4), DashboardLayout.Place(x: 6, y: 3, w: 6, h: 4),
                      DashboardLayout.Place(x: 0, y: 20, w: 12, h: 40)]
        let layout = DashboardLayout(places, width: 1200, maxHeight: 600)
        XCTAssertEqual(layout.bands.map { $0.cells.map(\.widget) }, [[0, 1], [2, 3], [4]])
        // A row is 100 × 27/32 points; the second band spans rows 2…7.
        XCTAssertEqual(layout.bands[0].height, 2 * 84.375, accuracy: 0.001)
        XCTAssertEqual(layout.bands[1].height, 5 * 84.375, accuracy: 0.001)
        XCTAssertEqual(layout.bands[1].cells[1].box.y, 84.375 + DashboardLayout.gap / 2, accuracy: 0.001)
        XCTAssertEqual(layout.bands[0].cells[1].box.x, 300 + DashboardLayout.gap / 2, accuracy: 0.001)
        // Forty rows would be 3,375 points: squeezed into the page, full width kept.
        XCTAssertEqual(layout.bands[2].height, 600, accuracy: 0.001)
        XCTAssertEqual(layout.bands[2].cells[0].box.width, 1200 - DashboardLayout.gap, accuracy: 0.001)
    }

    func testRowBoundCountsEachWidgetsLimitCappedByItsTable() {
        let small = UUID(), large = UUID()
        let config: JSON = ["widgets": [
            ["table": .string(small.uuidString), "query": ["measures": [["op": "count"]]]],
            ["table": .string(large.uuidString), "query": ["dimensions": ["customer"], "measures": [["op": "count"]], "limit": 10]],
            ["table": .string(large.uuidString), "query": ["columns": ["a"]]],
            ["table": .string(small.uuidString), "query": ["columns": ["a"], "limit": 5000]],
            ["table": .string(UUID().uuidString), "query": ["columns": ["a"]]],
        ]]
        XCTAssertEqual(Dashboards.rowBound(config: config, rowCounts: [small: 40, large: 1_000_000]), 1 + 10 + 1000 + 40 + 0)
    }

    func testFiltersInWords() {
        XCTAssertEqual(DashboardExport.describe(filter: ["column": "customer", "op": "=", "value": "Acme"]), "customer = Acme")
        XCTAssertEqual(DashboardExport.describe(filter: ["column": "amount", "op": "between", "values": [10, 20.5]]), "amount between 10 and 20.5")
        XCTAssertEqual(DashboardExport.describe(filter: ["column": "customer", "op": "in", "values": ["A", "B"]]), "customer in (A, B)")
        XCTAssertEqual(DashboardExport.describe(filter: ["column": "day", "op": "last_30_days"]), "day last 30 days")
        XCTAssertEqual(DashboardExport.describe(filter: ["column": "note", "op": "is_null"]), "note is null")
    }

    // MARK: - Tools

    /// Path-building operators in the page content streams, uncompressed by qpdf.
    private func pathOperators(_ path: String) throws -> Int {
        let plain = "\(folder!)/plain.pdf"
        _ = try run("qpdf", ["--qdf", "--object-streams=disable", path, plain])
        let tokens = String(decoding: try Data(contentsOf: URL(fileURLWithPath: plain)), as: UTF8.self)
            .split(whereSeparator: \.isWhitespace)
        // An operator follows its numeric operands: `10 20 m`, `10 20 l`, `0 0 5 5 re`.
        return zip(tokens, tokens.dropFirst()).filter { operand, name in
            ["m", "l", "c", "re"].contains(name) && Double(operand) != nil
        }.count
    }

    private func pageCount(_ path: String) throws -> Int {
        let info = try run("pdfinfo", [path])
        let line = info.split(separator: "\n").first { $0.hasPrefix("Pages:") } ?? ""
        return try XCTUnwrap(Int(line.dropFirst("Pages:".count).trimmingCharacters(in: .whitespaces)))
    }

    private func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ExportError("\(tool) exited with \(process.terminationStatus)") }
        return String(decoding: data, as: UTF8.self)
    }
}
