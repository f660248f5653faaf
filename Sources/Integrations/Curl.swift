import CCurl
import Foundation

/// libcurl must be initialised before any thread exists; call once at process start.
public enum Curl {
    public static func globalInit() {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    }
}

/// A failed transfer: curl's message, safe to log (URLs are never included).
public struct CurlError: Error, CustomStringConvertible {
    public let code: Int
    public let message: String
    public var description: String { message }
}

/// One easy handle, cleaned up when the value goes away.
final class EasyHandle {
    let handle: UnsafeMutableRawPointer
    private var lists: [UnsafeMutablePointer<curl_slist>] = []
    private var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

    init() throws {
        guard let handle = curl_easy_init() else { throw CurlError(code: -1, message: "curl_easy_init failed") }
        self.handle = handle
        // Never let a signal-based DNS timeout hit a single-threaded worker.
        set(CURLOPT_NOSIGNAL, 1)
        errorBuffer.withUnsafeMutableBufferPointer { _ = assay_curl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, $0.baseAddress) }
    }

    deinit {
        curl_easy_cleanup(handle)
        lists.forEach { curl_slist_free_all($0) }
    }

    func set(_ option: CURLoption, _ value: Int) { _ = assay_curl_setopt_long(handle, option, value) }
    func set(_ option: CURLoption, _ value: String) { _ = assay_curl_setopt_string(handle, option, value) }

    func set(_ option: CURLoption, list items: [String]) {
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for item in items { list = curl_slist_append(list, item) }
        if let list {
            lists.append(list)
            _ = assay_curl_setopt_slist(handle, option, list)
        }
    }

    func perform() throws {
        let code = curl_easy_perform(handle)
        guard code == CURLE_OK else {
            let detail = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            let message = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
            throw CurlError(code: Int(code.rawValue), message: message)
        }
    }
}
