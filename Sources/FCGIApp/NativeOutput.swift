import CShims
import Data
import Foundation
import JSONValues
import Logging

/// C libraries in the worker processes (tesseract, leptonica, poppler, glib, the MariaDB
/// client) print their warnings to stderr, a few to stdout. So that `assay.log` stays one JSON
/// object per line, `capture` turns fds 1 and 2 into a pipe whose reader thread writes every
/// line it gets as a log record (`"msg":"native output"`, the text in `line`, and `job.id`
/// while a job runs); the JSON log itself goes on to the original stderr.
enum NativeOutput {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var currentJob: String?
    nonisolated(unsafe) private static var capturing = false
    nonisolated(unsafe) private static var minimumLevel: Logger.Level = .warning
    private static let drained = DispatchSemaphore(value: 0)
    /// Written to the pipe by `drain`; the reader signals when it reaches it.
    private static let marker: [UInt8] = Array("\u{1}assay: native output drained".utf8)

    /// Starts capturing in this process (once; call before any library prints). Lines are
    /// logged as warnings, and not at all when `level` is above warning.
    static func capture(level: Logger.Level) {
        guard !capturing else { return }
        var fds: [Int32] = [-1, -1]
        let logFD = dup(2)
        guard logFD >= 0, pipe(&fds) == 0 else { return }
        for fd in [logFD, fds[0]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        JSONLogHandler.outputFD = logFD
        minimumLevel = level
        _ = dup2(fds[1], 1)
        _ = dup2(fds[1], 2)
        close(fds[1])
        capturing = true
        let reader = fds[0]
        // At a crash, what the reader thread has not taken yet is copied by a signal handler.
        _ = assay_drain_output_on_crash(reader, logFD)
        // The reader thread blocks every signal (it inherits the mask it is created with):
        // SIGTERM and SIGHUP must reach the main thread, whose blocking accept() or poll()
        // they interrupt.
        var all = sigset_t(), previous = sigset_t()
        sigfillset(&all)
        pthread_sigmask(SIG_BLOCK, &all, &previous)
        Thread.detachNewThread { readLines(from: reader) }
        pthread_sigmask(SIG_SETMASK, &previous, nil)
    }

    /// Logs the database server's notices and warnings (libpq would print them to stderr).
    static func logDatabaseNotices(with logger: Logger) {
        DatabaseNotices.handler = { message in
            logger.warning("database notice", metadata: ["notice": "\(message)"])
        }
    }

    /// Runs `body` (a job) with what the libraries print meanwhile attributed to `job`; on
    /// return everything printed has been logged.
    static func during<T>(job: String, _ body: () throws -> T) rethrows -> T {
        guard capturing else { return try body() }
        setJob(job)
        defer {
            drain()
            setJob(nil)
        }
        return try body()
    }

    private static func setJob(_ job: String?) {
        lock.lock()
        currentJob = job
        lock.unlock()
    }

    /// Waits (at most 2 s) until the reader has logged everything written before this call.
    private static func drain() {
        fflush(nil)  // every C stream
        // A newline first ends a line a library left open, so the marker is a line of its own.
        let line = [10] + marker + [10]
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        _ = drained.wait(timeout: .now() + 2)
    }

    private static func readLines(from fd: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0, errno == EINTR { continue }
            if count <= 0 { return }
            pending.append(contentsOf: buffer[0..<count])
            while let newline = pending.firstIndex(of: 10) {
                handle(Array(pending[..<newline]))
                pending.removeSubrange(...newline)
            }
            // A line without an end, too long to hold: log what came so far.
            if pending.count > 16_384 {
                handle(pending)
                pending.removeAll()
            }
        }
    }

    private static func handle(_ bytes: [UInt8]) {
        if bytes == marker {
            drained.signal()
            return
        }
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty, minimumLevel <= .warning else { return }
        lock.lock()
        let job = currentJob
        lock.unlock()
        var metadata: [(String, JSON)] = [("line", .string(text))]
        if let job { metadata.append(("job.id", .string(job))) }
        JSONLogHandler.write(level: .warning, message: "native output", metadata: metadata)
    }
}
