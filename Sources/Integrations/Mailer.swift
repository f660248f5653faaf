import CCurl
import Foundation

/// Sends mail through an SMTP server with libcurl.
///
/// `SMTP_URL` is `smtp://[user:password@]host[:port]` (STARTTLS is used when the server
/// offers it) or `smtps://…` (TLS from the first byte). The password never reaches a log:
/// errors carry curl's message, not the URL.
public struct Mailer: Sendable {
    public let url: String
    public let from: String
    public let timeoutSeconds: Int

    public init(url: String, from: String, timeoutSeconds: Int = 15) {
        self.url = url
        self.from = from
        self.timeoutSeconds = timeoutSeconds
    }

    public func send(to recipient: String, subject: String, body: String) throws {
        let message = Mailer.compose(from: from, to: recipient, subject: subject, body: body)
        let easy = try EasyHandle()
        easy.set(CURLOPT_URL, url)
        easy.set(CURLOPT_MAIL_FROM, "<\(Mailer.address(from))>")
        easy.set(CURLOPT_MAIL_RCPT, list: ["<\(recipient)>"])
        easy.set(CURLOPT_USE_SSL, Int(CURLUSESSL_TRY.rawValue))
        easy.set(CURLOPT_UPLOAD, 1)
        easy.set(CURLOPT_CONNECTTIMEOUT, min(timeoutSeconds, 10))
        easy.set(CURLOPT_TIMEOUT, timeoutSeconds)
        let source = UploadSource(Array(message.utf8))
        let unmanaged = Unmanaged.passRetained(source)
        defer { unmanaged.release() }
        _ = assay_curl_setopt_pointer(easy.handle, CURLOPT_READDATA, unmanaged.toOpaque())
        _ = assay_curl_setopt_read_callback(easy.handle) { buffer, size, count, context in
            guard let buffer, let context else { return 0 }
            let source = Unmanaged<UploadSource>.fromOpaque(context).takeUnretainedValue()
            return source.read(into: buffer, capacity: size * count)
        }
        try easy.perform()
    }

    /// An RFC 5322 message with CRLF line ends; header values are stripped of CR/LF so a
    /// subject can never inject headers.
    static func compose(from: String, to: String, subject: String, body: String) -> String {
        func clean(_ value: String) -> String { value.filter { $0 != "\r" && $0 != "\n" } }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let lines = body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }
        return [
            "Date: \(formatter.string(from: Date()))",
            "From: \(clean(from))",
            "To: <\(clean(to))>",
            "Subject: \(clean(subject))",
            "Message-ID: <\(UUID().uuidString.lowercased())@assay>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
            "",
        ].joined(separator: "\r\n") + "\r\n" + lines.joined(separator: "\r\n") + "\r\n"
    }

    /// The bare address of `Name <addr>` or `addr`.
    static func address(_ from: String) -> String {
        if let open = from.lastIndex(of: "<"), let close = from.lastIndex(of: ">"), open < close {
            return String(from[from.index(after: open)..<close])
        }
        return from
    }
}

/// Feeds the message to curl's read callback.
private final class UploadSource {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    func read(into buffer: UnsafeMutablePointer<CChar>, capacity: Int) -> Int {
        let count = min(capacity, bytes.count - offset)
        guard count > 0 else { return 0 }
        bytes.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + offset, byteCount: count)
        }
        offset += count
        return count
    }
}
