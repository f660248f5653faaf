import Foundation

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

/// An OpenAI-compatible chat-completions endpoint (Groq, OpenAI, a local Ollama…).
public struct LLMSettings: Sendable {
    public var baseURL: String
    public var model: String
    /// Sent as a bearer token; never logged.
    public var apiKey: String?
    public var timeout: Double
    public var maxRetries: Int

    public static let groqBaseURL = "https://api.groq.com/openai/v1"
    public static let groqDefaultModel = "llama-3.3-70b-versatile"

    public init(baseURL: String, model: String, apiKey: String?, timeout: Double = 30, maxRetries: Int = 2) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.model = model
        self.apiKey = apiKey
        self.timeout = timeout
        self.maxRetries = maxRetries
    }

    /// From `LLM_BASE_URL` + `LLM_MODEL` (+ `LLM_API_KEY`), else `GROQ_API_KEY`
    /// (+ `GROQ_MODEL`); nil when neither is set. Throws a message for a half-set pair.
    public static func fromEnvironment(_ environment: [String: String]) throws -> LLMSettings? {
        func value(_ name: String) -> String? { environment[name].flatMap { $0.isEmpty ? nil : $0 } }
        let timeout = try value("LLM_TIMEOUT").map { raw -> Double in
            guard let seconds = Double(raw), seconds >= 1, seconds <= 600 else {
                throw LLMConfigurationError("LLM_TIMEOUT=\(raw) must be seconds between 1 and 600")
            }
            return seconds
        } ?? 30
        let retries = try value("LLM_MAX_RETRIES").map { raw -> Int in
            guard let count = Int(raw), (0...10).contains(count) else {
                throw LLMConfigurationError("LLM_MAX_RETRIES=\(raw) must be a whole number between 0 and 10")
            }
            return count
        } ?? 2
        if let base = value("LLM_BASE_URL") {
            guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
                throw LLMConfigurationError("LLM_BASE_URL must be an http:// or https:// URL")
            }
            guard let model = value("LLM_MODEL") else { throw LLMConfigurationError("LLM_BASE_URL is set but LLM_MODEL is not") }
            return LLMSettings(baseURL: base, model: model, apiKey: value("LLM_API_KEY") ?? value("GROQ_API_KEY"),
                               timeout: timeout, maxRetries: retries)
        }
        if let key = value("GROQ_API_KEY") {
            return LLMSettings(baseURL: groqBaseURL, model: value("LLM_MODEL") ?? groqDefaultModel, apiKey: key,
                               timeout: timeout, maxRetries: retries)
        }
        return nil
    }
}

public struct LLMConfigurationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
