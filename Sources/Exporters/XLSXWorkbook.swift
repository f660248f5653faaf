// Placeholder until the xlsx branch lands: the API the export code is written against.
public struct XLSXOptions: Sendable {
    public var rowsPerSheet = 1_048_575
    public var lowConfidence = 0.6
    public var metadataSheet = true
    public init() {}
}

public final class XLSXWorkbook {
    public init(path: String, tempDirectory: String, options: XLSXOptions) throws { throw ExportError("xlsx not built") }
    @discardableResult public func addTable(_ table: ExportTable, rows: RowStream, progress: ExportProgress?) throws -> Int { 0 }
    public func close() throws {}
}
