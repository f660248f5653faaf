
/// How exports are delivered and kept.
public struct ExportSettings: Sendable {
    /// Where job exports are written and served from (nginx's `/_protected_exports/` alias).
    public var directory: String
    /// Seconds a finished job export can be downloaded before its file is deleted.
    public var ttlSeconds: Int
    /// Excel and PDF exports of tables with more rows than this run as jobs (CSV and JSON
    /// always stream: they go at close to COPY's speed).
    public var syncRows: Int
    /// Most tables in one batch.
    public var maxBatchTables: Int

    public init(directory: String = "var/exports", ttlSeconds: Int = 86_400, syncRows: Int = 100_000, maxBatchTables: Int = 50) {
        self.directory = directory
        self.ttlSeconds = ttlSeconds
        self.syncRows = syncRows
        self.maxBatchTables = maxBatchTables
    }
}
