import CShims
import Data
import Foundation
import Logging
import Observability
import Quotas

/// The write end of the master's self-pipe: signal handlers only write the signal
/// number there, and the main loop does the work.
nonisolated(unsafe) private var signalPipeWrite: Int32 = -1

private func onMasterSignal(_ signo: Int32) {
    var byte = UInt8(truncatingIfNeeded: signo)
    let saved = errno
    _ = write(signalPipeWrite, &byte, 1)
    errno = saved
}

/// `assay serve`: migrates, binds the FastCGI socket and supervises the workers,
/// in the manner of php-fpm's master. Single-threaded; all state lives here.
final class Master {
    /// A worker process the master started.
    private struct Child {
        let pid: pid_t
        let kind: Scoreboard.Kind
        let slot: Int
        let started: UInt64
        /// Told to stop (reload or shutdown): its exit is expected and not replaced.
        var retiring = false
        /// Killed for exceeding the request timeout; logged once.
        var killedForTimeout = false
    }

    private let configuration: Configuration
    private let logger: Logger
    private let executable: String
    private var children: [pid_t: Child] = [:]
    private var listenFD: Int32 = -1
    private var signalPipeRead: Int32 = -1
    private var scoreboard: Scoreboard!
    /// The pool's metrics, shared with every worker (fd 4); it outlives the workers it counts for.
    private var metrics: MetricsStore!
    /// The pool's quota counts, shared with every worker (fd 5); the workers add them to
    /// PostgreSQL, so counts of workers that died are not lost with them.
    private var quotas: QuotaLedger!

    /// Respawns waiting for their time (crash throttling), by monotonic deadline.
    private var pendingRespawns: [(at: UInt64, kind: Scoreboard.Kind)] = []
    private var recentCrashes: [UInt64] = []
    /// Old workers still to be replaced by a SIGHUP reload, and the replacement being started.
    private var reloadQueue: [pid_t] = []
    private var reloadInFlight: (old: pid_t, new: pid_t)?
    private var shutdownDeadline: UInt64?

    init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    }

    func run() throws {
        try migrate()
        try openSocket()
        defer { cleanup() }
        let directory = (configuration.socketPath as NSString).deletingLastPathComponent.isEmpty
            ? "." : (configuration.socketPath as NSString).deletingLastPathComponent
        scoreboard = try Scoreboard(
            directory: directory,
            slots: (configuration.workers + configuration.jobWorkers) * 2 + 2,
            configuredWorkers: configuration.workers, configuredJobWorkers: configuration.jobWorkers)
        metrics = try MetricsStore.create(directory: directory)
        quotas = try QuotaLedger.create(directory: directory)
        Metrics.install(metrics)
        Metrics.registerStandardSeries()
        try installSignals()
        if let pidFile = configuration.pidFile {
            try "\(getpid())\n".write(toFile: pidFile, atomically: true, encoding: .utf8)
        }
        logger.info("assay serve started", metadata: [
            "socket": "\(configuration.socketPath)", "workers": .stringConvertible(configuration.workers),
            "job_workers": .stringConvertible(configuration.jobWorkers),
            "max_requests": .stringConvertible(configuration.maxRequests), "request_timeout_s": .stringConvertible(configuration.requestTimeout),
        ])
        for _ in 0..<configuration.workers { startWorker(.fastcgi) }
        for _ in 0..<configuration.jobWorkers { startWorker(.job) }
        loop()
        logger.info("assay serve stopped")
    }

    // MARK: Start-up

    private func migrate() throws {
        let database = Database(url: configuration.databaseURL)
        defer { database.close() }
        let applied = try Migrator(database: database, migrations: try Migration.bundled(), logger: logger).migrate()
        logger.info("database schema is current", metadata: ["migrations.applied": .stringConvertible(applied.count)])
    }

    private func openSocket() throws {
        let path = configuration.socketPath
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            throw SystemError(call: "socket path \(path) longer than \(capacity - 1) bytes", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path.utf8)
            buffer[path.utf8.count] = 0
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.size)
        // A socket file left by a crashed master is removed; one that answers is another
        // live Assay, and starting a second one on it would steal its traffic.
        if FileManager.default.fileExists(atPath: path) {
            let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(probe, $0, length) }
            }
            close(probe)
            if connected == 0 {
                throw SystemError(call: "another assay is already serving \(path); bind", errno: EADDRINUSE)
            }
            unlink(path)
        }
        let fd = try syscall("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0) }
        try syscall("bind \(path)") {
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
        }
        try syscall("chmod \(path)") { chmod(path, configuration.socketMode) }
        if let group = configuration.socketGroup {
            guard let entry = getgrnam(group) else {
                throw SystemError(call: "getgrnam(\(group))", errno: ENOENT)
            }
            try syscall("chown \(path)") { chown(path, getuid(), entry.pointee.gr_gid) }
        }
        try syscall("listen") { listen(fd, Int32(configuration.backlog)) }
        listenFD = fd
    }

    private func installSignals() throws {
        var fds: [Int32] = [0, 0]
        try syscall("pipe") { pipe(&fds) }
        for fd in fds {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        signalPipeRead = fds[0]
        signalPipeWrite = fds[1]
        for signo in [SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD] {
            assay_install_handler(signo, onMasterSignal)
        }
        signal(SIGPIPE, SIG_IGN)
    }

    private func cleanup() {
        if listenFD >= 0 { close(listenFD) }
        unlink(configuration.socketPath)
        if let pidFile = configuration.pidFile { unlink(pidFile) }
    }

    // MARK: The loop

    private func loop() {
        while true {
            var pollfd = Glibc.pollfd(fd: signalPipeRead, events: Int16(POLLIN), revents: 0)
            _ = poll(&pollfd, 1, 100)
            for signo in drainSignals() {
                switch signo {
                case SIGTERM, SIGINT, SIGQUIT: beginShutdown(signal: signo)
                case SIGHUP: beginReload()
                default: break
                }
            }
            reap()
            let now = monotonicNanos()
            if let deadline = shutdownDeadline {
                if children.isEmpty { return }
                if now >= deadline {
                    logger.warning("shutdown timeout reached; killing remaining workers", metadata: ["workers": .stringConvertible(children.count)])
                    for pid in children.keys { kill(pid, SIGKILL) }
                    shutdownDeadline = UInt64.max
                }
                continue
            }
            killStuckWorkers(now: now)
            while let first = pendingRespawns.first, first.at <= now {
                pendingRespawns.removeFirst()
                startWorker(first.kind)
            }
            advanceReload()
        }
    }

    private func drainSignals() -> [Int32] {
        var buffer = [UInt8](repeating: 0, count: 64)
        var signals: [Int32] = []
        while true {
            let count = read(signalPipeRead, &buffer, buffer.count)
            if count <= 0 { break }
            signals += buffer[0..<count].map { Int32($0) }
        }
        return signals
    }

    // MARK: Workers

    @discardableResult
    private func startWorker(_ kind: Scoreboard.Kind) -> pid_t? {
        guard let slot = scoreboard.freeSlot() else {
            logger.error("no free scoreboard slot; worker not started")
            return nil
        }
        do {
            let pid = try spawn(
                executable: executable, arguments: [kind == .fastcgi ? "worker" : "job-worker", "--slot", String(slot)],
                environment: configuration.workerEnvironment(),
                fileDescriptors: [(0, listenFD), (Scoreboard.inheritedDescriptor, scoreboard.fd),
                                  (Scoreboard.metricsDescriptor, metrics.fd), (Scoreboard.quotaDescriptor, quotas.fd)])
            scoreboard.claim(slot, pid: pid, kind: kind)
            children[pid] = Child(pid: pid, kind: kind, slot: slot, started: monotonicNanos())
            logger.debug("worker started", metadata: ["worker.pid": .stringConvertible(pid), "worker.slot": .stringConvertible(slot)])
            return pid
        } catch {
            logger.error("cannot start worker", metadata: ["error": "\(error)"])
            scheduleRespawn(kind, crashed: true)
            return nil
        }
    }

    private func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            guard let child = children.removeValue(forKey: pid) else { continue }
            scoreboard.release(child.slot)
            let exit = ExitStatus(waitStatus: status)
            if let inFlight = reloadInFlight, inFlight.new == pid {
                // The replacement died before it was ready: retry the same old worker.
                reloadInFlight = nil
                reloadQueue.insert(inFlight.old, at: 0)
            }
            if child.retiring || shutdownDeadline != nil {
                logger.debug("worker stopped", metadata: ["worker.pid": .stringConvertible(pid), "exit": "\(exit)"])
                continue
            }
            if exit.isClean {
                // Recycled after max_requests: replace at once.
                logger.info("worker recycled", metadata: ["worker.pid": .stringConvertible(pid)])
                Metrics.counter(.workerRecycles, ["kind": child.kind.label]).add()
                startWorker(child.kind)
            } else {
                let reason = child.killedForTimeout ? "killed after request timeout" : "died"
                logger.error("worker \(reason); restarting", metadata: [
                    "worker.pid": .stringConvertible(pid), "worker.kind": "\(child.kind)", "exit": "\(exit)",
                    "worker.uptime_ms": .stringConvertible((monotonicNanos() - child.started) / 1_000_000),
                ])
                Metrics.counter(.workerRestarts, ["kind": child.kind.label]).add()
                scheduleRespawn(child.kind, crashed: !child.killedForTimeout)
            }
        }
    }

    /// Restarts a crashed worker at once, unless workers have been crashing in a burst
    /// (more than twice the pool size, at least 5, within 10 s), in which case restarts back off exponentially up to 30 s, so a
    /// broken deploy logs its error without spinning the CPU.
    private func scheduleRespawn(_ kind: Scoreboard.Kind, crashed: Bool) {
        let now = monotonicNanos()
        var delay: UInt64 = 0
        if crashed {
            recentCrashes.append(now)
            recentCrashes.removeAll { now - $0 > 10_000_000_000 }
            let burst = recentCrashes.count - max(5, (configuration.workers + configuration.jobWorkers) * 2) + 1
            if burst > 0 {
                delay = min(30_000_000_000, 1_000_000_000 << UInt64(min(burst - 1, 5)))
                logger.critical("workers are crashing repeatedly; delaying restart", metadata: [
                    "crashes_10s": .stringConvertible(recentCrashes.count), "delay_ms": .stringConvertible(delay / 1_000_000),
                ])
            }
        }
        pendingRespawns.append((now + delay, kind))
        pendingRespawns.sort { $0.at < $1.at }
    }

    private func killStuckWorkers(now: UInt64) {
        let limit = UInt64(configuration.requestTimeout) * 1_000_000_000
        for (pid, child) in children where !child.killedForTimeout {
            let started = scoreboard.load(child.slot, .requestStarted)
            guard started != 0, now > started, now - started > limit else { continue }
            logger.error("request exceeded request_timeout; killing worker", metadata: [
                "worker.pid": .stringConvertible(pid), "request_timeout_s": .stringConvertible(configuration.requestTimeout),
            ])
            children[pid]?.killedForTimeout = true
            kill(pid, SIGKILL)
        }
    }

    // MARK: Reload and shutdown

    /// SIGHUP: replace each current worker in turn. A replacement is started first and
    /// the old worker is asked to stop (finishing its request) only once the new one
    /// accepts, so capacity never drops and the shared socket's backlog holds requests.
    private func beginReload() {
        guard shutdownDeadline == nil else { return }
        let current = children.values.filter { !$0.retiring }.map(\.pid)
        reloadQueue = current.filter { $0 != reloadInFlight?.new }
        logger.info("reload requested; replacing workers one by one", metadata: ["workers": .stringConvertible(reloadQueue.count)])
    }

    private func advanceReload() {
        if let inFlight = reloadInFlight {
            guard let newChild = children[inFlight.new] else { reloadInFlight = nil; return }
            let state = scoreboard.state(newChild.slot)
            guard state == .idle || state == .busy else { return }
            if children[inFlight.old] != nil {
                children[inFlight.old]?.retiring = true
                kill(inFlight.old, SIGTERM)
            }
            reloadInFlight = nil
            if reloadQueue.isEmpty { logger.info("reload complete") }
        }
        while reloadInFlight == nil, !reloadQueue.isEmpty {
            let old = reloadQueue.removeFirst()
            guard let oldChild = children[old], !oldChild.retiring else { continue }
            if let new = startWorker(oldChild.kind) { reloadInFlight = (old, new) }
        }
    }

    private func beginShutdown(signal signo: Int32) {
        guard shutdownDeadline == nil else { return }
        logger.info("shutting down; waiting for in-flight requests", metadata: [
            "signal": .stringConvertible(signo), "timeout_s": .stringConvertible(configuration.shutdownTimeout),
        ])
        // Stop accepting: new connections are refused at once; workers keep their
        // copy of the socket only until their current request ends.
        close(listenFD)
        listenFD = -1
        unlink(configuration.socketPath)
        pendingRespawns.removeAll()
        reloadQueue.removeAll()
        reloadInFlight = nil
        for pid in children.keys {
            children[pid]?.retiring = true
            kill(pid, SIGTERM)
        }
        shutdownDeadline = monotonicNanos() + UInt64(configuration.shutdownTimeout) * 1_000_000_000
    }
}
