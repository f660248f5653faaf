import Foundation
import JSONValues
import Superset

/// Routes that exist only when `ASSAY_TEST_ROUTES=1`: the integration tests use
/// them to hold a worker busy, to send a JSON body, and to raise an unexpected error.
struct TestRoutes {
    let context: AppContext

    init(_ context: AppContext) {
        self.context = context
    }

    func register(on router: Router) {
        let sleep: Handler = { request in
            let ms = min(Int(request.query["ms"] ?? "") ?? 1000, 120_000)
            // nanosleep returns early when a signal (SIGTERM during shutdown) arrives;
            // keep sleeping for the remainder so the request really lasts `ms`.
            var remaining = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
            var left = timespec()
            while nanosleep(&remaining, &left) != 0, errno == EINTR { remaining = left }
            return .json(["slept_ms": .int(Int64(ms)), "pid": .int(Int64(getpid()))])
        }
        // GET is retried by nginx when a worker dies mid-request; POST is not.
        router.get("/api/_test/sleep", sleep)
        router.post("/api/_test/sleep", sleep)
        router.post("/api/_test/echo") { request in
            var body = try request.jsonObject(limit: context.settings.maxJSONBody)
            let name = body.string("name", minLength: 1, maxLength: 100)
            let count = body.int("count", range: 0...1000)
            let flag = body.bool("flag", required: false)
            try body.finish()
            return .json(["name": JSON(name), "count": JSON(count), "flag": JSON(flag)])
        }
        router.get("/api/_test/pid") { _ in .json(["pid": .int(Int64(getpid()))]) }
        // Spoils this worker's Superset login (`mode`: aged, invalid or both), then reads
        // Superset's database list through the client: the answer says whether that worked and
        // how often this worker logged in and refreshed, before and after.
        router.post("/api/_test/superset/tamper") { request in
            var body = try request.jsonObject(limit: context.settings.maxJSONBody)
            let mode = body.choice("mode", as: SupersetClient.Tampering.self)
            try body.finish()
            guard let settings = context.settings.superset, let mode else { throw APIError.notFound("Superset is not configured") }
            let client = SupersetClient(settings: settings)
            do {
                try client.tamperForTests(mode)
                let before = SupersetClient.counters
                let answer = try client.get("/api/v1/database/?q=(page_size:1)")
                let after = SupersetClient.counters
                return .json(["ok": .bool(answer.status == 200), "pid": .int(Int64(getpid())),
                              "logins": .int(Int64(after.logins - before.logins)), "refreshes": .int(Int64(after.refreshes - before.refreshes))])
            } catch let error as SupersetError {
                throw SupersetRoutes.apiError(error)
            }
        }
        router.get("/api/_test/crash") { _ in
            struct Boom: Error { let secret = "internal detail that must not leak" }
            throw Boom()
        }
    }
}
