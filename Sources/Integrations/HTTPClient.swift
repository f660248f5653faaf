import CCurl
import Foundation

/// An HTTP response: status, headers (names lower-cased) and body.
public struct HTTPResponse: Sendable {
    public let status: Int
    public let headers: [String: String]
    public let body: [UInt8]
}

/// Plain HTTP(S) requests through libcurl, for JSON APIs (LLMs, Superset).
public enum HTTPClient {
    /// Sends one request. Throws `CurlError` when no response arrived (refused, DNS,
    /// TLS, timeout); any HTTP status is returned. The body is capped at `maxBody`.
    public static func send(method: String, url: String, headers: [String] = [], body: [UInt8]? = nil,
                            timeout: Double, connectTimeout: Double = 5, maxBody: Int = 8 << 20) throws -> HTTPResponse {
        let easy = try EasyHandle()
        easy.set(CURLOPT_URL, url)
        easy.set(CURLOPT_PROTOCOLS_STR, "http,https")
        easy.set(CURLOPT_TIMEOUT_MS, Int(timeout * 1000))
        easy.set(CURLOPT_CONNECTTIMEOUT_MS, Int(connectTimeout * 1000))
        easy.set(CURLOPT_FOLLOWLOCATION, 0)
        easy.set(CURLOPT_CUSTOMREQUEST, method)
        easy.set(CURLOPT_HTTPHEADER, list: headers)
        let sink = ResponseSink(limit: maxBody)
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        let payload = body ?? []
        if body != nil {
            easy.set(CURLOPT_POSTFIELDSIZE, payload.count)
        }
        try payload.withUnsafeBufferPointer { buffer in
            if body != nil { _ = assay_curl_setopt_pointer(easy.handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress)) }
            _ = assay_curl_setopt_pointer(easy.handle, CURLOPT_WRITEDATA, unmanaged.toOpaque())
            _ = assay_curl_setopt_write_callback(easy.handle) { data, size, count, context in
                guard let data, let context else { return 0 }
                let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
                return sink.append(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
            }
            _ = assay_curl_setopt_pointer(easy.handle, CURLOPT_HEADERDATA, unmanaged.toOpaque())
            _ = assay_curl_setopt_header_callback(easy.handle) { data, size, count, context in
                guard let data, let context else { return 0 }
                let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
                sink.header(UnsafeRawBufferPointer(start: data, count: size * count))
                return size * count
            }
            try easy.perform()
        }
        var status = 0
        _ = assay_curl_getinfo_long(easy.handle, CURLINFO_RESPONSE_CODE, &status)
        return HTTPResponse(status: status, headers: sink.headers, body: sink.body)
    }

    final class ResponseSink {
        let limit: Int
        var body: [UInt8] = []
        var headers: [String: String] = [:]

        init(limit: Int) { self.limit = limit }

        func append(_ bytes: UnsafeRawBufferPointer) -> Bool {
            guard body.count + bytes.count <= limit else { return false }
            body.append(contentsOf: bytes)
            return true
        }

        func header(_ bytes: UnsafeRawBufferPointer) {
            let line = String(decoding: bytes, as: UTF8.self)
            // A new status line (after a redirect or 100-continue) starts a new header set.
            if line.hasPrefix("HTTP/") { headers = [:]; return }
            guard let colon = line.firstIndex(of: ":") else { return }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            // Several Set-Cookie headers are kept, one per line.
            if name == "set-cookie", let earlier = headers[name] { headers[name] = earlier + "\n" + value; return }
            headers[name] = value
        }
    }
}
