import CZip

/// A zip archive of files already on disk (libzip). libzip reads each file only when the
/// archive is closed, streaming it, so nothing is held in memory; it writes to a temporary
/// file and renames it over `path`, so a half-written archive is never visible.
public final class ZipArchive {
    private var archive: OpaquePointer?
    private var names: Set<String> = []

    public init(path: String) throws {
        var code: Int32 = 0
        guard let archive = zip_open(path, ZIP_CREATE | ZIP_TRUNCATE, &code) else {
            var error = zip_error_t()
            zip_error_init_with_code(&error, code)
            defer { zip_error_fini(&error) }
            throw ExportError("cannot create the zip archive: \(String(cString: zip_error_strerror(&error)))")
        }
        self.archive = archive
    }

    deinit {
        if let archive { zip_discard(archive) }
    }

    /// Adds the file at `source` as `name` (made unique: `name (2).ext`…). Already-compressed
    /// formats are stored as they are; the rest are deflated.
    @discardableResult
    public func add(file source: String, as name: String, compress: Bool) throws -> String {
        guard let archive else { throw ExportError("the zip archive is closed") }
        let entry = unique(name)
        guard let data = zip_source_file(archive, source, 0, -1) else { throw failure(archive) }
        let index = zip_file_add(archive, entry, data, zip_flags_t(ZIP_FL_ENC_UTF_8))
        guard index >= 0 else {
            zip_source_free(data)
            throw failure(archive)
        }
        let method = compress ? ZIP_CM_DEFLATE : ZIP_CM_STORE
        guard zip_set_file_compression(archive, zip_uint64_t(index), zip_int32_t(method), 0) == 0 else { throw failure(archive) }
        names.insert(entry)
        return entry
    }

    /// Writes the archive.
    public func close() throws {
        guard let archive else { return }
        guard zip_close(archive) == 0 else {
            let error = failure(archive)
            zip_discard(archive)
            self.archive = nil
            throw error
        }
        self.archive = nil
    }

    private func unique(_ name: String) -> String {
        guard names.contains(name) else { return name }
        let dot = name.lastIndex(of: ".")
        let stem = dot.map { String(name[..<$0]) } ?? name
        let ext = dot.map { String(name[$0...]) } ?? ""
        var counter = 2
        while names.contains("\(stem) (\(counter))\(ext)") { counter += 1 }
        return "\(stem) (\(counter))\(ext)"
    }

    private func failure(_ archive: OpaquePointer) -> ExportError {
        ExportError("zip: \(String(cString: zip_strerror(archive)))")
    }
}
