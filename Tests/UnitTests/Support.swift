import Foundation
import Handlers
import XCTest

/// A request source backed by a dictionary and a byte array.
final class FakeSource: RequestSource {
    var parameters: [String: String]
    var body: [UInt8]
    var offset = 0

    init(method: String, path: String, headers: [String: String] = [:], body: [UInt8] = []) {
        let parts = path.split(separator: "?", maxSplits: 1)
        parameters = [
            "REQUEST_METHOD": method,
            "DOCUMENT_URI": parts.first.map(String.init) ?? "/",
            "QUERY_STRING": parts.count > 1 ? String(parts[1]) : "",
            "CONTENT_LENGTH": String(body.count),
        ]
        for (name, value) in headers {
            if name.lowercased() == "content-type" {
                parameters["CONTENT_TYPE"] = value
            } else {
                parameters["HTTP_" + name.uppercased().replacingOccurrences(of: "-", with: "_")] = value
            }
        }
        self.body = body
    }

    func parameter(_ name: String) -> String? { parameters[name] }

    func readBody(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        let count = min(buffer.count, body.count - offset)
        guard count > 0 else { return 0 }
        body[offset..<offset + count].withUnsafeBytes { buffer.copyMemory(from: $0) }
        offset += count
        return count
    }
}

extension Response {
    var bodyBytes: [UInt8] {
        if case .bytes(let bytes) = body { return bytes }
        return []
    }
}

func jsonRequest(_ text: String, contentType: String = "application/json") -> Request {
    Request(source: FakeSource(method: "POST", path: "/x", headers: ["Content-Type": contentType], body: Array(text.utf8)))
}

/// A test case that gets a fresh temporary folder for each test, removed afterwards.
class TemporaryFolderTestCase: XCTestCase {
    private(set) var folder: String!
    var directory: URL { URL(fileURLWithPath: folder) }

    override func setUpWithError() throws {
        folder = NSTemporaryDirectory() + "\(type(of: self))-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: folder)
    }
}

/// The PostgreSQL the database tests run against: `ASSAY_TEST_DATABASE_URL`, which
/// `scripts/test` points at its private cluster; without it the calling test is skipped.
func testDatabaseURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["ASSAY_TEST_DATABASE_URL"], !url.isEmpty else {
        throw XCTSkip("ASSAY_TEST_DATABASE_URL is not set")
    }
    return url
}
