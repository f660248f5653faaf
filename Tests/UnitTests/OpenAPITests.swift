import Data
import Foundation
import Handlers
import JSONValues
import XCTest

/// The OpenAPI document and the router must describe the same routes.
final class OpenAPITests: XCTestCase {
    final class StubPool: PoolStatus {
        var liveWorkers: Int { 1 }
        var busyWorkers: Int { 0 }
        var configuredWorkers: Int { 1 }
        var liveJobWorkers: Int { 1 }
        var configuredJobWorkers: Int { 1 }
        var startedAt: Date { Date() }
    }

    private func routerRoutes() -> Set<String> {
        let context = AppContext(
            database: Database(url: "postgresql:///unused"), logger: .init(label: "test"),
            settings: AppSettings(access: AccessSettings(jwtSecret: Array(repeating: 7, count: 32))), pool: StubPool(), migrations: [])
        return Set(buildRouter(context).routes.map { "\($0.method) \($0.template)" })
    }

    private func documentRoutes() throws -> Set<String> {
        let bytes = try XCTUnwrap(OpenAPIDocument.bytes, "openapi.json missing from the bundle")
        let document = try JSON.parse(bytes)
        XCTAssertEqual(document["openapi"], "3.1.0")
        guard case .object(let paths)? = document["paths"] else {
            XCTFail("no paths")
            return []
        }
        var routes = Set<String>()
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for (method, _) in operations where ["get", "post", "put", "patch", "delete"].contains(method) {
                routes.insert("\(method.uppercased()) \(path)")
            }
        }
        return routes
    }

    func testEveryRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let router = routerRoutes()
        let document = try documentRoutes()
        XCTAssertEqual(router.subtracting(document).sorted(), [], "routes missing from openapi.json")
        XCTAssertEqual(document.subtracting(router).sorted(), [], "openapi.json documents routes the router lacks")
    }

    func testEveryOperationDocumentsItsErrorResponses() throws {
        let document = try JSON.parse(try XCTUnwrap(OpenAPIDocument.bytes))
        guard case .object(let paths)? = document["paths"] else { return XCTFail("no paths") }
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for (method, operation) in operations {
                guard case .object(let responses)? = operation["responses"] else {
                    XCTFail("\(method) \(path) has no responses")
                    continue
                }
                XCTAssertTrue(responses.contains { $0.0.hasPrefix("2") }, "\(method) \(path) has no success response")
                XCTAssertTrue(responses.contains { $0.0.hasPrefix("4") || $0.0.hasPrefix("5") }, "\(method) \(path) documents no error")
                XCTAssertNotNil(operation["operationId"], "\(method) \(path) has no operationId")
            }
        }
    }
}
