import Foundation
import Observability
import XCTest

/// The shared metrics table and its Prometheus text exposition.
final class MetricsTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "assay-metrics-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func testCountersOfOneSeriesAddUpAndSeriesAreKeptApartByLabels() throws {
        let store = try MetricsStore.create(directory: directory, capacity: 64)
        store.counter(.exportRows, ["format": "csv"]).add(3)
        store.counter(.exportRows, ["format": "csv"]).add(4)
        store.counter(.exportRows, ["format": "xlsx"]).add(1)
        let text = Exposition.render(store.snapshot())
        XCTAssertTrue(text.contains("assay_export_rows_total{format=\"csv\"} 7\n"), text)
        XCTAssertTrue(text.contains("assay_export_rows_total{format=\"xlsx\"} 1\n"), text)
        XCTAssertTrue(text.contains("# TYPE assay_export_rows_total counter\n"))
        XCTAssertTrue(text.contains("# HELP assay_export_rows_total Table rows written"))
    }

    func testHistogramBucketsAreCumulativeAndCountEqualsInfBucket() throws {
        let store = try MetricsStore.create(directory: directory, capacity: 64)
        let histogram = store.histogram(.httpDuration, ["method": "GET", "route": "/api/tables/{id}/rows"])
        for seconds in [0.001, 0.005, 0.007, 0.3, 4.0, 60.0] { histogram.observe(seconds: seconds) }
        let text = Exposition.render(store.snapshot())
        let labels = "method=\"GET\",route=\"/api/tables/{id}/rows\""
        // 0.005 is in the 0.005 bucket (le is "less than or equal").
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_bucket{\(labels),le=\"0.005\"} 2\n"), text)
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_bucket{\(labels),le=\"0.01\"} 3\n"), text)
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_bucket{\(labels),le=\"0.5\"} 4\n"), text)
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_bucket{\(labels),le=\"5\"} 5\n"), text)
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_bucket{\(labels),le=\"10\"} 5\n"), text)
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} 6\n"), text)
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_count{\(labels)} 6\n"), text)
        XCTAssertTrue(text.contains("assay_http_request_duration_seconds_sum{\(labels)} 64.313\n"), text)
        // Buckets never decrease.
        var previous = -1
        for line in text.split(separator: "\n") where line.hasPrefix("assay_http_request_duration_seconds_bucket") {
            let value = Int(line.split(separator: " ").last!)!
            XCTAssertGreaterThanOrEqual(value, previous)
            previous = value
        }
    }

    func testLabelValuesAreEscapedAndGaugesRendered() throws {
        let store = try MetricsStore.create(directory: directory, capacity: 64)
        store.counter(.databaseErrors, ["kind": "a\"b\\c\nd"]).add()
        let text = Exposition.render(store.snapshot(), gauges: [
            .init(.httpInFlight, value: 2), .init(.jobsQueued, ["kind": "export.run", "status": "queued"], value: 5),
        ])
        XCTAssertTrue(text.contains("assay_database_errors_total{kind=\"a\\\"b\\\\c\\nd\"} 1\n"), text)
        XCTAssertTrue(text.contains("assay_http_requests_in_flight 2\n"), text)
        XCTAssertTrue(text.contains("assay_jobs{kind=\"export.run\",status=\"queued\"} 5\n"), text)
        XCTAssertTrue(text.contains("# TYPE assay_jobs gauge\n"))
        // Every family has its HELP and TYPE exactly once, in a fixed order.
        for family in MetricFamily.all {
            XCTAssertEqual(text.components(separatedBy: "# TYPE \(family.name) ").count, 2, family.name)
        }
    }

    func testAnotherMappingOfTheSameStoreSeesAndAddsToTheSameCounters() throws {
        let store = try MetricsStore.create(directory: directory, capacity: 64)
        store.counter(.etlRows).add(10)
        let other = try MetricsStore.attach(fd: dup(store.fd))
        other.counter(.etlRows).add(5)
        other.counter(.exportRows, ["format": "pdf"]).add(2)
        for view in [store, other] {
            let text = Exposition.render(view.snapshot())
            XCTAssertTrue(text.contains("assay_etl_rows_total 15\n"), text)
            XCTAssertTrue(text.contains("assay_export_rows_total{format=\"pdf\"} 2\n"), text)
        }
    }

    /// The pool's case: a child process counts, exits, and what it counted stays.
    func testCountsOfAChildProcessThatExitedRemainInTheParentsView() throws {
        let store = try MetricsStore.create(directory: directory, capacity: 64)
        let requests = store.counter(.httpRequests, ["method": "GET", "route": "/health", "status": "200"])
        requests.add(1)
        let pid = fork()
        XCTAssertGreaterThanOrEqual(pid, 0)
        if pid == 0 {
            // The child: one series the parent claimed, one it claims itself; then it dies.
            for _ in 0..<1000 { requests.add() }
            store.counter(.workerRecycles, ["kind": "fastcgi"]).add(3)
            _exit(0)
        }
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, 0), pid)
        XCTAssertEqual(status, 0)
        let text = Exposition.render(store.snapshot())
        XCTAssertTrue(text.contains("assay_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 1001\n"), text)
        XCTAssertTrue(text.contains("assay_worker_recycles_total{kind=\"fastcgi\"} 3\n"), text)
    }

    func testAFullTableDropsNewSeriesInsteadOfFailing() throws {
        let store = try MetricsStore.create(directory: directory, capacity: 2)
        for format in ["a", "b", "c", "d"] { store.counter(.exportRows, ["format": format]).add() }
        let text = Exposition.render(store.snapshot())
        XCTAssertTrue(text.contains("{format=\"a\"} 1\n"))
        XCTAssertTrue(text.contains("{format=\"b\"} 1\n"))
        XCTAssertFalse(text.contains("{format=\"c\"}"))
    }

    func testAttachRefusesAFileThatIsNotAStore() throws {
        let path = directory + "/not-a-store"
        FileManager.default.createFile(atPath: path, contents: Data(repeating: 0, count: 8192))
        let fd = open(path, O_RDWR)
        defer { close(fd) }
        XCTAssertThrowsError(try MetricsStore.attach(fd: fd))
    }
}
