import Foundation
import JSONValues

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
        router.get("/api/_test/crash") { _ in
            struct Boom: Error { let secret = "internal detail that must not leak" }
            throw Boom()
        }
    }
}
