import Data
import JSONValues
import Foundation
import Logging

/// What a job's code may use while it runs.
public final class JobContext {
    public let job: JobRecord
    public let database: Database
    public let logger: Logger
    let worker: String

    public init(job: JobRecord, database: Database, logger: Logger, worker: String) {
        self.job = job
        self.database = database
        self.logger = logger
        self.worker = worker
    }

    /// The payload as JSON.
    public var payload: JSON { (try? JSON.parse(Array(job.payload.utf8))) ?? [:] }

    /// The id the payload names under `key` (every kind's payload names what it works on);
    /// a payload without one can never work, so the job fails at once.
    public func payloadID(_ key: String) throws -> UUID {
        guard case .string(let text)? = payload[key], let id = UUID(uuidString: text) else {
            throw PermanentJobError("the job has no \(key)")
        }
        return id
    }

    /// Records progress (e.g. pages done of total), visible to clients polling the job.
    public func progress(done: Int, total: Int?, note: String? = nil) {
        do {
            try JobRepository(database).progress(id: job.id, worker: worker, done: done, total: total, note: note)
        } catch {
            logger.warning("progress update failed", metadata: ["job.id": "\(job.id)", "error": "\(error)"])
        }
    }
}

/// A failure that retrying cannot fix (bad input); the job fails at once.
public struct PermanentJobError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The code behind one job kind. Returns the job's result document.
public typealias JobHandler = (JobContext) throws -> JSON

/// Job kinds by name. Each area registers its own (extraction, exports, ETL…).
public final class JobRegistry {
    private var handlers: [JobKind: JobHandler] = [:]

    public init() {}

    public func register(_ kind: JobKind, _ handler: @escaping JobHandler) {
        precondition(handlers[kind] == nil, "job kind \(kind) registered twice")
        handlers[kind] = handler
    }

    public func handler(for kind: JobKind) -> JobHandler? { handlers[kind] }

    /// Work a job worker does between jobs every `seconds` (e.g. firing due schedules).
    public private(set) var periodicTasks: [(seconds: Double, run: (Database) throws -> Void)] = []

    public func periodic(every seconds: Double, _ task: @escaping (Database) throws -> Void) {
        periodicTasks.append((seconds, task))
    }
}

extension JobKind {
    /// Sleeps, reporting progress, and fails its first attempts on request; prints `stderr`
    /// (`TestJobs`).
    public static let testSleep = JobKind(rawValue: "test.sleep")
    /// Always fails permanently (`TestJobs`).
    public static let testInvalid = JobKind(rawValue: "test.invalid")
}

/// Job kinds used by the integration tests (only with `ASSAY_TEST_ROUTES=1`).
public enum TestJobs {
    public static func register(on registry: JobRegistry) {
        // Sleeps `ms` in steps, reporting progress; fails its first `fail_times` attempts.
        registry.register(.testSleep) { context in
            var payload = FieldReader(context.payload)
            let total = payload.int("ms", required: false, range: 1...600_000) ?? 1000
            let failTimes = payload.int("fail_times", required: false, range: 0...10) ?? 0
            // Written to fd 2, where tesseract or leptonica print their warnings.
            if let text = payload.string("stderr", required: false, maxLength: 1000) {
                FileHandle.standardError.write(Data((text + "\n").utf8))
            }
            let steps = max(1, total / 100)
            for step in 1...steps {
                usleep(useconds_t(total * 1000 / steps))
                context.progress(done: step, total: steps, note: "step \(step) of \(steps)")
            }
            if context.job.attempts <= failTimes { throw TestFailure(attempt: context.job.attempts) }
            return ["slept_ms": .int(Int64(total)), "attempt": .int(Int64(context.job.attempts)), "pid": .int(Int64(getpid()))]
        }
        registry.register(.testInvalid) { _ in throw PermanentJobError("the payload can never work") }
    }

    struct TestFailure: Error, CustomStringConvertible {
        let attempt: Int
        var description: String { "planned failure on attempt \(attempt)" }
    }
}
