/// The fixed bucket bounds of a histogram, in seconds. A layout's raw value is stored with
/// each series, so a scrape knows the bounds whichever process wrote it.
public enum HistogramBuckets: Int, Sendable {
    /// HTTP requests: 5 ms to 10 s.
    case requestSeconds = 1
    /// Jobs and extractions: 0.1 s to 10 min.
    case jobSeconds = 2

    /// Upper bounds, without +Inf (at most 14, so that the counts and the sum fit an entry).
    public var bounds: [Double] {
        switch self {
        case .requestSeconds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        case .jobSeconds: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]
        }
    }

    /// The bucket an observation falls in: the first bound not below it, or +Inf.
    func index(of seconds: Double) -> Int {
        let bounds = self.bounds
        var index = 0
        while index < bounds.count, seconds > bounds[index] { index += 1 }
        return index
    }
}

/// A metric family: its name, what it means, its type. Every family Assay exposes is listed
/// in `MetricFamily.all`, which is also the order of the exposition.
public struct MetricFamily: Sendable, Hashable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }
    public let name: String
    public let help: String
    public let kind: Kind
    public let buckets: HistogramBuckets?

    public init(_ name: String, _ kind: Kind, buckets: HistogramBuckets? = nil, help: String) {
        self.name = name
        self.kind = kind
        self.buckets = buckets
        self.help = help
    }

    public static let httpRequests = MetricFamily(
        "assay_http_requests_total", .counter,
        help: "HTTP requests answered by the FastCGI workers, by method, route template and status code.")
    public static let httpDuration = MetricFamily(
        "assay_http_request_duration_seconds", .histogram, buckets: .requestSeconds,
        help: "Time from accepting a request to its last byte sent, by method and route template.")
    public static let httpInFlight = MetricFamily(
        "assay_http_requests_in_flight", .gauge, help: "Requests being answered now (the scrape included).")
    public static let workers = MetricFamily(
        "assay_workers", .gauge, help: "Live worker processes by kind (fastcgi, job).")
    public static let workerRestarts = MetricFamily(
        "assay_worker_restarts_total", .counter,
        help: "Workers that died or were killed after the request timeout and were restarted, by kind.")
    public static let workerRecycles = MetricFamily(
        "assay_worker_recycles_total", .counter, help: "Workers replaced after serving max_requests, by kind.")
    public static let jobsQueued = MetricFamily(
        "assay_jobs", .gauge, help: "Jobs waiting or running, by kind and status, read from the database at scrape time.")
    public static let jobDuration = MetricFamily(
        "assay_job_duration_seconds", .histogram, buckets: .jobSeconds,
        help: "Time a job worker spent on one attempt of a job, by kind and outcome.")
    public static let extractionPages = MetricFamily(
        "assay_extraction_pages_total", .counter, help: "Document pages read, by source (text layer, ocr, none).")
    public static let extractionDuration = MetricFamily(
        "assay_extraction_duration_seconds", .histogram, buckets: .jobSeconds,
        help: "Time to read a document's pages and store its pages and tables.")
    public static let exportRows = MetricFamily(
        "assay_export_rows_total", .counter, help: "Table rows written to exports and downloads, by format.")
    public static let etlRows = MetricFamily(
        "assay_etl_rows_total", .counter, help: "Rows copied from customer databases into the warehouse.")
    public static let databaseErrors = MetricFamily(
        "assay_database_errors_total", .counter,
        help: "Errors from PostgreSQL, by kind (unavailable, unique_violation, foreign_key_violation, server).")

    public static let all: [MetricFamily] = [
        httpRequests, httpDuration, httpInFlight, workers, workerRestarts, workerRecycles, jobsQueued, jobDuration,
        extractionPages, extractionDuration, exportRows, etlRows, databaseErrors,
    ]
}

extension MetricsStore {
    /// The counter `family{labels}` in this store (claimed on first use).
    public func counter(_ family: MetricFamily, _ labels: KeyValuePairs<String, String> = [:]) -> Counter {
        Counter(store: self, index: series(Metrics.identity(family, labels), kind: .counter, buckets: nil))
    }

    /// The histogram `family{labels}` in this store, with the family's buckets.
    public func histogram(_ family: MetricFamily, _ labels: KeyValuePairs<String, String> = [:]) -> Histogram {
        let buckets = family.buckets ?? .requestSeconds
        return Histogram(store: self, index: series(Metrics.identity(family, labels), kind: .histogram, buckets: buckets),
                         buckets: buckets)
    }
}

/// A counter of one series; adds go straight to the shared table (one atomic add).
public struct Counter: Sendable {
    let store: MetricsStore?
    let index: Int?

    public func add(_ amount: UInt64 = 1) {
        guard let store, let index else { return }
        store.add(index, value: 0, amount)
    }
}

/// A histogram of one series, in seconds; an observation is two atomic adds.
public struct Histogram: Sendable {
    let store: MetricsStore?
    let index: Int?
    let buckets: HistogramBuckets

    public func observe(seconds: Double) {
        guard let store, let index else { return }
        store.add(index, value: buckets.index(of: seconds), 1)
        store.add(index, value: MetricsStore.valueWords - 1, UInt64(max(0, (seconds * 1_000_000).rounded())))
    }
}

/// Where the domain modules count things: `Metrics.counter(.exportRows, ["format": "csv"]).add(rows)`.
///
/// A process without a store (a unit test, `assay extract`) counts nothing. The pool's master
/// creates the store and each worker installs it before it starts any thread.
public enum Metrics {
    nonisolated(unsafe) private static var installed: MetricsStore?

    /// The store this process counts into.
    public static var store: MetricsStore? { installed }

    /// Makes `store` this process's store; call once, before any thread exists.
    public static func install(_ store: MetricsStore) { installed = store }

    public static func counter(_ family: MetricFamily, _ labels: KeyValuePairs<String, String> = [:]) -> Counter {
        installed?.counter(family, labels) ?? Counter(store: nil, index: nil)
    }

    public static func histogram(_ family: MetricFamily, _ labels: KeyValuePairs<String, String> = [:]) -> Histogram {
        installed?.histogram(family, labels) ?? Histogram(store: nil, index: nil, buckets: family.buckets ?? .requestSeconds)
    }

    /// `family{a="x",b="y"}`: the series' key in the table and its text in the exposition.
    static func identity(_ family: MetricFamily, _ labels: KeyValuePairs<String, String>) -> String {
        guard !labels.isEmpty else { return family.name }
        return family.name + "{" + labels.map { "\($0.key)=\"\(Exposition.escapeLabel($0.value))\"" }.joined(separator: ",") + "}"
    }

    /// Series every scrape should show even before anything happened (at 0), so that rates
    /// and alerts work from the start. The master calls it once.
    public static func registerStandardSeries() {
        for kind in ["fastcgi", "job"] {
            _ = counter(.workerRestarts, ["kind": kind])
            _ = counter(.workerRecycles, ["kind": kind])
        }
        _ = counter(.etlRows)
        for kind in DatabaseErrorKind.allCases { _ = counter(.databaseErrors, ["kind": kind.rawValue]) }
    }

    public enum DatabaseErrorKind: String, CaseIterable, Sendable {
        case unavailable, uniqueViolation = "unique_violation", foreignKeyViolation = "foreign_key_violation"
        case server
    }
}
