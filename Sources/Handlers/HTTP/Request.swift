import Foundation
import JSONValues

/// Where a request's metadata and body come from: the FastCGI connection in
/// production, a dictionary and a byte array in tests.
public protocol RequestSource: AnyObject {
    /// A CGI/FastCGI parameter such as `REQUEST_METHOD` or `HTTP_USER_AGENT`.
    func parameter(_ name: String) -> String?
    /// Reads up to `buffer.count` body bytes; 0 at the end of the body.
    func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int
}

/// An HTTP request as the handlers see it.
public final class Request {
    public let method: String
    /// The decoded path without the query string, e.g. `/api/documents/42`.
    public let path: String
    public let queryString: String
    public let requestID: String
    public let clientAddress: String
    /// Path parameters from the matched route, e.g. `["id": "42"]`.
    public var pathParameters: [String: String] = [:]
    /// The route that matched, set by the application before the handler runs.
    public var route: Router.Route?
    /// Who made the request, once authenticated (for its log line).
    public var userID: UUID?
    public var teamID: UUID?
    /// True when nginx marked the caller as on this machine (`ASSAY_LOOPBACK=1`, set from
    /// `$remote_addr`; a client cannot send FastCGI parameters, only `HTTP_*` headers).
    public var fromLoopback: Bool { source.parameter("ASSAY_LOOPBACK") == "1" }
    /// Values computed by middleware (the authenticated principal, for example).
    public var attributes: [String: any Sendable] = [:]
    /// Work to do once the response has been sent, before the worker takes the next request
    /// (a share page's access log row): the viewer does not wait for it, and a worker that
    /// is stopped or recycled still does it first.
    public var afterResponse: [() -> Void] = []

    private let source: RequestSource
    private var bodyConsumed = false

    public init(source: RequestSource) {
        self.source = source
        method = source.parameter("REQUEST_METHOD") ?? "GET"
        if let decoded = source.parameter("DOCUMENT_URI") {
            // nginx's path: already percent-decoded and normalised, without the query. Not
            // decoded again ("%253F" is the text "%3F", not "?"), nor cut at a "?" it holds.
            path = decoded
        } else {
            // Without nginx: the raw request URI, cut at its query, then decoded once.
            let rawPath = (source.parameter("REQUEST_URI") ?? "/").split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
            path = rawPath.utf8.contains(0x25) ? rawPath.removingPercentEncoding ?? rawPath : rawPath
        }
        queryString = source.parameter("QUERY_STRING") ?? ""
        requestID = Request.sanitizedID(source.parameter("REQUEST_ID") ?? source.parameter("HTTP_X_REQUEST_ID"))
        clientAddress = source.parameter("REMOTE_ADDR") ?? ""
    }

    /// A request header by its HTTP name, e.g. `header("User-Agent")`.
    public func header(_ name: String) -> String? {
        switch name.lowercased() {
        case "content-type": return source.parameter("CONTENT_TYPE")
        case "content-length": return source.parameter("CONTENT_LENGTH")
        default:
            // FastCGI's name for it: HTTP_ and the name upper-cased with "-" as "_".
            let key = "HTTP_" + String(decoding: name.utf8.map { $0 == 0x2D ? 0x5F : (0x61...0x7A).contains($0) ? $0 - 0x20 : $0 },
                                       as: UTF8.self)
            return source.parameter(key)
        }
    }

    /// The declared body length, or `nil` when absent or malformed.
    public var contentLength: Int? {
        source.parameter("CONTENT_LENGTH").flatMap { Int($0) }
    }

    /// Query parameters, decoded; a repeated name keeps its last value.
    public lazy var query: [String: String] = {
        var result: [String: String] = [:]
        for pair in queryString.split(separator: "&") where !pair.isEmpty {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in
                s.utf8.contains(where: { $0 == 0x2B || $0 == 0x25 }) // "+" or "%": most values have neither
                    ? s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s) : String(s)
            }
            result[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return result
    }()

    /// The query parameter `name` as one of `T`'s cases, or nil when it is absent (or empty,
    /// with `emptyIsAbsent`); any other value adds a problem listing the cases in order.
    public func query<T: RawRepresentable & CaseIterable>(_ name: String, as type: T.Type, emptyIsAbsent: Bool = true,
                                                          problems: inout [(String, String)]) -> T? where T.RawValue == String {
        guard let raw = query[name], !(emptyIsAbsent && raw.isEmpty) else { return nil }
        guard let value = T(rawValue: raw) else {
            problems.append((name, "must be one of: \(T.allCases.map(\.rawValue).joined(separator: ", "))"))
            return nil
        }
        return value
    }

    /// Streams the body in chunks to `consume`, failing with 413 past `limit` bytes.
    public func streamBody(limit: Int, chunkSize: Int = 64 * 1024, _ consume: (UnsafeRawBufferPointer) throws -> Void) throws {
        if let declared = contentLength, declared > limit { throw APIError.payloadTooLarge(limit: limit) }
        guard !bodyConsumed else { return }
        bodyConsumed = true
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 1)
        defer { buffer.deallocate() }
        var total = 0
        while true {
            let count = source.readBody(into: buffer)
            if count <= 0 { break }
            total += count
            if total > limit { throw APIError.payloadTooLarge(limit: limit) }
            try consume(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
    }

    /// The whole body, at most `limit` bytes.
    public func body(limit: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        if let declared = contentLength, declared <= limit { bytes.reserveCapacity(declared) }
        try streamBody(limit: limit) { bytes.append(contentsOf: $0) }
        return bytes
    }

    /// The body parsed as a JSON object: 415 for another content type, 400 for
    /// malformed JSON, 422 when the top level is not an object.
    public func jsonObject(limit: Int = 1 << 20) throws -> FieldReader {
        let type = header("Content-Type")?.lowercased() ?? ""
        guard type.hasPrefix("application/json") || type.hasSuffix("+json") else {
            throw APIError.unsupportedMediaType("application/json")
        }
        let bytes = try body(limit: limit)
        guard !bytes.isEmpty else {
            throw APIError(status: 400, code: "invalid_json", message: "the request body is empty; a JSON object is required")
        }
        let value: JSON
        do {
            value = try JSON.parse(bytes)
        } catch let error as JSONSyntaxError {
            throw APIError.invalidJSON(error)
        }
        guard case .object = value else {
            throw APIError.validation([("body", "must be a JSON object, not \(value.typeName)")])
        }
        if let path = value.pathOfNUL() { throw APIError.nulCharacter(in: path) }
        return FieldReader(value)
    }

    /// A 422 naming the first query parameter whose name or value holds a NUL (`%00`): no
    /// text with NUL reaches a handler, a log or the database.
    func refuseNULInQuery() throws {
        // Every request passes here: most query strings hold no `%` at all.
        guard queryString.utf8.contains(0x25), queryString.contains("%00") else { return }
        if let (name, _) = query.first(where: { $0.key.utf8.contains(0) || $0.value.utf8.contains(0) }) {
            throw APIError.nulCharacter(in: name)
        }
    }

    /// Keeps a client-supplied id only if it is short and plain; otherwise makes one.
    static func sanitizedID(_ raw: String?) -> String {
        if let raw, (1...64).contains(raw.utf8.count),
           raw.utf8.allSatisfy({ $0 < 128 && (isalnum(Int32($0)) != 0 || $0 == 45 || $0 == 46 || $0 == 95) }) {
            return raw
        }
        return UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }
}
