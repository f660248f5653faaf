import CShims
import Foundation

/// The pool's metrics: a fixed-size table of series in a shared file mapping, so that every
/// worker process adds to the same counters and a scrape in any worker sees them all.
///
/// The master creates the file (unlinked at once, like the scoreboard) before it starts any
/// worker; each worker inherits the descriptor and maps it. Counts live only in the mapping:
/// a worker that crashes or is recycled loses nothing it already counted.
///
/// Layout, in 64-bit words: a header of 8 words (magic, version, capacity, entries claimed),
/// then `capacity` entries of 64 words each:
///
///     0 state (0 = being written, 1 = published)   1 type (1 counter, 2 histogram)
///     2 bucket layout (`HistogramBuckets` raw value) 3 identity length in bytes
///     4..<20 values: a counter's total in word 4; a histogram's per-bucket counts (not
///            cumulative; the last bucket is +Inf) and its sum in micro-units in word 19
///     20..<64 identity: `family{label="value",…}` in UTF-8, at most 352 bytes
///
/// A series is found by its identity in a per-process cache, or else by a scan of the table,
/// or else claimed with one atomic add on the header's count: no lock, so a process that
/// dies at any point cannot block the others. Two processes claiming the same new series at
/// the same moment may both get an entry; a scrape adds entries of one identity together.
public final class MetricsStore: @unchecked Sendable {
    public enum Kind: UInt64, Sendable { case counter = 1, histogram = 2 }

    static let entryWords = 64
    static let layout = SharedTable.Layout(name: "metrics", magic: 0x4153_5341_594D_4554, // "ASSAYMET"
                                           version: 1, headerWords: 8, entryWords: entryWords)
    static let valueOffset = 4
    static let valueWords = 16
    static let nameOffset = 20
    static let nameBytes = (entryWords - nameOffset) * 8
    /// Entries in a store made by `create`: routes × statuses, histograms and domain series fit.
    public static let defaultCapacity = 4096

    private let table: SharedTable
    /// The descriptor of the shared file; workers inherit it.
    public var fd: Int32 { table.fd }
    public var capacity: Int { table.capacity }
    private var words: UnsafeMutablePointer<UInt64> { table.words }
    private let lock = NSLock()
    private var cache: [String: Int] = [:]

    /// Creates an empty store in an unlinked file under `directory` (the master, before it
    /// starts any worker). The file is sparse: only pages that hold series use memory.
    public static func create(directory: String, capacity: Int = defaultCapacity) throws -> MetricsStore {
        MetricsStore(try SharedTable.create(layout, directory: directory, capacity: capacity))
    }

    /// Maps a store created by another process (a worker, with the inherited descriptor).
    public static func attach(fd: Int32) throws -> MetricsStore {
        MetricsStore(try SharedTable.attach(layout, fd: fd))
    }

    private init(_ table: SharedTable) { self.table = table }

    private func entry(_ index: Int) -> UnsafeMutablePointer<UInt64> { table.entry(index) }

    // MARK: Writing

    /// The entry of the series `identity`, claimed if no process has it yet; nil when the
    /// table is full or the identity too long (the sample is then dropped, never a crash).
    func series(_ identity: String, kind: Kind, buckets: HistogramBuckets?) -> Int? {
        lock.lock()
        defer { lock.unlock() }
        if let index = cache[identity] { return index }
        let bytes = Array(identity.utf8)
        guard bytes.count <= MetricsStore.nameBytes else { return nil }
        if let index = find(bytes) {
            cache[identity] = index
            return index
        }
        let index = Int(assay_atomic_add_u64(words + 3, 1) - 1)
        guard index < capacity else { return nil }
        let slot = entry(index)
        slot[1] = kind.rawValue
        slot[2] = UInt64(buckets?.rawValue ?? 0)
        slot[3] = UInt64(bytes.count)
        UnsafeMutableRawPointer(slot + MetricsStore.nameOffset).copyMemory(from: bytes, byteCount: bytes.count)
        assay_atomic_store_u64(slot, 1)
        cache[identity] = index
        return index
    }

    private func find(_ bytes: [UInt8]) -> Int? {
        let claimed = min(capacity, Int(assay_atomic_load_u64(words + 3)))
        for index in 0..<claimed {
            let slot = entry(index)
            guard assay_atomic_load_u64(slot) == 1, slot[3] == UInt64(bytes.count) else { continue }
            let equal = bytes.withUnsafeBytes { memcmp($0.baseAddress!, slot + MetricsStore.nameOffset, bytes.count) == 0 }
            if equal { return index }
        }
        return nil
    }

    func add(_ index: Int, value word: Int, _ amount: UInt64) {
        _ = assay_atomic_add_u64(entry(index) + MetricsStore.valueOffset + word, amount)
    }

    // MARK: Reading

    /// One series as a scrape reads it, entries of the same identity added together.
    public struct Series: Sendable {
        public let family: String
        /// The label pairs as written, `key="value",…`, or empty.
        public let labels: String
        public let kind: Kind
        public let buckets: HistogramBuckets?
        /// A counter's total, or a histogram's per-bucket counts (not cumulative) then its sum
        /// in micro-units.
        public var values: [UInt64]
    }

    /// Every published series, in the order they were first claimed.
    public func snapshot() -> [Series] {
        let claimed = min(capacity, Int(assay_atomic_load_u64(words + 3)))
        var order: [String] = []
        var byIdentity: [String: Series] = [:]
        for index in 0..<claimed {
            let slot = entry(index)
            guard assay_atomic_load_u64(slot) == 1, let kind = Kind(rawValue: slot[1]) else { continue }
            let length = min(Int(slot[3]), MetricsStore.nameBytes)
            let identity = String(decoding: UnsafeRawBufferPointer(start: slot + MetricsStore.nameOffset, count: length), as: UTF8.self)
            let values = (0..<MetricsStore.valueWords).map { assay_atomic_load_u64(slot + MetricsStore.valueOffset + $0) }
            if var existing = byIdentity[identity] {
                existing.values = zip(existing.values, values).map { $0 &+ $1 }
                byIdentity[identity] = existing
                continue
            }
            let brace = identity.firstIndex(of: "{")
            let family = String(identity[..<(brace ?? identity.endIndex)])
            let labels = brace.map { String(identity[identity.index(after: $0)...].dropLast()) } ?? ""
            order.append(identity)
            byIdentity[identity] = Series(family: family, labels: labels, kind: kind,
                                          buckets: kind == .histogram ? HistogramBuckets(rawValue: Int(slot[2])) : nil,
                                          values: values)
        }
        return order.map { byIdentity[$0]! }
    }
}

