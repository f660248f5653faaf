import Chat
import Data
import Documents
import Extraction
import Query
import XCTest

/// The question parser on a small table, and the value parsing it relies on.
final class ChatTests: XCTestCase {
    /// Race results: a driver, a constructor, laps, grid, points, a date.
    static let table: TableVocabulary = {
        let columns = [
            QueryColumn(name: "driver", header: "Driver", type: .text),
            QueryColumn(name: "constructor", header: "Constructor", type: .text),
            QueryColumn(name: "laps", header: "Laps", type: .number, declaredType: "integer"),
            QueryColumn(name: "grid", header: "Grid", type: .number, declaredType: "integer"),
            QueryColumn(name: "points", header: "Points", type: .number, declaredType: "integer"),
            QueryColumn(name: "race_date", header: "Race date", type: .date, declaredType: "date", format: "{d} {Month} {yyyy}"),
        ]
        let distinct: [(values: [String], complete: Bool)] = [
            (["Jos Verstappen", "Helmut Marko", "Nick Heidfeld", "Jean Alesi"], true),
            (["Ferrari", "McLaren - Mercedes", "Arrows"], true),
            (["70", "69", "12", "2"], true),
            (["1", "2", "10", "27"], true),
            (["0", "6", "10"], true),
            (["2025-03-01", "2025-04-12", "2026-05-30"], true),
        ]
        return TableVocabulary(columns: columns, distinct: distinct)
    }()

    func interpret(_ question: String) -> Interpretation {
        QuestionParser(ChatTests.table).interpret(question, today: Date(timeIntervalSince1970: 1_780_000_000))
    }

    func column(_ name: String) -> Int { ChatTests.table.columns.firstIndex { $0.name == name }! }

    func testAValueAndTheHeaderThatLabelsIt() {
        let reading = interpret("How many laps did Jos Verstappen do with a grid of 27?")
        XCTAssertEqual(reading.select, column("laps"))
        XCTAssertEqual(reading.aggregate, .sum)
        XCTAssertEqual(reading.conditions.map(\.column), [column("driver"), column("grid")])
        XCTAssertEqual(reading.conditions.map(\.value), [.text(["Jos Verstappen"]), .number(27)])
    }

    func testComparisonsBeforeTheColumnOrAfterIt() {
        let reading = interpret("Which driver had more than 10 points and fewer than 70 laps?")
        XCTAssertEqual(reading.select, column("driver"))
        let byColumn = Dictionary(uniqueKeysWithValues: reading.conditions.map { ($0.column, $0.op) })
        XCTAssertEqual(byColumn[column("points")], .greater)
        XCTAssertEqual(byColumn[column("laps")], .less)
        let between = interpret("How many drivers had between 2 and 12 laps?")
        XCTAssertEqual(between.aggregate, .count)
        XCTAssertEqual(between.conditions.map(\.op), [.greaterOrEqual, .lessOrEqual])
        XCTAssertEqual(interpret("How many drivers are not with Ferrari?").conditions.first?.op, .notEqual)
        XCTAssertEqual(interpret("How many races had at least 10 points?").conditions.first?.op, .greaterOrEqual)
    }

    func testAggregatesGroupingRankingAndDates() {
        XCTAssertEqual(interpret("What is the average points for Arrows?").aggregate, .avg)
        XCTAssertEqual(interpret("How many different drivers are there?").aggregate, .countDistinct)
        let grouped = interpret("Total points by constructor")
        XCTAssertEqual(grouped.grouping?.column, column("constructor"))
        XCTAssertEqual(grouped.select, column("points"))
        let monthly = interpret("Total laps by month")
        XCTAssertEqual(monthly.grouping?.column, column("race_date"))
        XCTAssertEqual(monthly.grouping?.bucket, .month)
        let top = interpret("Top 2 drivers by points")
        XCTAssertEqual(top.grouping?.column, column("driver"))
        XCTAssertEqual(top.select, column("points"))
        XCTAssertEqual(top.limit, 2)
        XCTAssertEqual(top.descending, true)
        let best = interpret("Which constructor has the highest points?")
        XCTAssertEqual(best.grouping?.column, column("constructor"))
        XCTAssertEqual(best.limit, 1)
        let dated = interpret("How many races were after 1 April 2025?")
        XCTAssertEqual(dated.conditions.first?.value, .date("2025-04-01"))
        XCTAssertEqual(dated.conditions.first?.op, .greater)
        let year = interpret("What were the total points in 2025?")
        XCTAssertEqual(year.conditions.map(\.op), [.greaterOrEqual, .less])
        XCTAssertEqual(year.conditions.map(\.value), [.date("2025-01-01"), .date("2026-01-01")])
        XCTAssertEqual(interpret("How many races in the last 30 days?").conditions.first?.relative, "last_30_days")
    }

    func testQuestionsWithNothingToGoByAreNotAnswered() {
        XCTAssertFalse(interpret("What is the weather tomorrow?").answerable)
        XCTAssertFalse(interpret("Who won the world cup in 1998?").answerable)
        XCTAssertTrue(interpret("Who drove for Arrows?").answerable)
        XCTAssertEqual(interpret("Who drove for Arrows?").select, column("driver"))
    }

    func testDatesKeepTheStyleTheyWereWrittenIn() {
        XCTAssertEqual(DateStyle.common(["14 November 1996", "3 March 1997"]), "{d} {Month} {yyyy}")
        XCTAssertEqual(DateStyle.common(["March 4, 2012", "May 20, 2012"]), "{Month} {d}, {yyyy}")
        XCTAssertEqual(DateStyle.common(["10/29/76", "3/4/73", "6/6/77"]), "{m}/{d}/{yy}")
        XCTAssertNil(DateStyle.common(["2024-01-05", "2024-02-03"]))
        XCTAssertEqual(DateStyle.render("1976-10-29", style: "{m}/{d}/{yy}"), "10/29/76")
        XCTAssertEqual(DateStyle.render("1945-05-19", style: "{d} {Month} {yyyy}"), "19 May 1945")
        XCTAssertEqual(ChatTests.table.columns[column("race_date")].shown(.string("2025-03-01")), .string("1 March 2025"))
    }

    func testValueParsingTheCorpusNeeded() {
        XCTAssertNil(ValueParser.parseNumber("3.0.4"), "a version, not a number")
        XCTAssertEqual(ValueParser.parseNumber("1.234.567"), "1234567")
        XCTAssertEqual(ValueParser.parseNumber("1,234,567"), "1234567")
        XCTAssertEqual(ValueParser.parseDate("6/6/77"), "1977-06-06")
        XCTAssertEqual(ValueParser.parseDate("1/2/24"), "2024-02-01")
        XCTAssertEqual(ValueParser.parseDate("3/4/73", monthFirst: true), "1973-03-04")
        XCTAssertTrue(ValueParser.monthFirst(["3/29/72", "3/4/73"]))
        XCTAssertFalse(ValueParser.monthFirst(["29/3/72", "3/4/73"]))
        // A first row of years over results is a header; over years it is data.
        XCTAssertNotNil(TableExtraction.table(rows: [["Tournament", "2006", "2007"], ["Wimbledon", "1R", "QF"]]).headerCells)
        XCTAssertNotNil(TableExtraction.table(rows: [["City", "2010"], ["Miami", "28342158"]]).headerCells)
        XCTAssertNil(TableExtraction.table(rows: [["Acme", "2010"], ["Beta", "2011"]]).headerCells)
    }
}
