import Handlers
import JSONValues
import XCTest

final class RouterTests: XCTestCase {
    private func makeRouter() -> Router {
        let router = Router()
        router.get("/api/documents") { _ in .json("list") }
        router.post("/api/documents") { _ in .json("create") }
        router.get("/api/documents/{id}") { request in .json(.string("doc " + request.pathParameters["id"]!)) }
        router.get("/api/documents/tables") { _ in .json("tables") }
        router.delete("/api/documents/{id}") { _ in .json("deleted") }
        router.get("/api/documents/{id}/status") { request in .json(.string("status " + request.pathParameters["id"]!)) }
        return router
    }

    private func body(_ match: Router.Match, path: String) throws -> String {
        guard case .found(let handler, let parameters, _) = match else {
            XCTFail("expected a match for \(path), got \(match)")
            return ""
        }
        let request = Request(source: FakeSource(method: "GET", path: path))
        request.pathParameters = parameters
        return String(decoding: try handler(request).bodyBytes, as: UTF8.self)
    }

    func testLiteralAndParameterRoutesMatchWithParameters() throws {
        let router = makeRouter()
        XCTAssertEqual(try body(router.match(method: "GET", path: "/api/documents"), path: "/api/documents"), "\"list\"")
        XCTAssertEqual(try body(router.match(method: "GET", path: "/api/documents/42"), path: "/api/documents/42"), "\"doc 42\"")
        XCTAssertEqual(try body(router.match(method: "GET", path: "/api/documents/7/status"), path: ""), "\"status 7\"")
    }

    func testLiteralSegmentWinsOverParameter() throws {
        let router = makeRouter()
        XCTAssertEqual(try body(router.match(method: "GET", path: "/api/documents/tables"), path: ""), "\"tables\"")
    }

    func testTrailingSlashIsIgnored() throws {
        let router = makeRouter()
        XCTAssertEqual(try body(router.match(method: "GET", path: "/api/documents/"), path: ""), "\"list\"")
    }

    func testLiteralPathsMatchHoweverSpelledAndKeepTheirMethods() throws {
        let router = makeRouter()
        // Found by the exact path, and by the walk over segments when spelled otherwise.
        for path in ["/api/documents/tables", "/api/documents/tables/", "//api//documents/tables", "api/documents/tables"] {
            XCTAssertEqual(try body(router.match(method: "GET", path: path), path: path), "\"tables\"", path)
        }
        // A literal path's node answers 405 for a method only its parameter sibling has,
        // whichever way the path was found.
        for path in ["/api/documents/tables", "/api/documents/tables/"] {
            guard case .methodNotAllowed(let allowed) = router.match(method: "DELETE", path: path) else {
                return XCTFail("expected 405 for DELETE \(path)")
            }
            XCTAssertEqual(allowed, ["GET", "HEAD"])
        }
        XCTAssertEqual(try body(router.match(method: "DELETE", path: "/api/documents/tablez"), path: ""), "\"deleted\"")
    }

    func testUnknownPathIsNotFound() {
        let router = makeRouter()
        for path in ["/", "/api", "/api/documents/1/2/3", "/api/documentsx", "/nope"] {
            guard case .notFound = router.match(method: "GET", path: path) else {
                return XCTFail("\(path) should not match")
            }
        }
    }

    func testWrongMethodListsAllowedMethods() {
        let router = makeRouter()
        guard case .methodNotAllowed(let allowed) = router.match(method: "PUT", path: "/api/documents/9") else {
            return XCTFail("expected 405")
        }
        XCTAssertEqual(allowed, ["DELETE", "GET", "HEAD"])
    }

    func testHeadFallsBackToGet() throws {
        let router = makeRouter()
        guard case .found = router.match(method: "HEAD", path: "/api/documents") else { return XCTFail("HEAD should use GET") }
    }

    func testApplicationAnswersUnknownRouteWith404Envelope() throws {
        let application = Application(router: makeRouter(), logger: .init(label: "test"))
        let response = application.respond(to: Request(source: FakeSource(method: "GET", path: "/missing")))
        XCTAssertEqual(response.status, 404)
        let json = try JSON.parse(response.bodyBytes)
        XCTAssertEqual(json["error"]?["code"], "not_found")
    }

    func testApplicationAnswers405WithAllowHeader() throws {
        let application = Application(router: makeRouter(), logger: .init(label: "test"))
        let response = application.respond(to: Request(source: FakeSource(method: "PATCH", path: "/api/documents")))
        XCTAssertEqual(response.status, 405)
        XCTAssertEqual(response.header("Allow"), "GET, HEAD, POST")
        XCTAssertEqual(try JSON.parse(response.bodyBytes)["error"]?["code"], "method_not_allowed")
    }

    func testUnexpectedErrorBecomes500WithoutInternals() throws {
        struct Secret: Error { let detail = "password=hunter2" }
        let router = Router()
        router.get("/boom") { _ in throw Secret() }
        let response = Application(router: router, logger: .init(label: "test"))
            .respond(to: Request(source: FakeSource(method: "GET", path: "/boom")))
        XCTAssertEqual(response.status, 500)
        let text = String(decoding: response.bodyBytes, as: UTF8.self)
        XCTAssertFalse(text.contains("hunter2"))
        XCTAssertFalse(text.contains("Secret"))
        XCTAssertEqual(try JSON.parse(response.bodyBytes)["error"]?["code"], "internal_error")
    }
}

final class RouterParameterNameTests: XCTestCase {
    func testRoutesMayNameTheSameSegmentDifferently() throws {
        let router = Router()
        router.delete("/api/team/invites/{id}") { request in .json(.string("delete " + request.pathParameters["id"]!)) }
        router.post("/api/team/invites/{token}/accept") { request in .json(.string("accept " + request.pathParameters["token"]!)) }
        guard case .found(_, let a, _) = router.match(method: "DELETE", path: "/api/team/invites/42") else { return XCTFail() }
        XCTAssertEqual(a, ["id": "42"])
        guard case .found(_, let b, _) = router.match(method: "POST", path: "/api/team/invites/abc/accept") else { return XCTFail() }
        XCTAssertEqual(b, ["token": "abc"])
    }

    func testBacktracksWhenLiteralBranchDeadEnds() {
        let router = Router()
        router.get("/a/fixed/x") { _ in .json(1) }
        router.get("/a/{p}/y") { _ in .json(2) }
        guard case .found(_, let parameters, _) = router.match(method: "GET", path: "/a/fixed/y") else { return XCTFail() }
        XCTAssertEqual(parameters, ["p": "fixed"])
    }
}
