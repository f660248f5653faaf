import Multipart
import XCTest

/// The vendored multipart parser (Sources/Multipart): what 4.7.1 trapped on is a syntax error.
final class MultipartParserTests: XCTestCase {
    func testANonASCIIByteInAPartHeaderNameIsASyntaxErrorNotACrash() {
        let parser = MultipartParser(boundary: "b")
        let body: [UInt8] = Array("--b\r\n".utf8) + [0xB0, 0xF3, 0x92] + Array(": x\r\n\r\nbody\r\n--b--\r\n".utf8)
        XCTAssertThrowsError(try parser.execute(body))
    }

    func testAPartWithANonASCIIHeaderValueIsRead() throws {
        let parser = MultipartParser(boundary: "b")
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        parser.onHeader = { headers.append(($0, $1)) }
        parser.onBody = { body += $0.readBytes(length: $0.readableBytes) ?? [] }
        try parser.execute(Array("--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"Zoë.pdf\"\r\n\r\n%PDF\r\n--b--\r\n".utf8))
        XCTAssertEqual(headers.map(\.0), ["Content-Disposition"])
        XCTAssertTrue(headers[0].1.contains("Zoë.pdf"))
        XCTAssertEqual(body, Array("%PDF".utf8))
    }
}
