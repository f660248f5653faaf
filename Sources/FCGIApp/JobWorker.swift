import CShims
import Data
import Documents
import Foundation
import Handlers
import Integrations
import Jobs
import Logging
import Observability
import Quotas

nonisolated(unsafe) private var jobWorkerStopping: sig_atomic_t = 0
/// Written by the SIGTERM handler so a wait for notifications ends at once.
nonisolated(unsafe) private var jobWorkerWakeWrite: Int32 = -1

private func onJobWorkerTerminate(_: Int32) {
    jobWorkerStopping = 1
    var byte: UInt8 = 1
    let saved = errno
    _ = write(jobWorkerWakeWrite, &byte, 1)
    errno = saved
}

/// One job-worker process: claims jobs from PostgreSQL (`FOR UPDATE SKIP LOCKED`), runs
/// them one at a time, and sleeps on `LISTEN assay_jobs` when there is nothing to do.
///
/// A heartbeat thread with its own connection extends the current job's lease, so a job
/// whose process dies (or hangs past its lease) is claimed again by another worker.
/// SIGTERM: stop claiming, finish the current job, exit 0 (the master kills it after
/// the shutdown timeout; the job's lease then lapses and it is retried).
struct JobWorker {
    let configuration: Configuration
    let slot: Int
    let logger: Logger

    func run() -> Int32 {
        // The wake pipe exists before the stop handler that writes to it is installed.
        var wake: [Int32] = [-1, -1]
        guard pipe(&wake) == 0 else { return 70 }
        for fd in wake { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        jobWorkerWakeWrite = wake[1]
        guard let scoreboard = Scoreboard.startWorkerProcess(onStop: onJobWorkerTerminate, logger: logger) else { return 70 }
        let registry = buildJobRegistry(testKinds: configuration.testRoutes, documents: configuration.documents,
                                        extraction: configuration.extraction, connections: configuration.connections,
                                        exports: configuration.exports)
        let database = Database(url: configuration.databaseURL, application: "assay-jobs")
        let listener = Database(url: configuration.databaseURL, application: "assay-jobs")
        let name = "\(ProcessInfo.processInfo.hostName):\(getpid())"
        let lease = configuration.jobLeaseSeconds
        let heartbeat = Heartbeat(url: configuration.databaseURL, worker: name, leaseSeconds: lease, logger: logger)
        heartbeat.start()
        scoreboard.setState(slot, .idle)
        var listeningOn = -1
        var lastSweep = Date.distantPast
        var lastPeriodic: [Int: Date] = [:]

        while jobWorkerStopping == 0 {
            do {
                // LISTEN again whenever the listener's connection was re-opened.
                try listener.connect()
                if listener.generation != listeningOn {
                    try listener.listen(JobRepository.channel)
                    listeningOn = listener.generation
                }
                let jobs = JobRepository(database)
                if Date().timeIntervalSince(lastSweep) > 5 {
                    let abandoned = try jobs.failAbandoned()
                    if abandoned > 0 { logger.warning("jobs abandoned by dead workers failed", metadata: ["jobs": .stringConvertible(abandoned)]) }
                    lastSweep = Date()
                }
                for (index, task) in registry.periodicTasks.enumerated()
                where Date().timeIntervalSince(lastPeriodic[index] ?? .distantPast) >= task.seconds {
                    lastPeriodic[index] = Date()
                    do {
                        try task.run(database)
                    } catch {
                        logger.warning("periodic task failed", metadata: ["error": "\(error)"])
                    }
                }
                // Quota counts of requests served while no request came after them reach
                // PostgreSQL here (FastCGI workers add them after their responses).
                if let error = QuotaLedger.shared?.flushIfDue(db: database) {
                    logger.warning("quota counts not added to the database yet", metadata: ["error": "\(error)"])
                }
                guard let job = try jobs.claim(worker: name, leaseSeconds: lease) else {
                    _ = try listener.waitForNotifications(timeout: 1, interrupt: wake[0])
                    continue
                }
                scoreboard.setState(slot, .busy)
                heartbeat.current = job.id
                // What tesseract, leptonica or poppler print meanwhile is logged with the job's id.
                NativeOutput.during(job: job.id.lower) {
                    execute(job, registry: registry, database: database, worker: name)
                }
                heartbeat.current = nil
                scoreboard.setState(slot, .idle)
            } catch {
                // The database went away: wait a little and reconnect.
                logger.warning("job worker cannot reach the database", metadata: ["error": "\(error)"])
                sleep(1)
            }
        }
        scoreboard.setState(slot, .stopping)
        OCREngine.endForThisProcess()
        return 0
    }

    private func execute(_ job: JobRecord, registry: JobRegistry, database: Database, worker: String) {
        let started = Date()
        let jobs = JobRepository(database)
        var metadata: Logger.Metadata = [
            "job.id": "\(job.id)", "job.kind": "\(job.kind)", "job.attempt": .stringConvertible(job.attempts),
        ]
        logger.info("job started", metadata: metadata)
        PeakMemory.reset()
        do {
            guard let handler = registry.handler(for: job.kind) else {
                throw PermanentJobError("no handler for job kind \(job.kind)")
            }
            let result = try handler(JobContext(job: job, database: database, logger: logger, worker: worker))
            try jobs.succeed(id: job.id, worker: worker, result: result.serializedText)
            metadata["job.status"] = .string(JobStatus.succeeded.rawValue)
        } catch {
            let permanent = error is PermanentJobError
            // Exponential backoff: 2, 4, 8 … seconds, at most 5 minutes.
            let retryAfter = min(300, 1 << min(job.attempts, 8))
            let status = try? jobs.fail(id: job.id, worker: worker, error: "\(error)", retryable: !permanent, retryAfter: retryAfter)
            metadata["job.status"] = .string(status?.rawValue ?? "unknown")
            metadata["error"] = "\(error)"
        }
        let seconds = Date().timeIntervalSince(started)
        // Outcome: succeeded, queued (to be retried), failed or cancelled.
        let outcome = metadata["job.status"].map { "\($0)" } ?? "unknown"
        Metrics.histogram(.jobDuration, ["kind": job.kind.rawValue, "outcome": outcome]).observe(seconds: seconds)
        metadata["duration_ms"] = .stringConvertible(Int(seconds * 1000))
        // A huge image must not make a worker balloon (scripts/bench checks the same through /proc).
        if let peak = PeakMemory.kilobytes() { metadata["job.peak_rss_kb"] = .stringConvertible(peak) }
        // Freed memory goes back to the system: the next job starts from the worker's own
        // size, not from what the last one left in malloc's free lists.
        malloc_trim(0)
        logger.info("job finished", metadata: metadata)
    }
}

/// Extends the lease of the job in progress from a thread of its own, with its own
/// connection, so a long step in the job's code cannot let the lease lapse.
final class Heartbeat: @unchecked Sendable {
    private let lock = NSLock()
    private var _current: UUID?
    private let url: String
    private let worker: String
    private let leaseSeconds: Int
    private let logger: Logger

    init(url: String, worker: String, leaseSeconds: Int, logger: Logger) {
        self.url = url
        self.worker = worker
        self.leaseSeconds = leaseSeconds
        self.logger = logger
    }

    var current: UUID? {
        get { lock.withLock { _current } }
        set { lock.withLock { _current = newValue } }
    }

    func start() {
        let thread = Thread { [self] in
            // Signals belong to the main thread: SIGTERM must interrupt its poll().
            var all = sigset_t()
            sigfillset(&all)
            pthread_sigmask(SIG_BLOCK, &all, nil)
            let database = Database(url: url, application: "assay-jobs")
            while true {
                Thread.sleep(forTimeInterval: max(1, Double(leaseSeconds) / 3))
                guard let job = current else { continue }
                do {
                    _ = try JobRepository(database).heartbeat(id: job, worker: worker, leaseSeconds: leaseSeconds)
                } catch {
                    logger.warning("job heartbeat failed", metadata: ["job.id": "\(job)", "error": "\(error)"])
                }
            }
        }
        thread.start()
    }
}
