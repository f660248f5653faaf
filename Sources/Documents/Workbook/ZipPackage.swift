import CZip
import Foundation

/// A zip archive opened read-only through libzip, for the parts of an Office Open XML
/// package (an .xlsx is one).
///
/// Nothing is inflated until a part is opened, and an opened part never yields more bytes
/// than its entry declares: callers check the declared sizes against their limits first
/// (`WorkbookLimits`), so a zip bomb is refused from its directory, and one whose directory
/// lies is stopped at the size it claimed.
final class ZipPackage {
    struct Entry {
        let index: UInt64
        let name: String
        let size: UInt64
        let compressedSize: UInt64
        let encrypted: Bool
    }

    private let archive: OpaquePointer
    /// Entries by their name in lower case: part names are case-insensitive in a package.
    private let entriesByName: [String: Entry]

    var names: [String] { entriesByName.values.map(\.name) }

    /// Opens the archive; a file libzip cannot read as a consistent zip is `corrupt_document`.
    init(path: String, maxEntries: Int) throws {
        var code: Int32 = 0
        // ZIP_CHECKCONS compares each local header with the central directory, so a damaged
        // file is refused here rather than halfway through a part.
        guard let archive = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code) else {
            var error = zip_error_t()
            zip_error_init_with_code(&error, code)
            defer { zip_error_fini(&error) }
            throw DocumentProblem("corrupt_document",
                                  "the XLSX file is damaged: its zip cannot be read (\(String(cString: zip_error_strerror(&error))))")
        }
        self.archive = archive
        let count = zip_get_num_entries(archive, 0)
        guard count <= maxEntries else {
            zip_discard(archive)
            throw DocumentProblem("archive_too_large", "the XLSX file holds \(count) zip entries; the limit is \(maxEntries)")
        }
        var entries: [String: Entry] = [:]
        for index in 0..<UInt64(max(count, 0)) {
            var stat = zip_stat_t()
            guard zip_stat_index(archive, index, 0, &stat) == 0, let name = stat.name else { continue }
            let entry = Entry(index: index, name: String(cString: name), size: stat.size, compressedSize: stat.comp_size,
                              encrypted: stat.encryption_method != UInt16(ZIP_EM_NONE))
            entries[entry.name.lowercased()] = entry
        }
        entriesByName = entries
    }

    deinit { zip_discard(archive) }

    func entry(_ name: String) -> Entry? { entriesByName[name.lowercased()] }

    /// A stream of the part's inflated bytes, at most its declared size.
    func open(_ entry: Entry) throws -> ZipPartStream {
        guard !entry.encrypted else {
            throw DocumentProblem("encrypted_document", "the XLSX part \(entry.name) is encrypted")
        }
        guard let file = zip_fopen_index(archive, entry.index, 0) else {
            throw DocumentProblem("corrupt_document",
                                  "the XLSX file is damaged: \(entry.name) cannot be opened (\(String(cString: zip_strerror(archive))))")
        }
        return ZipPartStream(file: file, entry: entry, owner: self)
    }

    /// Whether the file's local headers name an `xl/` part: how a zip too damaged for libzip
    /// to open (cut short, its central directory lost) is still known to be a workbook.
    static func localHeadersNameWorkbookPart(path: String) -> Bool {
        guard let data = try? Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) else { return false }
        let signature: [UInt8] = [0x50, 0x4B, 0x03, 0x04], prefix = Array("xl/".utf8)
        return data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) -> Bool in
            guard let base = bytes.baseAddress else { return false }
            var offset = 0
            // memchr finds each "P" at memory speed; the rest of the signature is checked here.
            while offset + 30 + prefix.count <= bytes.count,
                  let found = memchr(base + offset, Int32(signature[0]), bytes.count - offset - 30 - prefix.count + 1) {
                let at = base.distance(to: UnsafeRawPointer(found))
                let nameLength = Int(bytes[at + 26]) | Int(bytes[at + 27]) << 8
                if (1..<4).allSatisfy({ bytes[at + $0] == signature[$0] }), nameLength >= prefix.count,
                   prefix.indices.allSatisfy({ bytes[at + 30 + $0] == prefix[$0] }) {
                    return true
                }
                offset = at + 1
            }
            return false
        }
    }
}

/// One part of a `ZipPackage` being inflated: it counts what it yields and fails, rather than
/// go on, when a part inflates past the size its entry declared.
final class ZipPartStream {
    private let file: OpaquePointer
    let entry: ZipPackage.Entry
    /// The archive must outlive its open files.
    private let owner: ZipPackage
    private(set) var produced: UInt64 = 0

    fileprivate init(file: OpaquePointer, entry: ZipPackage.Entry, owner: ZipPackage) {
        self.file = file
        self.entry = entry
        self.owner = owner
    }

    deinit { zip_fclose(file) }

    /// Up to `count` bytes into `buffer`; 0 at the end of the part.
    func read(into buffer: UnsafeMutableRawPointer, count: Int) throws -> Int {
        // One byte more than declared is enough to know the entry lies.
        let allowed = entry.size - min(produced, entry.size) + 1
        let n = zip_fread(file, buffer, min(UInt64(count), allowed))
        guard n >= 0 else {
            throw DocumentProblem("corrupt_document",
                                  "the XLSX file is damaged: \(entry.name) cannot be inflated (\(String(cString: zip_file_strerror(file))))")
        }
        produced += UInt64(n)
        guard produced <= entry.size else {
            throw DocumentProblem("archive_too_large",
                                  "\(entry.name) inflates past the \(entry.size) bytes its zip entry declares (a zip bomb or a damaged file)")
        }
        return Int(n)
    }
}
