import Handlers
import XCTest

/// The request path the router sees: nginx's DOCUMENT_URI is already decoded, so it is taken
/// as it is (a decoded "?" is part of the path, "%3F" in it is text).
final class RequestPathTests: XCTestCase {
    private func path(_ parameters: [String: String]) -> String {
        let source = FakeSource(method: "GET", path: "/")
        source.parameters = parameters.merging(["REQUEST_METHOD": "GET"]) { $1 }
        return Request(source: source).path
    }

    func testNginxsDecodedPathIsNeitherCutNorDecodedAgain() {
        XCTAssertEqual(path(["DOCUMENT_URI": "/api/documents/results/a?b/re-extract"]), "/api/documents/results/a?b/re-extract")
        XCTAssertEqual(path(["DOCUMENT_URI": "/api/documents/tables/%41"]), "/api/documents/tables/%41")
    }

    func testARawRequestURIIsCutAtItsQueryAndDecodedOnce() {
        XCTAssertEqual(path(["REQUEST_URI": "/api/documents/tables/a%20b?x=%3F"]), "/api/documents/tables/a b")
        XCTAssertEqual(path(["REQUEST_URI": "/api/x/%2541"]), "/api/x/%41")
    }
}
