import Documents
import XCTest

final class ValueParserTests: XCTestCase {
    func testNumbersInUSAndEuropeanNotation() {
        XCTAssertEqual(ValueParser.parseNumber("1,234.56"), "1234.56")
        XCTAssertEqual(ValueParser.parseNumber("1.234,56"), "1234.56")
        XCTAssertEqual(ValueParser.parseNumber("12,50"), "12.50")
        XCTAssertEqual(ValueParser.parseNumber("1,250"), "1250")
        XCTAssertEqual(ValueParser.parseNumber("(42)"), "-42")
        XCTAssertEqual(ValueParser.parseNumber(".5"), "0.5")
        XCTAssertNil(ValueParser.parseNumber("12a"))
        XCTAssertNil(ValueParser.parseNumber(""))
    }

    func testCurrencyPercentBoolean() {
        XCTAssertEqual(ValueParser.parseCurrency("$4.50")?.currency, "USD")
        XCTAssertEqual(ValueParser.parseCurrency("42,50 €")?.amount, "42.50")
        XCTAssertEqual(ValueParser.parseCurrency("EUR 1.000,00")?.amount, "1000.00")
        XCTAssertEqual(ValueParser.parseCurrency("RM 9.90")?.currency, "MYR")
        XCTAssertNil(ValueParser.parseCurrency("4.50"))
        XCTAssertEqual(ValueParser.parsePercent("25.5%"), "25.5")
        XCTAssertEqual(ValueParser.parseBoolean("Yes"), true)
    }

    func testDates() {
        XCTAssertEqual(ValueParser.parseDate("2024-01-15"), "2024-01-15")
        XCTAssertEqual(ValueParser.parseDate("31/12/2017"), "2017-12-31")
        XCTAssertEqual(ValueParser.parseDate("12/31/2017"), "2017-12-31")
        XCTAssertEqual(ValueParser.parseDate("31.12.17"), "2017-12-31")
        XCTAssertEqual(ValueParser.parseDate("5 Mar 2024"), "2024-03-05")
        XCTAssertEqual(ValueParser.parseDate("March 5, 2024"), "2024-03-05")
        XCTAssertNil(ValueParser.parseDate("31/02/2024"))
        XCTAssertNil(ValueParser.parseDate("Widget"))
    }

    func testTypeInference() {
        XCTAssertEqual(ValueParser.inferType(["1", "2", "1,200"]), .integer)
        XCTAssertEqual(ValueParser.inferType(["1.5", "2", "3.25"]), .decimal)
        XCTAssertEqual(ValueParser.inferType(["$1", "$2.50", ""]), .currency)
        XCTAssertEqual(ValueParser.inferType(["10%", "5%"]), .percent)
        XCTAssertEqual(ValueParser.inferType(["2024-01-01", "01/02/2024"]), .date)
        XCTAssertEqual(ValueParser.inferType(["yes", "no", "yes"]), .boolean)
        XCTAssertEqual(ValueParser.inferType(["Widget", "7"]), .text)
    }

    func testTrimmingSkipsFoundationOnlyWhenThereIsNothingToTrim() {
        for text in ["abc", " abc", "abc\t", "\u{00A0}12\u{00A0}", "12\n", "\n12", "", " ", "é", "a b", "\u{2003}x"] {
            XCTAssertEqual(ValueParser.trimmed(text), text.trimmingCharacters(in: .whitespaces), text.debugDescription)
        }
    }

    func testPlainDecimalsAreCanonicalAsTheyAre() {
        XCTAssertEqual(ValueParser.parseNumber("007"), "007")
        XCTAssertEqual(ValueParser.parseNumber("-12.5"), "-12.5")
        XCTAssertEqual(ValueParser.parseNumber(" 42 "), "42")
        XCTAssertNil(ValueParser.parseNumber("name 12"))
        XCTAssertNil(ValueParser.parseCurrency("12.5"))
        XCTAssertEqual(ValueParser.parseCurrency("CHF 12.50")?.currency, "CHF")
        XCTAssertNil(ValueParser.parseDate("12.5"))
        XCTAssertEqual(ValueParser.parseDate("29.02.2024"), "2024-02-29")
        XCTAssertNil(ValueParser.parseDate("29.02.2023"))
        XCTAssertNil(ValueParser.parseDate("29.02.1900"), "1900 was not a leap year")
        XCTAssertEqual(ValueParser.parseDate("Dec 31, 2017"), "2017-12-31")
    }

    func testColumnNamesAreSafeAndUnique() {
        var taken: Set<String> = ["_row"]
        XCTAssertEqual(ValueParser.columnName("Unit price (€)", taken: &taken), "unit_price")
        XCTAssertEqual(ValueParser.columnName("Unit  price", taken: &taken), "unit_price_2")
        XCTAssertEqual(ValueParser.columnName("2024 Total", taken: &taken), "c_2024_total")
        XCTAssertEqual(ValueParser.columnName("\"; DROP TABLE x; --", taken: &taken), "drop_table_x")
        XCTAssertEqual(ValueParser.columnName("Größe", taken: &taken), "grosse")
        XCTAssertEqual(ValueParser.columnName("", taken: &taken), "column")
    }
}

final class ValueParserRangeTests: XCTestCase {
    func testDigitStringsBeyondBigintAreDecimalNotInteger() {
        XCTAssertEqual(ValueParser.inferType(["123456789012345678901234", "98765432109876543210987"]), .decimal)
        XCTAssertNil(ValueParser.sqlValue("123456789012345678901234", as: .integer))
        XCTAssertEqual(ValueParser.sqlValue("9223372036854775807", as: .integer), "9223372036854775807")
    }
}
