import Data
import Foundation

/// What a question asks of a table, before it becomes a query spec: the column asked for
/// (or rows counted), the conditions on other columns, and any grouping or ranking. Column
/// positions index the `TableVocabulary`'s columns.
public struct Interpretation: Sendable {
    public enum Value: Sendable, Equatable {
        case number(Double)
        /// A date, ISO 8601.
        case date(String)
        /// Text as the table stores it: one or more spellings of the same words.
        case text([String])
    }

    public enum Operator: String, Sendable {
        case equal = "=", notEqual = "!=", greater = ">", less = "<", greaterOrEqual = ">=", lessOrEqual = "<="
    }

    public struct Condition: Sendable {
        public var column: Int
        public var op: Operator
        public var value: Value
        /// A relative date range (`last_30_days`, `this_year`…) instead of a value.
        public var relative: String?
        /// The question's words this came from, for "what I understood".
        public var words: String
    }

    public struct Grouping: Sendable {
        public var column: Int
        public var bucket: WarehouseQuery.Bucket?
    }

    public enum Aggregate: String, Sendable {
        case count, countDistinct = "count_distinct", sum, avg, min, max, median
    }

    /// The column asked for; nil lists whole rows (or counts them).
    public var select: Int?
    /// The question named the column (rather than it being guessed or inherited).
    public var selectNamed = false
    public var aggregate: Aggregate?
    /// The question said how to aggregate ("how many", "average"…).
    public var aggregateStated = false
    public var conditions: [Condition] = []
    public var grouping: Grouping?
    /// Rank the groups or rows by the measure (true: largest first) and keep `limit`.
    public var descending: Bool?
    public var limit: Int?
    /// 0…1: how sure the reading is.
    public var confidence: Double = 0.9
    /// Why the question could not be read; nil when it could.
    public var problem: String?
    /// Notes on guesses made ("took Amount for 'revenue'").
    public var notes: [String] = []

    public var answerable: Bool { problem == nil }
}
