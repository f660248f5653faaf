import Exporters
import Foundation
import JSONValues

/// An HTTP response: status, headers and a body held in memory or streamed.
public struct Response {
    public enum Body {
        case bytes([UInt8])
        /// Written by the closure when the response is sent, without building it in memory.
        case stream((BodyWriter) throws -> Void)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int = 200, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response.
    public static func json(_ value: JSON, status: Int = 200, headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: .bytes(value.serialized()))
    }

    /// A JSON response from bytes serialised ahead of time.
    public static func json(bytes: [UInt8], status: Int = 200, headers: [(String, String)] = []) -> Response {
        Response(status: status, headers: [("Content-Type", "application/json")] + headers, body: .bytes(bytes))
    }

    /// The error envelope for `error`, answering `request` (whose id it carries).
    public static func error(_ error: APIError, answering request: Request) -> Response {
        json(error.envelope(requestID: request.requestID), status: error.status, headers: error.headers)
    }

    public func header(_ name: String) -> String? {
        // Header names are ASCII: compare bytes with the case bit ignored (Foundation's
        // caseInsensitiveCompare was a tenth of a small request's time).
        headers.first { header in
            header.0.utf8.count == name.utf8.count
                && zip(header.0.utf8, name.utf8).allSatisfy { $0 == $1 || ($0 | 0x20 == $1 | 0x20 && ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A) }
        }?.1
    }

    /// The reason phrase for the `Status:` line.
    public static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 409: "Conflict"
        case 410: "Gone"
        case 413: "Payload Too Large"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 423: "Locked"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: "Status"
        }
    }
}

