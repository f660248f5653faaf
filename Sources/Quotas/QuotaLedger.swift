import CShims
import Data
import Foundation
import Observability

/// Hourly quota counts of the pool's processes in shared memory, added to PostgreSQL about
/// once a second: a request is counted without a round trip to the database.
///
/// The master creates the ledger (an unlinked file, like the metrics store) before it starts
/// any worker; every worker maps the inherited descriptor. One counter per principal, class
/// and hour holds three numbers: `count`, the requests this host counted; `flushed`, how many
/// of them PostgreSQL has; `base`, PostgreSQL's total less this host's share when it last
/// answered (other hosts' requests). A request's number in its window is `base + count`:
/// exact for the requests of this host, whose workers take turns on the ledger (a write lock
/// on the file, which the kernel releases if the holder dies), and behind by at most a flush
/// interval for other hosts' requests.
///
/// A principal's first request of an hour on this host is counted in PostgreSQL directly
/// (`QuotaRepository.charge`), which gives the counter its starting `base`; a process
/// restarted with an empty ledger therefore never forgets what was counted before. Such first
/// requests take turns on a second lock (their database answer and the new counter must not
/// interleave with another's), the hot path's lock is never held across a database call. Counts
/// reach PostgreSQL when a request finds the last flush a second old, when a job worker's
/// loop comes round (idle pools) and when a FastCGI worker stops: a crash of the whole host
/// loses at most the last second's counting. A counter that does not fit (a full ledger, a
/// principal longer than the slot) is counted in PostgreSQL on every request, as before.
///
/// Layout, in 64-bit words: a header of 8 words (magic, version, capacity, last flush in
/// monotonic nanoseconds, the flush in progress's start or 0, slots ever used: scans stop
/// there, so the file's untouched pages cost no memory), then `capacity` entries of 16:
///
///     0 state (0 free, 1 in use)   1 window (the hour's start, seconds since 1970)
///     2 count   3 flushed   4 base (signed)   5 identity length in bytes
///     6..<16 identity: `class principal` in UTF-8, at most 80 bytes
public final class QuotaLedger: @unchecked Sendable {
    static let entryWords = 16
    static let layout = SharedTable.Layout(name: "quotas", magic: 0x4153_5341_5951_544C, // "ASSAYQTL"
                                           version: 1, headerWords: 8, entryWords: entryWords)
    static let identityOffset = 6
    static let identityBytes = (entryWords - identityOffset) * 8
    /// Counters in a ledger made by `create`: principals active in one hour on one host.
    public static let defaultCapacity = 4096
    /// How old the last flush may be before a request adds the counts to PostgreSQL.
    static let flushNanoseconds: UInt64 = 1_000_000_000
    /// A flush that has not finished after this long is taken to have died with its process.
    static let staleFlushNanoseconds: UInt64 = 10_000_000_000

    private let table: SharedTable
    /// The descriptor of the shared file; workers inherit it.
    public var fd: Int32 { table.fd }
    public var capacity: Int { table.capacity }
    private var words: UnsafeMutablePointer<UInt64> { table.words }
    /// The file locks are a process's; threads of one process take turns here first.
    private let threadLock = NSLock()
    private let threadClaimLock = NSLock()
    /// Where this process last found each counter (checked before use: slots are reused).
    private var known: [[UInt8]: Int] = [:]

    /// The ledger this process counts into; nil outside the pool (`assay extract`, unit tests).
    nonisolated(unsafe) public private(set) static var shared: QuotaLedger?

    /// Makes `ledger` this process's; call once, before any thread exists.
    public static func install(_ ledger: QuotaLedger) { shared = ledger }

    /// Counts one request in this process's ledger (in the pool: PostgreSQL hears of it within
    /// a second), or in PostgreSQL directly in a process without one.
    public static func chargeHere(principal: String, quotaClass: String, db: Database) throws -> QuotaUsage {
        try shared?.charge(principal: principal, quotaClass: quotaClass, db: db)
            ?? QuotaRepository(db).charge(principal: principal, quotaClass: quotaClass)
    }

    /// Takes back one request `chargeHere` counted in the current hour.
    public static func refundHere(principal: String, quotaClass: String, db: Database) throws {
        if let shared {
            try shared.refund(principal: principal, quotaClass: quotaClass, db: db)
        } else {
            try QuotaRepository(db).refund(principal: principal, quotaClass: quotaClass)
        }
    }

    /// Creates an empty ledger in an unlinked file under `directory` (the master).
    public static func create(directory: String, capacity: Int = defaultCapacity) throws -> QuotaLedger {
        QuotaLedger(try SharedTable.create(layout, directory: directory, capacity: capacity))
    }

    /// Maps a ledger created by another process (a worker, with the inherited descriptor).
    public static func attach(fd: Int32) throws -> QuotaLedger {
        QuotaLedger(try SharedTable.attach(layout, fd: fd))
    }

    private init(_ table: SharedTable) { self.table = table }

    // MARK: Counting

    /// Counts one request of `principal` in `quotaClass` and returns its number in the hour.
    public func charge(principal: String, quotaClass: String, db: Database, now: Date = Date()) throws -> QuotaUsage {
        let window = QuotaRepository.window(of: now)
        let windowEnd = Date(timeIntervalSince1970: Double(window + 3600))
        let identity = Array("\(quotaClass) \(principal)".utf8)
        guard identity.count <= QuotaLedger.identityBytes else {
            return try QuotaRepository(db).charge(principal: principal, quotaClass: quotaClass, window: window)
        }
        if let counted = countIfKnown(identity, window: window) { return QuotaUsage(count: counted, windowEnd: windowEnd) }
        return try claiming {
            // Another worker may have started the counter while this one waited.
            if let counted = countIfKnown(identity, window: window) { return QuotaUsage(count: counted, windowEnd: windowEnd) }
            // The first request of this counter here: PostgreSQL counts it and says how many came before.
            let usage = try QuotaRepository(db).charge(principal: principal, quotaClass: quotaClass, window: window)
            locked {
                guard let slot = claim(identity, window: window) else { return }  // full: PostgreSQL counts each request
                slot[2] = 1
                slot[3] = 1
                slot[4] = UInt64(bitPattern: Int64(usage.count - 1))
            }
            return usage
        }
    }

    /// Counts one more request on the counter of `identity` in `window` and returns its number
    /// in the hour; nil when this host has no such counter yet.
    private func countIfKnown(_ identity: [UInt8], window: Int) -> Int? {
        locked {
            guard let slot = find(identity, window: window) else { return nil }
            slot[2] &+= 1
            return Int(Int64(bitPattern: slot[4])) + Int(bitPattern: UInt(slot[2]))
        }
    }

    /// Takes back one request counted in the current hour (a refused upload): from the
    /// counts PostgreSQL does not have yet when there are any (the usual case: the refund
    /// follows its charge within the request), else in PostgreSQL and out of this host's view
    /// of the others' share. (A flush that runs meanwhile may then leave the count one too high.)
    public func refund(principal: String, quotaClass: String, db: Database, now: Date = Date()) throws {
        let window = QuotaRepository.window(of: now)
        let identity = Array("\(quotaClass) \(principal)".utf8)
        // True: taken from the counts not added yet; false: PostgreSQL has them all.
        let unadded: Bool? = identity.count > QuotaLedger.identityBytes ? nil : locked {
            guard let slot = find(identity, window: window) else { return nil }
            if Int(bitPattern: UInt(slot[2])) > Int(bitPattern: UInt(slot[3])) {
                slot[2] &-= 1
                return true
            }
            slot[4] = UInt64(bitPattern: Int64(bitPattern: slot[4]) - 1)
            return false
        }
        if unadded == true { return }
        try QuotaRepository(db).refund(principal: principal, quotaClass: quotaClass, window: window)
    }

    // MARK: Flushing

    /// Adds the counts PostgreSQL does not have yet when the last flush is older than a
    /// second and no other process is flushing. Errors are the caller's to log; the counts
    /// stay in the ledger for the next flush.
    @discardableResult
    public func flushIfDue(db: Database) -> Error? {
        let now = monotonicNanos()
        guard now &- assay_atomic_load_u64(words + 3) >= QuotaLedger.flushNanoseconds else { return nil }
        do {
            try flush(db: db, now: now)
            return nil
        } catch {
            return error
        }
    }

    /// Adds every count PostgreSQL does not have yet, now (a worker that stops; tests).
    public func flush(db: Database) throws {
        try flush(db: db, now: monotonicNanos(), force: true)
    }

    private struct Pending {
        let index: Int
        let identity: [UInt8]
        let window: Int
        let count: Int
        let delta: Int
    }

    private func flush(db: Database, now: UInt64, force: Bool = false) throws {
        let currentWindow = QuotaRepository.window(of: Date())
        let pending: [Pending]? = locked {
            let started = words[4]
            if started != 0, now &- started < QuotaLedger.staleFlushNanoseconds { return nil }
            if !force, now &- words[3] < QuotaLedger.flushNanoseconds { return nil }
            var pending: [Pending] = []
            for index in 0..<used {
                let slot = entry(index)
                guard slot[0] == 1 else { continue }
                let window = Int(bitPattern: UInt(slot[1]))
                let count = Int(bitPattern: UInt(slot[2])), flushed = Int(bitPattern: UInt(slot[3]))
                if count > flushed {
                    pending.append(Pending(index: index, identity: identity(slot), window: window, count: count, delta: count - flushed))
                    slot[3] = slot[2]
                } else if window < currentWindow {
                    // A past hour with nothing left to add: the slot is free again.
                    slot[0] = 0
                }
            }
            words[4] = pending.isEmpty ? 0 : max(now, 1)
            if pending.isEmpty { words[3] = now }
            return pending
        }
        guard let pending, !pending.isEmpty else { return }
        let deltas = pending.map { item -> QuotaRepository.Delta in
            let text = String(decoding: item.identity, as: UTF8.self)
            let space = text.firstIndex(of: " ") ?? text.endIndex
            return QuotaRepository.Delta(principal: String(text[text.index(after: space)...]), quotaClass: String(text[..<space]),
                                         window: item.window, count: item.delta)
        }
        let totals: [Int]
        do {
            totals = try QuotaRepository(db).add(deltas)
        } catch {
            // Not added: the counts wait for the next flush, a second later (not after every
            // response while the database is away).
            locked {
                for item in pending where matches(item) { entry(item.index)[3] &-= UInt64(item.delta) }
                words[3] = now
                words[4] = 0
            }
            throw error
        }
        locked {
            for (item, total) in zip(pending, totals) where matches(item) {
                entry(item.index)[4] = UInt64(bitPattern: Int64(total - item.count))
            }
            words[3] = now
            words[4] = 0
        }
    }

    private func matches(_ item: Pending) -> Bool {
        let slot = entry(item.index)
        return slot[0] == 1 && Int(bitPattern: UInt(slot[1])) == item.window && identity(slot) == item.identity
    }

    // MARK: Slots

    private func entry(_ index: Int) -> UnsafeMutablePointer<UInt64> { table.entry(index) }

    private func identity(_ slot: UnsafeMutablePointer<UInt64>) -> [UInt8] {
        let length = min(Int(slot[5]), QuotaLedger.identityBytes)
        return Array(UnsafeRawBufferPointer(start: slot + QuotaLedger.identityOffset, count: length))
    }

    private func holds(_ slot: UnsafeMutablePointer<UInt64>, _ identity: [UInt8], window: Int) -> Bool {
        guard slot[0] == 1, slot[1] == UInt64(UInt(bitPattern: window)), slot[5] == UInt64(identity.count) else { return false }
        return identity.withUnsafeBytes { memcmp($0.baseAddress!, slot + QuotaLedger.identityOffset, identity.count) == 0 }
    }

    /// The counter of `identity` in `window`, if the ledger has it. Under the lock.
    private func find(_ identity: [UInt8], window: Int) -> UnsafeMutablePointer<UInt64>? {
        if let index = known[identity], holds(entry(index), identity, window: window) { return entry(index) }
        for index in 0..<used where holds(entry(index), identity, window: window) {
            known[identity] = index
            return entry(index)
        }
        return nil
    }

    /// Slots ever claimed (free ones among them are reused first). Under the lock.
    private var used: Int { min(capacity, Int(words[5])) }

    /// A free slot made the counter of `identity` in `window` (count, flushed, base zero);
    /// nil when the ledger is full. Under the lock.
    private func claim(_ identity: [UInt8], window: Int) -> UnsafeMutablePointer<UInt64>? {
        let free = (0..<used).first { entry($0)[0] == 0 } ?? (used < capacity ? used : nil)
        if let index = free {
            if index == used { words[5] = UInt64(used + 1) }
            let slot = entry(index)
            slot[1] = UInt64(UInt(bitPattern: window))
            slot[2] = 0
            slot[3] = 0
            slot[4] = 0
            slot[5] = UInt64(identity.count)
            UnsafeMutableRawPointer(slot + QuotaLedger.identityOffset).copyMemory(from: identity, byteCount: identity.count)
            slot[0] = 1
            if known.count > 4 * capacity { known.removeAll(keepingCapacity: true) }
            known[identity] = index
            return slot
        }
        return nil
    }

    /// Under the ledger's lock (byte 0 of the file): every read and change of a slot.
    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        try holding(byte: 0, threadLock, body)
    }

    /// Under the lock of first requests (byte 1), which may be held across a database call.
    private func claiming<T>(_ body: () throws -> T) rethrows -> T {
        try holding(byte: 1, threadClaimLock, body)
    }

    private func holding<T>(byte: Int32, _ threadLock: NSLock, _ body: () throws -> T) rethrows -> T {
        threadLock.lock()
        defer { threadLock.unlock() }
        // The lock cannot fail on a descriptor the process holds open; if it ever did, counting
        // on without it risks a miscount, not a crash or a hang.
        _ = assay_file_lock(fd, byte, 1)
        defer { _ = assay_file_lock(fd, byte, 0) }
        return try body()
    }
}

