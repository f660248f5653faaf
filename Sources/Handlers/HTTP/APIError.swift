import JSONValues

/// An error that knows its HTTP status and becomes the JSON envelope
/// `{"error": {"code", "message", "fields"}}`. Its message is shown to clients,
/// so it never carries internals.
public struct APIError: Error, Sendable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    public let fields: [(String, String)]
    public let headers: [(String, String)]

    public init(status: Int, code: String, message: String, fields: [(String, String)] = [], headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields
        self.headers = headers
    }

    public var description: String { "\(status) \(code): \(message)" }

    /// The envelope; `requestID` (the request's X-Request-ID) lets a client quote the failure.
    public func envelope(requestID: String? = nil) -> JSON {
        var error: [(String, JSON)] = [("code", .string(code)), ("message", .string(message))]
        if !fields.isEmpty {
            error.append(("fields", .object(fields.map { ($0.0, .string($0.1)) })))
        }
        if let requestID { error.append(("request_id", .string(requestID))) }
        return ["error": .object(error)]
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> APIError {
        APIError(status: 400, code: code, message: message)
    }

    public static func validation(_ fields: [(String, String)]) -> APIError {
        let names = fields.map(\.0).joined(separator: ", ")
        return APIError(status: 422, code: "validation_failed", message: "invalid fields: \(names)", fields: fields)
    }

    public static func invalidJSON(_ error: JSONSyntaxError) -> APIError {
        APIError(status: 400, code: "invalid_json", message: "the body is not valid JSON: \(error.message) at byte \(error.offset)")
    }

    /// A text value (a JSON string or member name, a form part, a query parameter) that holds
    /// a NUL character, which PostgreSQL text cannot store and C strings end at.
    public static func nulCharacter(in field: String) -> APIError {
        .validation([(field, "must not contain NUL characters (\\u0000)")])
    }

    public static func notFound(_ message: String = "no such resource") -> APIError {
        APIError(status: 404, code: "not_found", message: message)
    }

    public static func methodNotAllowed(_ allowed: [String]) -> APIError {
        APIError(status: 405, code: "method_not_allowed",
                 message: "this resource allows \(allowed.joined(separator: ", "))",
                 headers: [("Allow", allowed.joined(separator: ", "))])
    }

    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: 413, code: "payload_too_large", message: "the request body exceeds \(limit) bytes")
    }

    public static func unsupportedMediaType(_ expected: String) -> APIError {
        APIError(status: 415, code: "unsupported_media_type", message: "the body must be \(expected)")
    }

    public static let unavailable = APIError(status: 503, code: "service_unavailable",
                                             message: "a backing service is unavailable; retry shortly",
                                             headers: [("Retry-After", "2")])

    public static let internalError = APIError(status: 500, code: "internal_error",
                                               message: "an unexpected error occurred; it has been logged")
}
