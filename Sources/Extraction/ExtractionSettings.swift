import Foundation
import Integrations

/// How field extraction runs, resolved at start-up.
public struct ExtractionSettings: Sendable {
    /// A text PDF with at most this many pages is extracted inside the request; anything
    /// larger, scanned or an image goes to a job.
    public var syncMaxPages: Int
    /// The LLM used for fields when configured; nil = the rule-based extractor only.
    public var llm: LLMSettings?

    public init(syncMaxPages: Int = 5, llm: LLMSettings? = nil) {
        self.syncMaxPages = syncMaxPages
        self.llm = llm
    }
}
