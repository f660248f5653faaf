import Foundation
import Handlers
import JSONValues
import Logging

/// Writes each log record as one JSON line to stderr (`outputFD`):
/// `{"ts":"…","level":"info","msg":"…","pid":123,…metadata}`.
/// A line is written with a single `write`, so lines from the pool's processes
/// never interleave in a shared O_APPEND log file.
struct JSONLogHandler: LogHandler {
    /// Where lines go: stderr, or the original stderr once `NativeOutput` captures fd 2.
    nonisolated(unsafe) static var outputFD: Int32 = 2

    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let label: String

    init(label: String, level: Logger.Level) {
        self.label = label
        logLevel = level
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        JSONLogHandler.write(level: event.level, message: event.message.description,
                             metadata: merged.keys.sorted().map { ($0, JSONLogHandler.json(merged[$0]!)) })
    }

    /// Writes one line; `metadata` in key order.
    static func write(level: Logger.Level, message: String, metadata: [(String, JSON)]) {
        var line = LogLine()
        line.start(level: level, message: message)
        for (key, value) in metadata { line.field(key, value) }
        line.write()
    }

    static func json(_ value: Logger.MetadataValue) -> JSON {
        switch value {
        case .string(let text): return .string(text)
        case .stringConvertible(let value):
            switch value {
            case let number as Int: return .int(Int64(number))
            case let number as Int32: return .int(Int64(number))
            case let number as Int64: return .int(number)
            case let number as UInt64: return .int(Int64(truncatingIfNeeded: number))
            case let number as Double: return .double(number)
            default: return .string(value.description)
            }
        case .array(let items): return .array(items.map(json))
        case .dictionary(let dictionary): return .object(dictionary.sorted { $0.key < $1.key }.map { ($0.key, json($0.value)) })
        }
    }

    /// Appends the UTC time with milliseconds (`2026-12-07T22:40:05.123Z`), written digit by
    /// digit: every request's log line has one.
    static func appendTimestamp(into out: inout [UInt8]) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func put(_ value: Int32, _ width: Int, then separator: UInt8) {
            let value = max(0, value)
            var divisor: Int32 = 1
            for _ in 1..<width { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
            out.append(separator)
        }
        put(parts.tm_year + 1900, 4, then: UInt8(ascii: "-"))
        put(parts.tm_mon + 1, 2, then: UInt8(ascii: "-"))
        put(parts.tm_mday, 2, then: UInt8(ascii: "T"))
        put(parts.tm_hour, 2, then: UInt8(ascii: ":"))
        put(parts.tm_min, 2, then: UInt8(ascii: ":"))
        put(parts.tm_sec, 2, then: UInt8(ascii: "."))
        put(Int32(ts.tv_nsec / 1_000_000), 3, then: UInt8(ascii: "Z"))
    }

    /// This process's id, read once (the pool's processes are started by `posix_spawn`, never
    /// forked, so it cannot change under a process).
    static let processID = Int64(getpid())
    static let processIDText = Array(String(processID).utf8)
}

/// One log line, written into bytes as it is built (`{"ts":…,"level":…,"msg":…,"pid":…`, then
/// the fields in the order given) and sent with a single `write`. A worker keeps one and reuses
/// its storage for every request's line.
struct LogLine {
    private var bytes: [UInt8] = []

    mutating func start(level: Logger.Level, message: String) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: #"{"ts":""#.utf8)
        JSONLogHandler.appendTimestamp(into: &bytes)
        bytes.append(contentsOf: #"","level":"#.utf8)
        JSON.writeString(level.rawValue, into: &bytes)
        bytes.append(contentsOf: #","msg":"#.utf8)
        JSON.writeString(message, into: &bytes)
        bytes.append(contentsOf: #","pid":"#.utf8)
        bytes.append(contentsOf: JSONLogHandler.processIDText)
    }

    mutating func field(_ key: String, _ value: JSON) {
        bytes.append(UInt8(ascii: ","))
        JSON.writeString(key, into: &bytes)
        bytes.append(UInt8(ascii: ":"))
        value.write(into: &bytes)
    }

    /// Ends the line and writes it to the log (`JSONLogHandler.outputFD`).
    mutating func write() {
        bytes.append(contentsOf: "}\n".utf8)
        bytes.withUnsafeBytes { writeAll(JSONLogHandler.outputFD, $0) }
    }
}
