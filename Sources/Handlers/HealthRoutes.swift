import APIDocs
import Data
import Foundation
import JSONValues

/// `GET /health`, `GET /api/version`, `GET /openapi.json` and `GET /api/postman.json`.
struct HealthRoutes {
    let context: AppContext
    /// Both bodies never change, so they are serialised once per worker.
    let versionBody: [UInt8]
    let openAPIBody: [UInt8]?

    init(_ context: AppContext) {
        self.context = context
        versionBody = JSON.object([
            ("name", "assay"), ("version", .string(AssayVersion.current)), ("api", .string(AssayVersion.api)),
        ]).serialized()
        openAPIBody = OpenAPIDocument.bytes
    }

    func register(on router: Router) {
        router.get("/health", health)
        router.get("/api/version") { _ in .json(bytes: versionBody) }
        router.get("/openapi.json") { _ in
            guard let openAPIBody else { throw APIError.notFound("the OpenAPI document is missing from this build") }
            return .json(bytes: openAPIBody, headers: [("Cache-Control", "public, max-age=300")])
        }
        router.get("/api/postman.json") { [context] _ in
            guard let collection = OpenAPIDocument.postmanCollection(baseURL: context.settings.access.publicURL) else {
                throw APIError.notFound("the OpenAPI document is missing from this build")
            }
            return .json(bytes: collection, headers: [("Cache-Control", "public, max-age=300"),
                                                      ("Content-Disposition", "attachment; filename=\"assay.postman_collection.json\"")])
        }
    }

    /// 200 when the database answers and has exactly this build's migrations; 503
    /// naming what is wrong otherwise. One round trip to PostgreSQL.
    func health(_ request: Request) throws -> Response {
        let expected = context.migrations.last?.version ?? 0
        var problems: [JSON] = []
        var database: JSON
        var migrations: JSON
        let started = DispatchTime.now().uptimeNanoseconds
        do {
            let state = try MigrationRepository(context.database).state()
            let latency = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
            let latest = state.latest
            database = ["ok": true, "latency_ms": .double((latency * 100).rounded() / 100)]
            let current = latest == expected
            if !current { problems.append(.string("database schema is at migration \(latest), this build expects \(expected)")) }
            migrations = ["current": .bool(current), "latest": .int(Int64(latest)), "expected": .int(Int64(expected))]
        } catch let error as DataError {
            let reason: String
            if case .unavailable = error { reason = "database unreachable" } else { reason = error.description }
            problems.append(.string(reason))
            database = ["ok": false, "error": .string(reason)]
            migrations = ["current": false, "expected": .int(Int64(expected))]
        }
        let pool = context.pool
        let live = pool.liveWorkers
        if live == 0 { problems.append("no live workers") }
        if pool.configuredJobWorkers > 0, pool.liveJobWorkers == 0 { problems.append("no live job workers") }
        let body: JSON = [
            "status": problems.isEmpty ? "ok" : "unavailable",
            "version": .string(AssayVersion.current),
            "uptime_seconds": .int(Int64(Date().timeIntervalSince(context.pool.startedAt))),
            "workers": ["live": .int(Int64(live)), "configured": .int(Int64(pool.configuredWorkers))],
            "job_workers": ["live": .int(Int64(pool.liveJobWorkers)), "configured": .int(Int64(pool.configuredJobWorkers))],
            "database": database,
            "migrations": migrations,
            "problems": .array(problems),
        ]
        if problems.isEmpty { return .json(body, headers: [("Cache-Control", "no-store")]) }
        return .json(body, status: 503, headers: [("Cache-Control", "no-store"), ("Retry-After", "5")])
    }
}

/// The OpenAPI 3.1 document shipped with this build, and the Postman collection made from it.
public enum OpenAPIDocument {
    nonisolated(unsafe) private static var postman: (baseURL: String, bytes: [UInt8])?

    /// The Postman collection (v2.1) of this build's operations, made once per worker.
    public static func postmanCollection(baseURL: String) -> [UInt8]? {
        if let postman, postman.baseURL == baseURL { return postman.bytes }
        guard let bytes, let document = try? JSON.parse(bytes) else { return nil }
        let trimmed = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        let collection = PostmanCollection.make(from: document, baseURL: trimmed).serialized()
        postman = (baseURL, collection)
        return collection
    }

    public static let bytes: [UInt8]? = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = try? Data(contentsOf: url) else { return nil }
        return [UInt8](data)
    }()
}
