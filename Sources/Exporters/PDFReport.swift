// Placeholder until the pdf branch lands: the API the export code is written against.
public struct PDFOptions: Sendable {
    public enum PageSize: String, Sendable, CaseIterable { case a4, letter }
    public enum Orientation: String, Sendable, CaseIterable { case auto, portrait, landscape }
    public var pageSize = PageSize.a4
    public var orientation = Orientation.auto
    public var fontSize = 8.0
    public init() {}
}

public final class PDFReport {
    public init(path: String, options: PDFOptions) throws { throw ExportError("pdf not built") }
    public func title(_ text: String) {}
    public func keyValues(_ items: [(label: String, value: String)]) {}
    @discardableResult public func table(_ table: ExportTable, rows: RowStream, progress: ExportProgress?) throws -> Int { 0 }
    public func close() throws {}
}
