import ArgumentParser
import Data
import Foundation
import Handlers
import Logging

/// Options shared by `serve` and the workers it starts.
struct ServeOptions: ParsableArguments {
    @Option(help: "PostgreSQL URL (env DATABASE_URL).") var databaseURL: String?
    @Option(help: "FastCGI unix socket path (env ASSAY_SOCKET).") var socket: String?
    @Option(help: "Socket permissions in octal (env ASSAY_SOCKET_MODE).") var socketMode: String?
    @Option(help: "Group that owns the socket (env ASSAY_SOCKET_GROUP).") var socketGroup: String?
    @Option(help: "FastCGI worker processes (env ASSAY_WORKERS).") var workers: Int?
    @Option(help: "Job worker processes (env ASSAY_JOB_WORKERS).") var jobWorkers: Int?
    @Option(help: "Recycle a worker after N requests, 0 = never (env ASSAY_MAX_REQUESTS).") var maxRequests: Int?
    @Option(help: "Seconds before a stuck request's worker is killed (env ASSAY_REQUEST_TIMEOUT).") var requestTimeout: Int?
    @Option(help: "Seconds SIGTERM waits for in-flight requests (env ASSAY_SHUTDOWN_TIMEOUT).") var shutdownTimeout: Int?
    @Option(help: "Listen backlog (env ASSAY_BACKLOG).") var backlog: Int?
    @Option(help: "Write the master's pid here (env ASSAY_PID_FILE).") var pidFile: String?
}

struct Assay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "assay",
        abstract: "Assay: documents and databases into tables, dashboards and answers.",
        discussion: Configuration.environmentHelp,
        subcommands: [Serve.self, Migrate.self, Version.self, Extract.self, Worker.self, JobWorkerCommand.self]
    )
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Migrate, open the FastCGI socket and run the worker pool.",
        discussion: """
            Signals: SIGTERM/SIGINT stop gracefully (in-flight requests finish, bounded by
            the shutdown timeout); SIGHUP replaces the workers one by one.

            \(Configuration.environmentHelp)
            """
    )
    @OptionGroup var options: ServeOptions

    func run() throws {
        let config = try configurationOrExit(options)
        let logger = makeLogger("assay.master", level: config.logLevel)
        NativeOutput.logDatabaseNotices(with: logger)
        do {
            try Master(configuration: config, logger: logger).run()
        } catch {
            logger.critical("assay serve failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

struct Migrate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @Option(help: "PostgreSQL URL (env DATABASE_URL).") var databaseURL: String?

    func run() throws {
        // Only the database is needed: no secrets, so migrations can run from a deploy step.
        guard let url = databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            FileHandle.standardError.write(Data("assay: DATABASE_URL is not set (or pass --database-url)\n".utf8))
            throw ExitCode(2)
        }
        let level = ProcessInfo.processInfo.environment["ASSAY_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info
        let logger = makeLogger("assay.migrate", level: level)
        NativeOutput.logDatabaseNotices(with: logger)
        do {
            let database = Database(url: url)
            let applied = try Migrator(database: database, migrations: try Migration.bundled(), logger: logger).migrate()
            logger.info(applied.isEmpty ? "database is up to date" : "migrations applied",
                        metadata: ["migrations.applied": "\(applied.count)"])
        } catch {
            logger.critical("migration failed", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version.")
    func run() {
        print("assay \(AssayVersion.current) (API \(AssayVersion.api))")
    }
}

/// A FastCGI worker; started by `serve` with the socket on fd 0 and the scoreboard on fd 3.
struct Worker: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Internal: one FastCGI worker.", shouldDisplay: false)
    @Option var slot: Int

    func run() throws {
        let config = try configurationOrExit(try ServeOptions.parse([]))
        let logger = makeLogger("assay.worker", level: config.logLevel)
        NativeOutput.capture(level: config.logLevel)
        NativeOutput.logDatabaseNotices(with: logger)
        let code = FastCGIWorker(configuration: config, slot: slot, logger: logger).run()
        throw ExitCode(code)
    }
}

/// A job worker; started by `serve` with the scoreboard on fd 3.
struct JobWorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job-worker", abstract: "Internal: one job worker.", shouldDisplay: false)
    @Option var slot: Int

    func run() throws {
        let config = try configurationOrExit(try ServeOptions.parse([]))
        let logger = makeLogger("assay.jobs", level: config.logLevel)
        NativeOutput.capture(level: config.logLevel)
        NativeOutput.logDatabaseNotices(with: logger)
        throw ExitCode(JobWorker(configuration: config, slot: slot, logger: logger).run())
    }
}

func configurationOrExit(_ options: ServeOptions) throws -> Configuration {
    do {
        return try Configuration.resolve(options)
    } catch let error as Configuration.Invalid {
        FileHandle.standardError.write(Data("assay: \(error.description)\n".utf8))
        throw ExitCode(2)
    }
}

func makeLogger(_ label: String, level: Logger.Level) -> Logger {
    var logger = Logger(label: label) { label in JSONLogHandler(label: label, level: level) }
    logger.logLevel = level
    return logger
}

/// tesseract runs its neural network with OpenMP, whose runtime reads its settings once,
/// when the process loads it. Left alone it runs a thread per core beside each job worker's
/// own, and on a busy 2-core machine a receipt took 5 s instead of 0.7 s, most of it spent
/// in the kernel switching threads. Assay gets its parallelism from job workers (one page
/// per process at a time), so OpenMP gets one thread: unless `OMP_THREAD_LIMIT` is set
/// already, the process starts again with it (same pid, same arguments), and every worker
/// it spawns inherits it.
func limitOpenMPThreads() {
    guard getenv("OMP_THREAD_LIMIT") == nil else { return }
    setenv("OMP_THREAD_LIMIT", "1", 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    // Only reached when exec failed: run on with OpenMP's defaults.
}

limitOpenMPThreads()
Assay.main()
