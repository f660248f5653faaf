import Foundation
import JSONValues

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
    public init(_ description: String) { self.description = description }
}

/// A client of an OpenAI-compatible `/chat/completions` endpoint: posts a request body and
/// returns the first choice's message content. 429 and 5xx answers and transport failures are
/// retried with backoff (honouring a short `Retry-After`); anything else throws `LLMError`, so
/// callers (field extraction, chat) can fall back to their rule-based reading. The API key is
/// sent as a bearer token and never logged.
public struct ChatCompletions: Sendable {
    public let settings: LLMSettings
    public var sleep: @Sendable (Double) -> Void

    public init(settings: LLMSettings, sleep: @escaping @Sendable (Double) -> Void = { usleep(useconds_t($0 * 1_000_000)) }) {
        self.settings = settings
        self.sleep = sleep
    }

    /// Posts the request and returns the message content, retrying what may pass.
    public func complete(_ body: JSON) throws -> String {
        var headers = ["Content-Type: application/json", "Accept: application/json"]
        if let key = settings.apiKey { headers.append("Authorization: Bearer \(key)") }
        var lastProblem = "no attempt made"
        for attempt in 0...settings.maxRetries {
            if attempt > 0 { sleep(min(8, pow(2, Double(attempt - 1)))) }
            let response: HTTPResponse
            do {
                response = try HTTPClient.send(method: "POST", url: "\(settings.baseURL)/chat/completions", headers: headers,
                                               body: body.serialized(), timeout: settings.timeout)
            } catch let error as CurlError {
                lastProblem = "no answer (\(error.message))"
                continue
            }
            if response.status == 429 || response.status >= 500 {
                lastProblem = "HTTP \(response.status)"
                if let wait = response.headers["retry-after"].flatMap(Double.init), wait > 0, wait <= 10, attempt < settings.maxRetries {
                    sleep(wait)
                }
                continue
            }
            guard response.status == 200 else { throw LLMError("HTTP \(response.status) from the model server") }
            guard case .object(let top)? = try? JSON.parse(response.body),
                  case .array(let choices)? = top.first(where: { $0.0 == "choices" })?.1,
                  case .object(let choice)? = choices.first,
                  case .object(let message)? = choice.first(where: { $0.0 == "message" })?.1,
                  case .string(let content)? = message.first(where: { $0.0 == "content" })?.1 else {
                throw LLMError("the model server's answer is not a chat completion")
            }
            return content
        }
        throw LLMError("\(lastProblem) after \(settings.maxRetries + 1) attempt(s)")
    }
}

public struct LLMError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
