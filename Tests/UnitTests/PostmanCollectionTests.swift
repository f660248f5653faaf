import APIDocs
import JSONValues
import XCTest

/// The Postman collection made from an OpenAPI document, on a small document.
final class PostmanCollectionTests: XCTestCase {
    let document: JSON = [
        "openapi": "3.1.0",
        "info": ["title": "Shop", "version": "2.0"],
        "tags": [["name": "orders", "description": "Orders."], ["name": "empty"]],
        "paths": [
            "/api/orders/{id}": [
                "parameters": [["name": "id", "in": "path", "required": true, "description": "The order."]],
                "get": ["summary": "One order.", "tags": ["orders"], "security": [["bearerAuth": []]],
                        "parameters": [["$ref": "#/components/parameters/Limit"]], "responses": [:]],
                "put": ["operationId": "putOrder", "tags": ["orders"], "security": [["bearerAuth": []]],
                        "requestBody": ["content": ["application/json": ["schema": ["type": "object"], "example": ["note": "rush", "items": [1, 2]]]]],
                        "responses": [:]],
            ],
            "/health": ["get": ["summary": "Health.", "responses": [:]]],
            "/api/upload": ["post": ["summary": "Upload.", "tags": ["files"], "security": [["bearerAuth": []]],
                                     "requestBody": ["content": ["multipart/form-data": [
                                         "schema": ["type": "object", "properties": ["file": ["type": "string", "format": "binary"], "kind": ["type": "string"]]],
                                         "example": ["file": "a.pdf", "kind": "invoice"]]]],
                                     "responses": [:]]],
        ],
        "components": ["parameters": ["Limit": ["name": "limit", "in": "query", "description": "At most this many."]]],
    ]

    func testFoldersRequestsVariablesAuthAndBodies() throws {
        let collection = PostmanCollection.make(from: document, baseURL: "https://assay.example")
        XCTAssertEqual(collection["info"]?["schema"], .string(PostmanCollection.schemaURL))
        XCTAssertEqual(collection["info"]?["name"], "Shop 2.0")
        guard case .array(let folders)? = collection["item"] else { return XCTFail("no folders") }
        // Tags in the document's order, empty ones left out, untagged operations under "other".
        XCTAssertEqual(folders.map { $0["name"] }, ["orders", "other", "files"])
        XCTAssertEqual(folders[0]["description"], "Orders.")
        guard case .array(let orders)? = folders[0]["item"] else { return XCTFail("no orders") }
        XCTAssertEqual(orders.count, 2)
        let get = try XCTUnwrap(orders.first { $0["request"]?["method"] == "GET" })
        XCTAssertEqual(get["name"], "One order.")
        let url = try XCTUnwrap(get["request"]?["url"])
        XCTAssertEqual(url["raw"], "{{baseUrl}}/api/orders/:id")
        XCTAssertEqual(url["path"], ["api", "orders", ":id"])
        XCTAssertEqual(url["variable"], [["key": "id", "value": "", "description": "The order."]])
        XCTAssertEqual(url["query"], [["key": "limit", "value": "", "disabled": true, "description": "At most this many."]])
        XCTAssertNil(get["request"]?["auth"], "protected: the collection's bearer token")
        let put = try XCTUnwrap(orders.first { $0["request"]?["method"] == "PUT" })
        XCTAssertEqual(put["name"], "putOrder")
        let raw = try XCTUnwrap(put["request"]?["body"]?["raw"])
        guard case .string(let text) = raw else { return XCTFail("raw is not text") }
        XCTAssertEqual(try JSON.parse(Array(text.utf8)), ["note": "rush", "items": [1, 2]])
        XCTAssertTrue(text.contains("\n  \"note\": \"rush\""), "indented for people: \(text)")
        guard case .array(let other)? = folders[1]["item"] else { return XCTFail("no other") }
        XCTAssertEqual(other[0]["request"]?["auth"], ["type": "noauth"], "no security: public")
        guard case .array(let files)? = folders[2]["item"] else { return XCTFail("no files") }
        XCTAssertEqual(files[0]["request"]?["body"], ["mode": "formdata", "formdata": [
            ["key": "file", "type": "file", "src": "a.pdf"], ["key": "kind", "type": "text", "value": "invoice"]]])
        XCTAssertEqual(collection["auth"], ["type": "bearer", "bearer": [["key": "token", "value": "{{token}}", "type": "string"]]])
        guard case .array(let variables)? = collection["variable"] else { return XCTFail("no variables") }
        XCTAssertEqual(variables.first?["value"], "https://assay.example")
    }

    func testTheCollectionIdStaysTheSameForTheSameDocument() {
        let first = PostmanCollection.make(from: document, baseURL: "https://a")["info"]?["_postman_id"]
        let second = PostmanCollection.make(from: document, baseURL: "https://b")["info"]?["_postman_id"]
        XCTAssertEqual(first, second)
        guard case .string(let id)? = first else { return XCTFail("no id") }
        XCTAssertNotNil(UUID(uuidString: id), id)
    }
}
