import CShims
import Data
import Foundation
import Handlers
import Integrations
import Logging
import Observability
import Quotas

/// Shared memory in which each worker publishes its state, so the master can spot a
/// request stuck past its timeout and any worker can report the pool for `/health`.
///
/// The master creates an unlinked file, maps it MAP_SHARED and passes the descriptor
/// to each worker as fd 3. Layout, in 64-bit words: a header of 8 words (1: start time,
/// 2: configured workers, 3: slots, 4: configured job workers, 5: access generation), then one
/// slot of 8 words per worker position.
final class Scoreboard: PoolStatus {
    enum State: UInt64 {
        case empty = 0, starting = 1, idle = 2, busy = 3, stopping = 4
    }

    enum Kind: UInt64 {
        case fastcgi = 0, job = 1

        /// Its name in metrics' labels.
        var label: String { self == .fastcgi ? "fastcgi" : "job" }
    }

    enum Field: Int {
        case pid = 0, state = 1, requestStarted = 2, requestsServed = 3, kind = 4
    }

    static let inheritedDescriptor: Int32 = 3
    /// Where a worker finds the pool's metrics store (`MetricsStore`).
    static let metricsDescriptor: Int32 = 4
    /// Where a worker finds the pool's quota ledger (`QuotaLedger`).
    static let quotaDescriptor: Int32 = 5
    private static let headerWords = 8
    private static let slotWords = 8

    let fd: Int32
    let slotCount: Int
    private let words: UnsafeMutablePointer<UInt64>

    /// Creates a new scoreboard (master side).
    init(directory: String, slots: Int, configuredWorkers: Int, configuredJobWorkers: Int) throws {
        var template = Array((directory + "/.assay-scoreboard-XXXXXX").utf8CString)
        let fd = try syscall("mkstemp") { template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) } }
        unlink(template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) })
        let size = (Scoreboard.headerWords + slots * Scoreboard.slotWords) * 8
        try syscall("ftruncate") { ftruncate(fd, off_t(size)) }
        self.fd = fd
        slotCount = slots
        words = try Scoreboard.map(fd: fd, size: size)
        words[1] = UInt64(Date().timeIntervalSince1970)
        words[2] = UInt64(configuredWorkers)
        words[3] = UInt64(slots)
        words[4] = UInt64(configuredJobWorkers)
    }

    /// Maps the scoreboard a worker inherited as fd 3.
    init(inherited fd: Int32) throws {
        var info = stat()
        try syscall("fstat") { fstat(fd, &info) }
        let size = Int(info.st_size)
        self.fd = fd
        words = try Scoreboard.map(fd: fd, size: size)
        slotCount = Int(words[3])
    }

    /// Start-up shared by both worker kinds: libcurl initialised before any thread
    /// exists, SIGPIPE ignored, the stop handlers installed (without SA_RESTART), and the
    /// inherited scoreboard, metrics store and quota ledger mapped. Nil (after logging) when
    /// the scoreboard is unusable; without the metrics store the worker runs on and counts
    /// nothing, without the ledger it counts quotas in PostgreSQL.
    static func startWorkerProcess(onStop: @convention(c) (Int32) -> Void, logger: Logger) -> Scoreboard? {
        Curl.globalInit()
        signal(SIGPIPE, SIG_IGN)
        assay_install_handler(SIGTERM, onStop)
        assay_install_handler(SIGINT, onStop)
        do {
            Metrics.install(try MetricsStore.attach(fd: metricsDescriptor))
            DataError.observer = { error in Metrics.counter(.databaseErrors, ["kind": error.kind]).add() }
        } catch {
            logger.error("worker cannot map the metrics store; its work is not counted", metadata: ["error": "\(error)"])
        }
        do {
            QuotaLedger.install(try QuotaLedger.attach(fd: quotaDescriptor))
        } catch {
            logger.error("worker cannot map the quota ledger; quotas are counted in PostgreSQL", metadata: ["error": "\(error)"])
        }
        do {
            return try Scoreboard(inherited: inheritedDescriptor)
        } catch {
            logger.critical("worker cannot map the scoreboard", metadata: ["error": "\(error)"])
            return nil
        }
    }

    private static func map(fd: Int32, size: Int) throws -> UnsafeMutablePointer<UInt64> {
        guard let raw = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), raw != MAP_FAILED else {
            throw SystemError(call: "mmap", errno: errno)
        }
        return raw.bindMemory(to: UInt64.self, capacity: size / 8)
    }

    private func pointer(_ slot: Int, _ field: Field) -> UnsafeMutablePointer<UInt64> {
        words + Scoreboard.headerWords + slot * Scoreboard.slotWords + field.rawValue
    }

    func load(_ slot: Int, _ field: Field) -> UInt64 { assay_atomic_load_u64(pointer(slot, field)) }
    func store(_ slot: Int, _ field: Field, _ value: UInt64) { assay_atomic_store_u64(pointer(slot, field), value) }
    func increment(_ slot: Int, _ field: Field) { _ = assay_atomic_add_u64(pointer(slot, field), 1) }

    func state(_ slot: Int) -> State { State(rawValue: load(slot, .state)) ?? .empty }
    func setState(_ slot: Int, _ state: State) { store(slot, .state, state.rawValue) }

    /// Marks a slot as taken by a freshly spawned worker.
    func claim(_ slot: Int, pid: pid_t, kind: Kind) {
        store(slot, .kind, kind.rawValue)
        store(slot, .requestStarted, 0)
        store(slot, .requestsServed, 0)
        setState(slot, .starting)
        store(slot, .pid, UInt64(pid))
    }

    func release(_ slot: Int) {
        store(slot, .pid, 0)
        store(slot, .requestStarted, 0)
        setState(slot, .empty)
    }

    func freeSlot() -> Int? {
        (0..<slotCount).first { load($0, .pid) == 0 }
    }

    // MARK: PoolStatus

    private func live(_ kind: Kind) -> Int {
        (0..<slotCount).filter {
            load($0, .pid) != 0 && load($0, .kind) == kind.rawValue && [.idle, .busy].contains(state($0))
        }.count
    }

    var liveWorkers: Int { live(.fastcgi) }
    var busyWorkers: Int {
        (0..<slotCount).filter { load($0, .pid) != 0 && load($0, .kind) == Kind.fastcgi.rawValue && state($0) == .busy }.count
    }
    var liveJobWorkers: Int { live(.job) }
    var configuredWorkers: Int { Int(assay_atomic_load_u64(words + 2)) }
    var configuredJobWorkers: Int { Int(assay_atomic_load_u64(words + 4)) }

    var startedAt: Date { Date(timeIntervalSince1970: TimeInterval(assay_atomic_load_u64(words + 1))) }

    /// Header word 5: moved by `bumpAccessGeneration` (see `AccessCache`).
    var accessGeneration: UInt64 { assay_atomic_load_u64(words + 5) }

    /// Tells every worker to forget the sessions and API keys it kept: called after a request
    /// that may have changed them, before its response leaves.
    func bumpAccessGeneration() { _ = assay_atomic_add_u64(words + 5, 1) }
}
