import Foundation

/// Prometheus' text exposition format, version 0.0.4: `# HELP` and `# TYPE` once per family,
/// then its samples; histograms as cumulative `_bucket{le=…}` lines, `_sum` and `_count`.
public enum Exposition {
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// A gauge's value, computed at scrape time (not stored).
    public struct Gauge: Sendable {
        public let family: MetricFamily
        public let labels: KeyValuePairs<String, String>
        public let value: Double

        public init(_ family: MetricFamily, _ labels: KeyValuePairs<String, String> = [:], value: Double) {
            self.family = family
            self.labels = labels
            self.value = value
        }
    }

    /// The whole exposition: stored series and `gauges`, families in `MetricFamily.all`'s
    /// order; a series of a family this build does not know is left out.
    public static func render(_ series: [MetricsStore.Series], gauges: [Gauge] = []) -> String {
        var out = ""
        out.reserveCapacity(64 * 1024)
        let stored = Dictionary(grouping: series, by: \.family)
        for family in MetricFamily.all {
            out += "# HELP \(family.name) \(escapeHelp(family.help))\n# TYPE \(family.name) \(family.kind.rawValue)\n"
            switch family.kind {
            case .gauge:
                for gauge in gauges where gauge.family == family {
                    let labels = gauge.labels.map { "\($0.key)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",")
                    out += sample(family.name, labels, number(gauge.value))
                }
            case .counter:
                for item in stored[family.name] ?? [] where item.kind == .counter {
                    out += sample(family.name, item.labels, String(item.values[0]))
                }
            case .histogram:
                for item in stored[family.name] ?? [] where item.kind == .histogram {
                    let bounds = (item.buckets ?? family.buckets ?? .requestSeconds).bounds
                    var cumulative: UInt64 = 0
                    for (position, bound) in bounds.enumerated() {
                        cumulative &+= item.values[position]
                        out += sample(family.name + "_bucket", join(item.labels, "le=\"\(number(bound))\""), String(cumulative))
                    }
                    cumulative &+= item.values[bounds.count]
                    out += sample(family.name + "_bucket", join(item.labels, "le=\"+Inf\""), String(cumulative))
                    let sum = Double(item.values[MetricsStore.valueWords - 1]) / 1_000_000
                    out += sample(family.name + "_sum", item.labels, number(sum))
                    out += sample(family.name + "_count", item.labels, String(cumulative))
                }
            }
        }
        return out
    }

    private static func sample(_ name: String, _ labels: String, _ value: String) -> String {
        labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n"
    }

    private static func join(_ labels: String, _ more: String) -> String {
        labels.isEmpty ? more : labels + "," + more
    }

    /// A number as Prometheus reads it: integers without a fraction, others in Swift's
    /// shortest round-tripping form.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// A label value: backslash, double quote and line feed escaped.
    public static func escapeLabel(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// HELP text: backslash and line feed escaped.
    static func escapeHelp(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
