import Data
import Foundation
import Observability

/// `GET /metrics`: the whole pool's metrics in Prometheus' text format (0.0.4).
///
/// The counters and histograms come from the shared store every worker counts into; the
/// gauges (requests in flight, live workers, the job queue) are read now. Callers on this
/// machine (nginx sets `ASSAY_LOOPBACK=1` from `$remote_addr`) need nothing; anyone else needs
/// an API key with the `admin` scope whose owner is a team admin or owner. Not counted
/// against quotas: a scraper every 15 s must not use up a key's hourly quota.
struct MetricsRoutes: RouteGroup {
    let access: AccessControl

    func register(on router: Router) {
        router.get("/metrics", metrics)
    }

    func metrics(_ request: Request) throws -> Response {
        if !request.fromLoopback {
            let principal = try access.authenticate(request)
            request.userID = principal.userID
            request.teamID = principal.teamID
            guard principal.isAPIKey else {
                throw AccessError.forbidden("metrics are for this machine or an API key with the admin scope; a user token is not enough")
            }
            try principal.require(.admin)
            try principal.require(role: .admin, to: "read the server's metrics")
        }
        guard let store = Metrics.store else {
            throw APIError(status: 503, code: "metrics_unavailable", message: "this process has no metrics store")
        }
        let pool = context.pool
        var gauges: [Exposition.Gauge] = [
            .init(.httpInFlight, value: Double(pool.busyWorkers)),
            .init(.workers, ["kind": "fastcgi"], value: Double(pool.liveWorkers)),
            .init(.workers, ["kind": "job"], value: Double(pool.liveJobWorkers)),
        ]
        do {
            // Every kind this build runs shows, at 0 when none waits.
            var depth: [String: Int] = [:]
            for row in try JobRepository(context.database).pendingCounts() {
                depth["\(row.kind.rawValue)\t\(row.status.rawValue)"] = row.count
            }
            let kinds = Set([JobKind.documentExtract, .documentFields, .etlSync, .exportRun].map(\.rawValue))
                .union(depth.keys.map { String($0.prefix { $0 != "\t" }) })
            for kind in kinds.sorted() {
                for status in [JobStatus.queued, .running] {
                    gauges.append(.init(.jobsQueued, ["kind": kind, "status": status.rawValue],
                                        value: Double(depth["\(kind)\t\(status.rawValue)"] ?? 0)))
                }
            }
        } catch let error as DataError {
            // The rest of the metrics still help most when the database is down.
            context.logger.warning("metrics: job queue not read", metadata: ["request.id": "\(request.requestID)", "error": "\(error)"])
        }
        let text = Exposition.render(store.snapshot(), gauges: gauges)
        return Response(status: 200, headers: [("Content-Type", Exposition.contentType), ("Cache-Control", "no-store")],
                        body: .bytes(Array(text.utf8)))
    }
}
