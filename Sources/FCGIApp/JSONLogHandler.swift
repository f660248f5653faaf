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
        let members: [(String, JSON)] = [
            ("ts", .string(timestamp())),
            ("level", .string(level.rawValue)),
            ("msg", .string(message)),
            ("pid", .int(Int64(getpid()))),
        ] + metadata
        var line = JSON.object(members).serialized()
        line.append(10)
        line.withUnsafeBytes { writeAll(outputFD, $0) }
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

    /// UTC time with milliseconds, formatted without Foundation's formatters (hot path).
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ts.tv_nsec / 1_000_000), 3))Z"
    }
}
