import CFastCGI
import CShims
import Data
import Foundation
import Exporters
import Handlers
import Integrations
import JSONValues
import Logging
import Observability

/// Set by SIGTERM in a worker; `FCGX_ShutdownPending` makes libfcgi's accept return.
nonisolated(unsafe) private var shutdownRequested: sig_atomic_t = 0

private func onWorkerTerminate(_: Int32) {
    shutdownRequested = 1
    FCGX_ShutdownPending()
}

/// One FastCGI worker process: accepts on the inherited socket (fd 0), serves one
/// request at a time on the main thread, publishes its state in the scoreboard,
/// and exits after `maxRequests` so the master can start a fresh one.
struct FastCGIWorker {
    let configuration: Configuration
    let slot: Int
    let logger: Logger

    /// Exit code 0 = stopped or recycled on purpose; anything else counts as a crash.
    func run() -> Int32 {
        // First, before anything starts a thread (jwt-kit's key collection does).
        guard let scoreboard = Scoreboard.startWorkerProcess(onStop: onWorkerTerminate, logger: logger) else { return 70 }
        let database = Database(url: configuration.databaseURL, application: "assay-web")
        let migrations = (try? Migration.bundled()) ?? []
        let context = AppContext(
            database: database, logger: logger,
            settings: AppSettings(testRoutes: configuration.testRoutes, maxJSONBody: configuration.maxJSONBody,
                                  access: configuration.access, documents: configuration.documents,
                                  extraction: configuration.extraction, connections: configuration.connections,
                                  exports: configuration.exports, sharing: configuration.sharing,
                                  superset: configuration.superset),
            pool: scoreboard, migrations: migrations)
        let application = Application(router: buildRouter(context), logger: logger, database: database)
        // Connect before taking traffic so the first request does not pay for it;
        // a database that is down now is retried on the first request.
        try? database.connect()

        guard FCGX_Init() == 0 else {
            logger.critical("FCGX_Init failed")
            return 70
        }
        var request = FCGX_Request()
        guard FCGX_InitRequest(&request, 0, 0) == 0 else {
            logger.critical("FCGX_InitRequest failed")
            return 70
        }
        var requestMetrics = RequestMetrics()
        var requestLine = LogLine()
        var served = 0
        scoreboard.setState(slot, .idle)
        while true {
            if request.ipcFd >= 0 {
                guard awaitKeptConnection(request.ipcFd) else {
                    FastCGIWorker.closeWithoutLingering(&request)
                    FCGX_Free(&request, 1)
                    continue
                }
            } else if shutdownRequested != 0 {
                break
            }
            let accepted = FCGX_Accept_r(&request)
            if accepted < 0 {
                if shutdownRequested != 0 { break }
                if errno == EINTR { continue }
                logger.error("FCGX_Accept_r failed", metadata: ["errno": "\(errno)"])
                scoreboard.setState(slot, .stopping)
                return 71
            }
            let started = monotonicNanos()
            scoreboard.store(slot, .requestStarted, started)
            scoreboard.setState(slot, .busy)

            let source = FastCGIRequestSource(request: &request)
            let httpRequest = Request(source: source)
            let response = application.respond(to: httpRequest)
            // Whatever a write changed (a logout, a deleted key, a new role), no worker may
            // answer from what it kept once this response is out (AccessCache).
            if !FastCGIWorker.readOnlyMethods.contains(httpRequest.method) { scoreboard.bumpAccessGeneration() }
            let status = send(response, requestID: httpRequest.requestID, to: &request)
            // Counted before the response's last bytes leave (FCGX_Finish_r flushes them): a
            // client that has its answer finds it in a scrape that follows.
            let micros = (monotonicNanos() - started) / 1000
            let route = httpRequest.route?.template ?? RequestMetrics.unmatched
            requestMetrics.record(method: httpRequest.method, route: route, status: status, seconds: Double(micros) / 1_000_000)
            // The whole request is read before the response ends: the next request on a kept
            // connection starts at a record boundary, and a connection closed with input unread
            // would reach nginx as a reset rather than an end of file.
            FastCGIWorker.discardUnreadInput(request.in)
            FastCGIWorker.closeWithoutLingering(&request)
            FCGX_Finish_r(&request)
            for task in httpRequest.afterResponse { task() }
            application.betweenRequests()

            scoreboard.store(slot, .requestStarted, 0)
            scoreboard.increment(slot, .requestsServed)
            scoreboard.setState(slot, .idle)
            served += 1
            if logger.logLevel <= .info {
                // The line `logger.info("request", metadata: …)` would write, built straight
                // into bytes (no metadata dictionaries, no intermediate JSON values).
                requestLine.start(level: .info, message: "request")
                requestLine.field("client.address", .string(httpRequest.clientAddress))
                requestLine.field("duration_ms", .double(Double(micros) / 1000))
                requestLine.field("http.method", .string(httpRequest.method))
                requestLine.field("http.path", .string(RequestMetrics.loggablePath(httpRequest.path, route: route)))
                requestLine.field("http.route", .string(route))
                requestLine.field("http.status", .int(Int64(status)))
                requestLine.field("request.id", .string(httpRequest.requestID))
                if let team = httpRequest.teamID { requestLine.field("team.id", .string(team.lower)) }
                if let user = httpRequest.userID { requestLine.field("user.id", .string(user.lower)) }
                requestLine.field("worker.pid", .int(JSONLogHandler.processID))
                requestLine.write()
            }
            if configuration.maxRequests > 0, served >= configuration.maxRequests {
                logger.info("worker recycling after max_requests", metadata: ["requests": .stringConvertible(served)])
                // The kept connection is closed right after the last response, before nginx
                // can have sent another request on it: the end of file reaches nginx while the
                // connection sits idle in its cache, and nginx drops it from there. (A request
                // written in that instant would fail: a GET is retried on a fresh connection.)
                if request.ipcFd >= 0 { FCGX_Free(&request, 1) }
                break
            }
        }
        scoreboard.setState(slot, .stopping)
        application.betweenRequests(force: true)
        return 0
    }

    /// Waits, between two requests, on the connection nginx keeps open (`fastcgi_keep_conn`)
    /// for its next request; true when one has arrived, false when the caller is to close its
    /// end: nginx closed the connection (or it failed), or the worker gives it up.
    ///
    /// A worker does not give up a kept connection nginx may still use if it can help it: nginx
    /// could be writing a request on it at that very moment, and that request would fail (a
    /// POST is not retried). So a worker a SIGHUP replaces takes no new connection but serves
    /// this one until nginx closes it, which nginx does after `keepalive_requests` requests or
    /// `keepalive_timeout` idle (nginx/assay.conf.template: 100 and 4 s); only a connection idle
    /// past `stopPatience` is closed by the worker. (In a shutdown the pool's socket is gone,
    /// and the worker closes at once; a recycled worker closes right after its last response.) That no worker waits long on an idle kept connection while a new
    /// connection queues is the configuration's part (nginx keeps fewer idle connections in all
    /// than there are workers: `ASSAY_FASTCGI_KEEPALIVE`, so some worker is always free to
    /// accept); should it happen anyway (the pool restarted with fewer workers), a worker whose
    /// kept connection is idle while a connection has waited in the listen queue for
    /// `queuePatience` gives its kept one up.
    private func awaitKeptConnection(_ descriptor: Int32) -> Bool {
        let started = monotonicNanos()
        var queuedSince: UInt64?
        var kept = pollfd(fd: descriptor, events: Int16(POLLIN) | FastCGIWorker.pollPeerClosed, revents: 0)
        while true {
            let ready = poll(&kept, 1, 100)
            if ready < 0, errno == EINTR { continue }
            if ready < 0 {
                logger.warning("poll on a kept connection failed", metadata: ["errno": "\(errno)"])
                return false
            }
            if ready > 0 {
                // Readable: the next request's first record, or nginx's close (end of file).
                // libfcgi would answer an end of file by accepting a new connection itself,
                // which a stopping worker must not do. Readable with the peer still there is
                // a request; once the peer has closed, a peek tells whether bytes came first.
                let closedOrFailed = FastCGIWorker.pollPeerClosed | Int16(POLLHUP) | Int16(POLLERR) | Int16(POLLNVAL)
                if kept.revents & closedOrFailed == 0 { return true }
                var byte: UInt8 = 0
                let peeked = recv(descriptor, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
                if peeked > 0 { return true }
                if peeked < 0, errno == EINTR || errno == EAGAIN { continue }
                return false
            }
            let now = monotonicNanos()
            if shutdownRequested != 0 {
                // A pool shutting down has unlinked its socket: nginx reaches no worker of it
                // any more, so there is nothing to wait for. A worker replaced by a SIGHUP
                // (the socket stays) serves its kept connection until nginx closes it.
                if access(configuration.socketPath, F_OK) != 0 { return false }
                if now - started > FastCGIWorker.stopPatience { return false }
                continue
            }
            var listening = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
            if poll(&listening, 1, 0) > 0 {
                let since = queuedSince ?? now
                if now - since > FastCGIWorker.queuePatience { return false }
                queuedSince = since
            } else {
                queuedSince = nil
            }
        }
    }

    /// POLLRDHUP (Linux): the peer closed its end. Glibc declares it only under _GNU_SOURCE.
    static let pollPeerClosed: Int16 = 0x2000

    /// How long a stopping worker waits on an idle kept connection before closing it itself:
    /// longer than nginx's `keepalive_timeout` for the pool's connections (4 s).
    static let stopPatience: UInt64 = 6_000_000_000
    /// How long a connection may wait in the listen queue while this worker's kept connection
    /// is idle before the worker gives the kept one up (see `awaitKeptConnection`).
    static let queuePatience: UInt64 = 1_000_000_000

    /// Makes libfcgi's next close of the request's connection a plain `close`. By default it
    /// lingers: `shutdown`, then reads until the peer closes too (up to 2 s), which guards a TCP
    /// peer against a reset. On the pool's unix socket, with the request read to its end
    /// (`discardUnreadInput`), nothing is left to cause one, and lingering only keeps the worker
    /// waiting for nginx to get round to closing instead of serving the next connection in the
    /// queue. (Debian's libfcgi lingers only for a request not marked `detached`; the flag is
    /// cleared again by the close.)
    private static func closeWithoutLingering(_ request: inout FCGX_Request) {
        request.detached = 1
    }

    /// Reads what is left of a request's body (and its end); libfcgi leaves unread input in the
    /// socket.
    private static func discardUnreadInput(_ input: UnsafeMutablePointer<FCGX_Stream>?) {
        guard let input else { return }
        // On the stack: most requests have nothing left to read, and this runs for each of them.
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 8192) { sink in
            while FCGX_GetStr(sink.baseAddress, Int32(sink.count), input) > 0 {}
        }
    }

    /// Writes status line, headers and body; returns the status sent (the handler's,
    /// or 500 if a streamed body failed before anything was written).
    private func send(_ response: Response, requestID: String, to request: inout FCGX_Request) -> Int {
        var head: [UInt8] = []
        head.reserveCapacity(512)
        func line(_ name: String, _ value: String) {
            head.append(contentsOf: name.utf8)
            head.append(contentsOf: ": ".utf8)
            head.append(contentsOf: value.utf8)
            head.append(contentsOf: "\r\n".utf8)
        }
        line("Status", "\(response.status) \(Response.reason(response.status))")
        for (name, value) in response.headers { line(name, FastCGIWorker.headerSafe(value)) }
        line("X-Request-ID", requestID)
        let writer = FastCGIBodyWriter(stream: request.out)
        switch response.body {
        case .bytes(let bytes):
            if response.header("Content-Length") == nil { line("Content-Length", String(bytes.count)) }
            head.append(contentsOf: "\r\n".utf8)
            try? writer.write(head)
            try? writer.write(bytes)
        case .stream(let produce):
            head.append(contentsOf: "\r\n".utf8)
            do {
                try writer.write(head)
                try produce(writer)
            } catch {
                // Headers are gone already; all that can be done is log and end the stream.
                logger.error("streamed response failed", metadata: ["request.id": "\(requestID)", "error": "\(error)"])
            }
        }
        return response.status
    }

    /// Methods that change nothing, so they leave the workers' access caches alone.
    static let readOnlyMethods: Set<String> = ["GET", "HEAD", "OPTIONS"]

    /// Drops CR and LF so a value can never start a new header.
    static func headerSafe(_ value: String) -> String {
        value.contains(where: { $0 == "\r" || $0 == "\n" })
            ? value.filter { $0 != "\r" && $0 != "\n" } : value
    }
}

/// Counts each request in the pool's metrics: requests by method, route template and status,
/// and the duration by method and route template. The series of a route are looked up in the
/// shared table once per process, so a request costs two dictionary lookups and three atomic adds.
struct RequestMetrics {
    /// The route label of a request no route matched (404, 405): one value, whatever the path.
    static let unmatched = "unmatched"
    private struct Key: Hashable {
        let method: String
        let route: String
        let status: Int
    }
    private var counters: [Key: Counter] = [:]
    private var histograms: [Key: Histogram] = [:]

    /// The path as the log shows it: the route template instead where the path holds a secret
    /// (a share or embed link's id, an invite token), since anyone holding it gets in.
    static func loggablePath(_ path: String, route: String) -> String {
        route.hasPrefix("/share/") || route.hasPrefix("/embed/") || holdsToken(route) ? route : path
    }

    /// Whether a route template has a `{token}` segment (searched in its bytes: Foundation's
    /// `contains`, through `CFStringFind`, was 3 % of a worker's time on every request's log line).
    private static func holdsToken(_ route: String) -> Bool {
        route.utf8.firstRange(of: tokenSegment) != nil
    }

    private static let tokenSegment: [UInt8] = Array("/{token}".utf8)

    /// The methods with a label value of their own; a client may send any method, and unknown
    /// ones share the value `other`.
    private static let methods: Set<String> = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

    mutating func record(method raw: String, route: String, status: Int, seconds: Double) {
        let method = RequestMetrics.methods.contains(raw) ? raw : "other"
        let key = Key(method: method, route: route, status: status)
        if let counter = counters[key] {
            counter.add()
        } else {
            let counter = Metrics.counter(.httpRequests, ["method": method, "route": route, "status": String(status)])
            counters[key] = counter
            counter.add()
        }
        let timing = Key(method: method, route: route, status: 0)
        if let histogram = histograms[timing] {
            histogram.observe(seconds: seconds)
        } else {
            let histogram = Metrics.histogram(.httpDuration, ["method": method, "route": route])
            histograms[timing] = histogram
            histogram.observe(seconds: seconds)
        }
    }
}

/// Reads parameters and body from libfcgi's request.
final class FastCGIRequestSource: RequestSource {
    private let envp: FCGX_ParamArray?
    private let input: UnsafeMutablePointer<FCGX_Stream>?

    init(request: UnsafeMutablePointer<FCGX_Request>) {
        envp = request.pointee.envp
        input = request.pointee.in
    }

    func parameter(_ name: String) -> String? {
        guard let envp, let value = FCGX_GetParam(name, envp) else { return nil }
        return String(cString: value)
    }

    func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let input else { return 0 }
        let count = FCGX_GetStr(buffer.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(buffer.count), input)
        return Int(max(0, count))
    }
}

/// Writes body bytes to libfcgi's output stream.
struct FastCGIBodyWriter: BodyWriter {
    struct ClientGone: Error {}
    let stream: UnsafeMutablePointer<FCGX_Stream>?

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard let stream, let base = bytes.baseAddress, bytes.count > 0 else { return }
        if FCGX_PutStr(base.assumingMemoryBound(to: CChar.self), Int32(bytes.count), stream) < 0 {
            throw ClientGone()
        }
    }
}
