import Connectors
import Data
import ETL
import Foundation
import XCTest

/// Which key an ETL'd table gets, and the rows endpoint's cursor tokens.
final class ETLKeyTests: XCTestCase {
    private func column(_ index: String, _ position: Int, _ column: String?, primary: Bool = false, notNull: Bool = true,
                        table: String = "t") -> SourceKey.IndexColumn {
        SourceKey.IndexColumn(schema: "public", table: table, index: index, primary: primary, position: position, column: column,
                              notNull: notNull)
    }

    func testThePrimaryKeyWinsInKeyOrder() {
        let keys = SourceKey.choose(from: [
            column("t_code", 1, "code"),
            column("t_pkey", 2, "id", primary: true), column("t_pkey", 1, "region", primary: true),
        ])
        XCTAssertEqual(keys[SourceTableRef(schema: "public", name: "t")], SourceKey(kind: .primaryKey, columns: ["region", "id"]))
    }

    func testWithoutAPrimaryKeyTheSmallestUniqueKeyOnNotNullColumnsIsUsed() {
        let keys = SourceKey.choose(from: [
            column("b_wide", 1, "a"), column("b_wide", 2, "b"),
            column("a_nullable", 1, "email", notNull: false),
            column("c_narrow", 1, "code"),
            column("d_expression", 1, nil),
            column("a_also", 1, "sku"),
        ])
        XCTAssertEqual(keys[SourceTableRef(schema: "public", name: "t")], SourceKey(kind: .unique, columns: ["sku"]))
    }

    func testNullableOrExpressionUniqueIndexesAreNoKey() {
        let keys = SourceKey.choose(from: [
            column("n", 1, "email", notNull: false),
            column("e", 1, nil), column("e", 2, "id"),
        ])
        XCTAssertNil(keys[SourceTableRef(schema: "public", name: "t")])
    }

    func testTheWarehouseKeyFollowsTheRunThenTheSourceElseASurrogate() {
        let source = SourceKey(kind: .unique, columns: ["sku"])
        XCTAssertEqual(WarehouseKey.choose(mode: .fullRefresh, requested: nil, source: source),
                       WarehouseKey(columns: ["sku"], source: "unique"))
        XCTAssertEqual(WarehouseKey.choose(mode: .incrementalDedup, requested: ["id"], source: source),
                       WarehouseKey(columns: ["id"], source: "requested"))
        XCTAssertEqual(WarehouseKey.choose(mode: .fullRefresh, requested: nil, source: nil), .surrogate)
        // An append-only table keeps every version of a row: the source's key repeats there.
        XCTAssertEqual(WarehouseKey.choose(mode: .incrementalAppend, requested: nil, source: source), .surrogate)
        XCTAssertEqual(WarehouseKey.surrogate.columns, ["_assay_row"])
    }

    func testACursorTokenRoundTripsAnyKeyValues() throws {
        let table = UUID()
        let key = ["42", "naïve \"quoted\", comma.dot/slash+plus", "2024-01-02 03:04:05.000006+00", ""]
        let token = RowCursor(table: table, key: key).token
        XCTAssertTrue(token.hasPrefix("v1."))
        XCTAssertTrue(token.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }, token)
        let read = try XCTUnwrap(RowCursor(token: token))
        XCTAssertEqual(read.key, key)
        XCTAssertTrue(read.belongs(to: table))
        XCTAssertFalse(read.belongs(to: UUID()))
    }

    func testGarbageIsNoCursor() {
        let valid = RowCursor(table: UUID(), key: ["1"]).token
        for token in ["", "garbage", "v1..", "v2" + valid.dropFirst(2), "v1.ZZZZZZZZ.WyIxIl0", "v1.0123abcd.!!!!",
                      "v1.0123abcd.e30" /* {} */, "v1.0123abcd.W10" /* [] */, "v1.0123abcd.WzFd" /* [1] */,
                      String(repeating: "a", count: 5000)] {
            XCTAssertNil(RowCursor(token: token), token)
        }
    }
}
