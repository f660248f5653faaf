import Handlers
import JSONValues
import XCTest

final class JSONValidationTests: XCTestCase {
    private func apiError(_ body: () throws -> Void) -> APIError? {
        do {
            try body()
        } catch let error as APIError {
            return error
        } catch let failure as ValidationFailure {
            // What the HTTP layer answers for it (Application.apiError).
            return APIError.validation(failure.fields)
        } catch {
            XCTFail("unexpected \(error)")
        }
        return nil
    }

    func testMalformedJSONIs400InvalidJSON() {
        for text in ["{", "{\"a\": }", "nope", "{\"a\": 1,}"] {
            let error = apiError { _ = try jsonRequest(text).jsonObject() }
            XCTAssertEqual(error?.status, 400, text)
            XCTAssertEqual(error?.code, "invalid_json", text)
        }
    }

    func testEmptyBodyIs400() {
        XCTAssertEqual(apiError { _ = try jsonRequest("").jsonObject() }?.status, 400)
    }

    func testNonObjectTopLevelIs422() {
        let error = apiError { _ = try jsonRequest("[1,2]").jsonObject() }
        XCTAssertEqual(error?.status, 422)
        XCTAssertEqual(error?.fields.first?.0, "body")
    }

    func testWrongContentTypeIs415() {
        XCTAssertEqual(apiError { _ = try jsonRequest("{}", contentType: "text/plain").jsonObject() }?.status, 415)
    }

    func testOversizeBodyIs413() {
        let big = "{\"a\":\"" + String(repeating: "x", count: 2000) + "\"}"
        let error = apiError { _ = try jsonRequest(big).jsonObject(limit: 1000) }
        XCTAssertEqual(error?.status, 413)
        XCTAssertEqual(error?.code, "payload_too_large")
    }

    func testANulAnywhereInABodyIsA422NamingItsPath() throws {
        let cases: [(String, String)] = [
            (#"{"full_name": "Alice\u0000Evil"}"#, "full_name"),
            (#"{"fields": [{"id": "a"}, {"synonyms": ["x", "y\u0000"]}]}"#, "fields[1].synonyms[1]"),
            (#"{"credentials": {"host": "\u0000"}}"#, "credentials.host"),
            (#"{"a\u0000": 1}"#, "a\u{0}"),
        ]
        for (text, path) in cases {
            let error = apiError { _ = try jsonRequest(text).jsonObject() }
            XCTAssertEqual(error?.status, 422, text)
            XCTAssertEqual(error?.fields.first?.0, path, text)
        }
        XCTAssertNil(JSON.object([("a", .array([.string("fine"), .int(0)]))]).pathOfNUL())
        XCTAssertNoThrow(try jsonRequest(#"{"a": "\u0001 is not NUL"}"#).jsonObject())
    }

    func testEveryBadFieldIsNamedInOne422() throws {
        var body = try jsonRequest(#"{"name": 5, "count": "x", "flag": 1, "email": "  "}"#).jsonObject()
        _ = body.string("name")
        _ = body.int("count")
        _ = body.bool("flag")
        _ = body.string("email", minLength: 1)
        _ = body.string("missing")
        var failure: ValidationFailure?
        XCTAssertThrowsError(try body.finish()) { failure = $0 as? ValidationFailure }
        let error = failure.map { APIError.validation($0.fields) }
        XCTAssertEqual(error?.status, 422)
        XCTAssertEqual(error?.code, "validation_failed")
        let fields = Dictionary(uniqueKeysWithValues: error?.fields ?? [])
        XCTAssertEqual(fields["name"], "must be a string, not integer")
        XCTAssertEqual(fields["count"], "must be an integer, not string")
        XCTAssertEqual(fields["flag"], "must be true or false, not integer")
        XCTAssertEqual(fields["email"], "must not be empty")
        XCTAssertEqual(fields["missing"], "is required")
    }

    func testValidFieldsPassAndTrim() throws {
        var body = try jsonRequest(#"{"name": " Ada ", "count": 3, "ratio": 0.5, "on": true, "kind": "b"}"#).jsonObject()
        XCTAssertEqual(body.string("name"), "Ada")
        XCTAssertEqual(body.int("count", range: 0...10), 3)
        XCTAssertEqual(body.double("ratio"), 0.5)
        XCTAssertEqual(body.bool("on"), true)
        XCTAssertEqual(body.choice("kind", ["a", "b"]), "b")
        XCTAssertNil(body.string("absent", required: false))
        XCTAssertNoThrow(try body.finish())
    }

    func testRangeAndChoiceViolations() throws {
        var body = try jsonRequest(#"{"count": 11, "kind": "z"}"#).jsonObject()
        _ = body.int("count", range: 0...10)
        _ = body.choice("kind", ["a", "b"])
        let fields = Dictionary(uniqueKeysWithValues: apiError { try body.finish() }?.fields ?? [])
        XCTAssertEqual(fields["count"], "must be between 0 and 10")
        XCTAssertEqual(fields["kind"], "must be one of: a, b")
    }

    func testEnvelopeShape() throws {
        let envelope = APIError.validation([("email", "is required")]).envelope(requestID: "req-12345678")
        let parsed = try JSON.parse(envelope.serialized())
        XCTAssertEqual(parsed["error"]?["code"], "validation_failed")
        XCTAssertEqual(parsed["error"]?["request_id"], "req-12345678")
        XCTAssertEqual(parsed["error"]?["fields"]?["email"], "is required")
        XCTAssertNotNil(parsed["error"]?["message"])
    }

    func testSerializerEscapesHTMLAndControlCharacters() {
        let text = String(decoding: JSON.string("</script><b>\"\u{1}\n&").serialized(), as: UTF8.self)
        XCTAssertEqual(text, #""\u003c/script\u003e\u003cb\u003e\"\u0001\n\u0026""#)
        // Plain runs between escapes, at both ends, and multi-byte characters kept as they are.
        let mixed = String(decoding: JSON.object([("k\\ey", .string("Zürich\tpaid €12\\r & done\u{1F}"))]).serialized(),
                           as: UTF8.self)
        XCTAssertEqual(mixed, #"{"k\\ey":"Zürich\tpaid €12\\r \u0026 done\u001f"}"#)
        XCTAssertEqual(String(decoding: JSON.string("").serialized(), as: UTF8.self), #""""#)
    }

    func testRoundTripKeepsTypes() throws {
        let value: JSON = ["a": 1, "b": 1.5, "c": true, "d": nil, "e": ["x"], "f": ["g": "h"]]
        XCTAssertEqual(try JSON.parse(value.serialized()), value)
        XCTAssertEqual(try JSON.parse(Array("true".utf8)), .bool(true))
        XCTAssertEqual(try JSON.parse(Array("1".utf8)), .int(1))
    }
}

final class JSONParserTests: XCTestCase {
    func testStrictnessRejectsWhatRFC8259Rejects() {
        for text in ["[1,]", "{\"a\":1,}", "01", "NaN", "'x'", "{a:1}", "[1] 2", "\"\\x\"", "\"\u{1}\"", "1.", ".5", "-", "\"\\ud800\""] {
            XCTAssertThrowsError(try JSON.parse(Array(text.utf8)), text)
        }
    }

    func testParsesValues() throws {
        XCTAssertEqual(try JSON.parse(Array(#"{"a":[1,-2.5e2,true,null,"\u00e9\ud83d\ude00\n"]}"#.utf8)),
                       ["a": [1, -250.0, true, nil, "é😀\n"]])
        XCTAssertEqual(try JSON.parse(Array("9223372036854775808".utf8)), .double(9223372036854775808))
    }

    func testDeepNestingIsRefused() {
        let deep = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        XCTAssertThrowsError(try JSON.parse(Array(deep.utf8)))
    }

    func testErrorNamesTheOffset() {
        do {
            _ = try JSON.parse(Array("{\"a\": tru}".utf8))
            XCTFail("should throw")
        } catch let error as JSONSyntaxError {
            XCTAssertEqual(error.offset, 9)
            XCTAssertEqual(APIError.invalidJSON(error).code, "invalid_json")
            XCTAssertTrue(APIError.invalidJSON(error).message.contains("at byte 9"), error.description)
        } catch {
            XCTFail("\(error)")
        }
    }
}
