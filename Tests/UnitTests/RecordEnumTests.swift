import Data
import ETL
import Exporters
import Foundation
import Handlers
import JSONValues
import XCTest

/// The typed values of the records Data returns: how they are read from and written to
/// their text columns, the names requests may use, and the messages that list them.
final class RecordEnumTests: XCTestCase {
    /// Every case reads back from the text it binds as.
    private func assertRoundTrips<T: CaseIterable & RawRepresentable & SQLDecodable & SQLBindable & Equatable>(
        _ type: T.Type, file: StaticString = #filePath, line: UInt = #line
    ) where T.RawValue == String {
        for value in T.allCases {
            XCTAssertEqual(value.sqlText, value.rawValue, file: file, line: line)
            XCTAssertEqual(T(sqlText: value.sqlText), value, file: file, line: line)
        }
    }

    func testEveryCaseBindsAsItsRawValueAndDecodesBack() {
        assertRoundTrips(JobStatus.self)
        assertRoundTrips(SyncMode.self)
        assertRoundTrips(ETLRunStatus.self)
        assertRoundTrips(ETLTrigger.self)
        assertRoundTrips(SourceEngine.self)
        assertRoundTrips(ExportFormat.self)
        assertRoundTrips(ExportStatus.self)
        assertRoundTrips(ExportRecord.Kind.self)
        assertRoundTrips(DocumentStatus.self)
    }

    func testTheCasesAreTheValuesTheSchemaAllows() {
        // The CHECK constraints of migrations 0003, 0004, 0006, 0007, 0008, 0009 and 0017.
        XCTAssertEqual(JobStatus.allCases.map(\.rawValue), ["queued", "running", "succeeded", "failed", "cancelled"])
        XCTAssertEqual(DocumentStatus.allCases.map(\.rawValue), ["queued", "processing", "done", "failed"])
        XCTAssertEqual(SourceEngine.allCases.map(\.rawValue), ["postgresql", "mysql"])
        XCTAssertEqual(ETLTrigger.allCases.map(\.rawValue), ["manual", "schedule"])
        XCTAssertEqual(ETLRunStatus.allCases.map(\.rawValue), ["queued", "running", "succeeded", "failed"])
        XCTAssertEqual(ExportRecord.Kind.allCases.map(\.rawValue), ["table", "batch", "dashboard"])
        XCTAssertEqual(ExportStatus.allCases.map(\.rawValue), ["queued", "running", "succeeded", "failed", "expired"])
        XCTAssertEqual(SyncMode.allCases.map(\.rawValue), ["full_refresh", "incremental_append", "incremental_dedup"])
        XCTAssertEqual(ExportFormat.allCases.map(\.rawValue), ["csv", "excel", "json", "pdf"])
    }

    /// `Row.decode` throws `DataError.decoding` when `init(sqlText:)` gives nil.
    func testAValueThatIsNoCaseDoesNotDecode() {
        XCTAssertNil(JobStatus(sqlText: "paused"))
        XCTAssertNil(DocumentStatus(sqlText: "Done"))
        XCTAssertNil(SourceEngine(sqlText: "postgres"), "aliases are for requests; the column holds the engine's name")
        XCTAssertNil(SyncMode(sqlText: "append"), "aliases are for requests; the column holds the mode's name")
        XCTAssertNil(ETLRunStatus(sqlText: ""))
        XCTAssertNil(ETLTrigger(sqlText: "cron"))
        XCTAssertNil(ExportFormat(sqlText: "xlsx"))
        XCTAssertNil(ExportStatus(sqlText: "cancelled"))
        XCTAssertNil(ExportRecord.Kind(sqlText: "zip"))
    }

    func testAJobOfAKindWithNoHandlerStillLoads() {
        // The worker fails it with "no handler for job kind …" rather than never loading it.
        XCTAssertEqual(JobKind(sqlText: "no.such.kind")?.rawValue, "no.such.kind")
        XCTAssertEqual(JobKind.etlSync, JobKind(rawValue: "etl.sync"))
        XCTAssertEqual("\(JobKind.exportRun)", "export.run")
    }

    func testRequestsNameEnginesAndModesByAlias() {
        XCTAssertEqual(SourceEngine.names, ["postgresql", "postgres", "mysql", "mariadb"])
        XCTAssertEqual(SourceEngine(named: "postgres"), .postgresql)
        XCTAssertEqual(SourceEngine(named: "mariadb"), .mysql)
        XCTAssertNil(SourceEngine(named: "oracle"))
        XCTAssertEqual(SyncMode(named: "incremental_dedup"), .incrementalDedup)
        XCTAssertEqual(SyncMode(named: "overwrite"), .fullRefresh)
        XCTAssertEqual(SyncMode(named: "full"), .fullRefresh)
        XCTAssertEqual(SyncMode(named: "append"), .incrementalAppend)
        XCTAssertEqual(SyncMode(named: "incremental"), .incrementalAppend)
        XCTAssertEqual(SyncMode(named: "append_dedup"), .incrementalDedup)
        XCTAssertEqual(SyncMode(named: "dedup"), .incrementalDedup)
        XCTAssertNil(SyncMode(named: "merge"))
        XCTAssertFalse(SyncMode.fullRefresh.isIncremental)
        XCTAssertTrue(SyncMode.incrementalAppend.isIncremental)
    }

    func testAChoiceFieldListsTheCasesInOrder() {
        var reader = FieldReader(["format": "xlsx", "delivery": "job"])
        XCTAssertNil(reader.choice("format", as: ExportFormat.self))
        XCTAssertEqual(reader.choice("delivery", as: ExportSpec.Delivery.self), .job)
        XCTAssertEqual(reader.errors.map(\.0), ["format"])
        XCTAssertEqual(reader.errors.first?.1, "must be one of: csv, excel, json, pdf")
    }

    func testAStatusQueryParameterListsTheCasesInOrder() {
        var problems: [(String, String)] = []
        let bad = Request(source: FakeSource(method: "GET", path: "/x?status=paused"))
        XCTAssertNil(bad.query("status", as: ExportStatus.self, problems: &problems))
        XCTAssertNil(bad.query("status", as: ETLRunStatus.self, problems: &problems))
        XCTAssertNil(bad.query("status", as: DocumentStatus.self, problems: &problems))
        XCTAssertEqual(problems.map(\.1), [
            "must be one of: queued, running, succeeded, failed, expired",
            "must be one of: queued, running, succeeded, failed",
            "must be one of: queued, processing, done, failed",
        ])

        problems = []
        let empty = Request(source: FakeSource(method: "GET", path: "/x?status=&source=connection"))
        XCTAssertNil(empty.query("status", as: DocumentStatus.self, problems: &problems))
        XCTAssertTrue(problems.isEmpty, "an empty value is no filter")
        XCTAssertNil(empty.query("status", as: ExportStatus.self, emptyIsAbsent: false, problems: &problems))
        XCTAssertEqual(problems.count, 1)
        XCTAssertEqual(empty.query("source", as: WarehouseTableRef.Source.self, emptyIsAbsent: false, problems: &problems), .connection)
        XCTAssertEqual(Request(source: FakeSource(method: "GET", path: "/x?status=done"))
            .query("status", as: DocumentStatus.self, problems: &problems), .done)
    }

    func testARunsStoredSelectionReadsItsModes() throws {
        let selection = try ETLSync.requests(fromJSON: """
            {"tables": [{"name": "a"}, {"name": "b", "sync_mode": "incremental_dedup", "cursor_field": "t"}],
             "sync_mode": "incremental_append"}
            """)
        XCTAssertFalse(selection.all)
        XCTAssertEqual(selection.mode, .incrementalAppend)
        XCTAssertEqual(selection.tables.map(\.mode), [.incrementalAppend, .incrementalDedup])
        XCTAssertEqual(try ETLSync.requests(fromJSON: #"{"tables": "all"}"#).mode, .fullRefresh)
    }

    func testAStoredSelectionWithAnUnknownModeFailsTheRun() {
        XCTAssertThrowsError(try ETLSync.requests(fromJSON: #"{"tables": [{"name": "a", "sync_mode": "merge"}]}"#)) { error in
            XCTAssertEqual("\(error)", "unknown sync mode merge")
        }
        XCTAssertThrowsError(try ETLSync.requests(fromJSON: #"{"tables": "all", "sync_mode": "append"}"#))
    }

    func testTheStoredExportFormatIsReadBackIntoTheSpec() {
        var reader = FieldReader(["format": .string(ExportFormat.pdf.rawValue), "options": ["orientation": "landscape"]])
        let spec = ExportSpec.read(&reader)
        XCTAssertTrue(reader.errors.isEmpty)
        XCTAssertEqual(spec.format, .pdf)
        XCTAssertEqual(spec.pdf.orientation, .landscape)

        var bad = FieldReader(["format": "doc", "options": ["nonsense": true]])
        _ = ExportSpec.read(&bad)
        XCTAssertEqual(bad.errors.map(\.0), ["format"], "options are checked only against a valid format")
    }
}
