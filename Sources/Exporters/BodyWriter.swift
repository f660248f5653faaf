/// Receives a streamed body chunk by chunk: an HTTP response being sent, or an export file
/// being written.
public protocol BodyWriter {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension BodyWriter {
    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    public func write(_ text: String) throws {
        var text = text
        try text.withUTF8 { try write(UnsafeRawBufferPointer($0)) }
    }
}
