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
            ("pid", .int(processID)),
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

    /// UTC time with milliseconds (`2026-12-07T22:40:05.123Z`), formatted without Foundation's
    /// formatters or string interpolation: every request's log line has one.
    static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var seconds = ts.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(unsafeUninitializedCapacity: 24) { buffer in
            var end = 0
            func put(_ value: Int32, _ width: Int, then separator: Character) {
                var rest = max(0, value)
                for position in stride(from: end + width - 1, through: end, by: -1) {
                    buffer[position] = UInt8(ascii: "0") + UInt8(rest % 10)
                    rest /= 10
                }
                buffer[end + width] = separator.asciiValue!
                end += width + 1
            }
            put(parts.tm_year + 1900, 4, then: "-")
            put(parts.tm_mon + 1, 2, then: "-")
            put(parts.tm_mday, 2, then: "T")
            put(parts.tm_hour, 2, then: ":")
            put(parts.tm_min, 2, then: ":")
            put(parts.tm_sec, 2, then: ".")
            put(Int32(ts.tv_nsec / 1_000_000), 3, then: "Z")
            return end
        }
    }

    /// This process's id, read once (the pool's processes are started by `posix_spawn`, never
    /// forked, so it cannot change under a process).
    static let processID = Int64(getpid())
}
