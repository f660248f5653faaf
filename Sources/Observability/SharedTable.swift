import CShims
import Foundation

/// A table of 64-bit words in a file mapping that every process of the pool shares: the
/// metrics store's series and the quota ledger's counters. A header of `headerWords` (magic,
/// version and capacity first, written and checked by CShims' `assay_shared_table_*`), then
/// `capacity` entries of `entryWords` each. The master creates it in an unlinked file before it
/// starts any worker; each worker maps it through the descriptor it inherits.
public struct SharedTable {
    /// What a kind of table is: its file's name, its magic number and version, its word counts.
    public struct Layout: Sendable {
        public let name: String
        public let magic: UInt64
        public let version: UInt64
        public let headerWords: Int
        public let entryWords: Int

        public init(name: String, magic: UInt64, version: UInt64, headerWords: Int, entryWords: Int) {
            self.name = name
            self.magic = magic
            self.version = version
            self.headerWords = headerWords
            self.entryWords = entryWords
        }
    }

    /// The descriptor of the shared file; workers inherit it.
    public let fd: Int32
    /// The header's first word; entry `i` starts at `entry(i)`.
    public let words: UnsafeMutablePointer<UInt64>
    public let capacity: Int
    private let layout: Layout

    /// Creates an empty table of `capacity` entries in an unlinked file under `directory`. The
    /// file is sparse: only pages that hold entries use memory.
    public static func create(_ layout: Layout, directory: String, capacity: Int) throws -> SharedTable {
        let size = (layout.headerWords + capacity * layout.entryWords) * 8
        var fd: Int32 = -1, failed: UnsafePointer<CChar>?
        guard let words = assay_shared_table_create(directory, ".assay-\(layout.name)-XXXXXX", size, layout.magic,
                                                      layout.version, UInt64(capacity), &fd, &failed)
        else { throw SharedTableError(call: failed.map { String(cString: $0) } ?? "mmap", errno: errno) }
        return SharedTable(fd: fd, words: words, size: size, layout: layout)
    }

    /// Maps a table another process created, through the descriptor `fd`.
    public static func attach(_ layout: Layout, fd: Int32) throws -> SharedTable {
        var size = 0, failed: UnsafePointer<CChar>?
        guard let words = assay_shared_table_attach(fd, layout.magic, layout.version, layout.headerWords * 8, &size, &failed)
        else { throw SharedTableError(call: failed.map { String(cString: $0) } ?? "mmap", errno: errno) }
        return SharedTable(fd: fd, words: words, size: size, layout: layout)
    }

    private init(fd: Int32, words: UnsafeMutablePointer<UInt64>, size: Int, layout: Layout) {
        self.fd = fd
        self.words = words
        self.layout = layout
        capacity = (size / 8 - layout.headerWords) / layout.entryWords
    }

    /// The first word of entry `index`.
    public func entry(_ index: Int) -> UnsafeMutablePointer<UInt64> {
        words + layout.headerWords + index * layout.entryWords
    }
}

/// A system call on a shared table failed.
public struct SharedTableError: Error, CustomStringConvertible {
    public let call: String
    public let errno: Int32
    public var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
}

/// Monotonic clock in nanoseconds, comparable across the processes of this machine.
public func monotonicNanos() -> UInt64 {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
}
