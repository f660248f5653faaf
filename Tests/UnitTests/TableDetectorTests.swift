import Documents
import Foundation
import XCTest

final class TableDetectorTests: XCTestCase {
    private func word(_ text: String, _ x: Double, _ y: Double) -> Word {
        Word(text: text, x0: x, y0: y, x1: x + Double(text.count) * 6, y1: y + 12, confidence: 0.9)
    }

    private func page(_ words: [Word], rulings: [RulingLine]? = nil) -> PageModel {
        var page = PageModel(number: 1, width: 612, height: 792, source: .text, words: words, text: "")
        if let rulings { page.layout = PageLayout(words: words, rulings: rulings) }
        return page
    }

    /// Words of a line of running text starting at `x`, 4 pt apart as a proportional font sets them.
    private func sentence(_ text: String, _ x: Double, _ y: Double) -> [Word] {
        var x = x
        return text.split(separator: " ").map { part in
            defer { x += Double(part.count) * 6 + 4 }
            return word(String(part), x, y)
        }
    }

    // MARK: Unruled tables

    func testAlignedRowsBecomeATable() {
        var words: [Word] = [word("Title", 72, 50)]
        let rows = [["Name", "Qty", "Price"], ["Apple", "3", "1.20"], ["Pear", "10", "0.80"], ["Fig", "7", "2.00"]]
        for (r, row) in rows.enumerated() {
            for (c, cell) in row.enumerated() { words.append(word(cell, 72 + Double(c) * 150, 80 + Double(r) * 16)) }
        }
        words.append(word("Footer", 72, 300))
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.header, ["Name", "Qty", "Price"])
        XCTAssertEqual(tables.first?.rows.map { $0.map(\.text) }, [["Apple", "3", "1.20"], ["Pear", "10", "0.80"], ["Fig", "7", "2.00"]])
        XCTAssertEqual(tables.first?.textGrid.first, ["Name", "Qty", "Price"])
    }

    func testIntegrationTestTableWithColumns105PointsApartIsFound() {
        // The layout of Tests/integration/documents_helpers.py `make_pdf`: Helvetica 12, cells 105 pt apart.
        let rows = [["Date", "Product", "Units", "Unit price", "Share"], ["2024-01-15", "Widget", "12", "$4.50", "10%"],
                    ["2024-02-20", "Gadget", "7", "$12.00", "25%"], ["2024-03-05", "Doohickey", "1200", "$0.99", "65%"]]
        var words = sentence("Quarterly report", 72, 60)
        for (r, row) in rows.enumerated() {
            for (c, cell) in row.enumerated() { words += sentence(cell, 72 + Double(c) * 105, 76 + Double(r) * 16) }
        }
        words += sentence("Notes follow after the table.", 72, 76 + 4 * 16)
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.header, ["Date", "Product", "Units", "Unit price", "Share"])
        XCTAssertEqual(tables.first?.rows.count, 3)
        XCTAssertEqual(tables.first?.rows.last?.map(\.text), ["2024-03-05", "Doohickey", "1200", "$0.99", "65%"])
    }

    func testCountingColumnLabelsAreAHeader() {
        // "1 2 3" labels the columns (grades, years ahead), it is not a row of data.
        var words: [Word] = []
        let rows = [["Stage", "1", "2", "3"], ["Apple", "5.1", "7.4", "9.0"], ["Pear", "6.2", "8.8", "3.5"], ["Fig", "0.4", "1.7", "2.2"]]
        for (r, row) in rows.enumerated() {
            for (c, cell) in row.enumerated() { words.append(word(cell, 72 + Double(c) * 100, 80 + Double(r) * 16)) }
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.header, ["Stage", "1", "2", "3"])
        XCTAssertEqual(tables.first?.rows.count, 3)
    }

    func testLettersOfAChartsRotatedTitleInARuledGridAreNoTable() {
        // A chart's grid lines with its axis title read letter by letter and a few values.
        let xs = [50.0, 150, 250, 350], ys = [100.0, 120, 140, 160]
        var words: [Word] = []
        for (r, letters) in [["e", "t"], ["a", "r"], ["o", "n"]].enumerated() {
            words += [word(letters[0], 55, ys[r] + 4), word(letters[1], 65, ys[r] + 4), word("\(r * 10)", 155, ys[r] + 4)]
        }
        XCTAssertTrue(TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys))).isEmpty)
    }

    func testProseIsNotATable() {
        let words = (0..<5).flatMap { line in sentence("The quick brown fox jumps", 72, 80 + Double(line) * 16) }
        XCTAssertTrue(TableDetector.detect(page(words)).isEmpty)
    }

    func testProseSetInTwoColumnsIsNotATable() {
        let left = "public health agencies report the annual rates of"
        let right = "the survey covers every state and territory in"
        let words = (0..<8).flatMap { line in
            sentence(left, 50, 80 + Double(line) * 14) + sentence(right, 330, 80 + Double(line) * 14)
        }
        XCTAssertTrue(TableDetector.detect(page(words)).isEmpty)
    }

    func testWrappedLabelJoinsItsRow() {
        var words: [Word] = []
        var y = 80.0
        for (label, values, wrap) in [("Median income", ["49,497", "51,295"], nil as String?),
                                      ("Income inequality (Gini", ["0.4590", "0.4560"], "index)"),
                                      ("Premature mortality", ["7108.3", "6960.6"], nil)] {
            words += sentence(label, 50, y)
            for (c, value) in values.enumerated() { words.append(word(value, 250 + Double(c) * 80, y)) }
            if let wrap {
                y += 12
                words += sentence(wrap, 50, y)
            }
            y += 20
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid.map { $0[0] }, ["Median income", "Income inequality (Gini index)", "Premature mortality"])
    }

    func testARowLabelWrappedAroundItsFiguresIsOneRow() {
        // The figures of a row whose label takes two lines are set halfway between them; a long
        // label's first line alone reads like a sentence and must not end the table.
        var words: [Word] = []
        var y = 80.0
        for (label, wrap) in [("Median household income", nil as String?), ("Between-state income inequality (Gini", "index)"),
                              ("Premature mortality (years of potential life", "lost before age 75 yrs)"), ("Household income", nil)] {
            words += sentence(label, 45, y)
            let figuresY = wrap == nil ? y : y + 6.5
            for c in 0..<4 { words.append(word("0.0\(c + 1)\(Int(y) % 10)", 300 + Double(c) * 60, figuresY)) }
            if let wrap {
                words += sentence(wrap, 45, y + 13)
                y += 13
            }
            y += 20
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid.map { $0[0] }, ["Median household income", "Between-state income inequality (Gini index)",
                                                             "Premature mortality (years of potential life lost before age 75 yrs)", "Household income"])
        XCTAssertEqual(tables.first?.textGrid.map(\.count), [5, 5, 5, 5])
    }

    func testALeaderSetTightAgainstItsLabelStartsWithTheLabelsFullStop() {
        // Dot leaders the text layer reads as words: the first dot set closer than a word space
        // is the label's full stop; one set a word space away (3 pt on a 12 pt line) is not.
        var words: [Word] = []
        for (r, (label, gap)) in [("Severe disability", 1.0), ("With a disability", 3.0), ("Employed", 0.5)].enumerated() {
            let y = 80 + Double(r) * 16
            words += sentence(label, 50, y)
            var x = words.last!.x1 + gap
            for _ in 0..<4 {
                words.append(Word(text: ".", x0: x, y0: y, x1: x + 2, y1: y + 12, confidence: 0.9))
                x += 5
            }
            words += [word("\(r + 1)2,838", 200, y), word("4\(r).6", 280, y)]
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.first?.textGrid.map { $0[0] }, ["Severe disability. . . .", "With a disability . . . .", "Employed. . . ."])
    }

    func testARowSetToTheLastLineOfItsWrappedLabelIsOneRow() {
        // Rows 27 pt apart; one label takes two lines, its figure beside the second, and its first
        // line alone reads like a sentence.
        var words = [word("Program", 86, 80), word("Budget", 470, 80)]
        var y = 107.0
        for (label, wrap, budget) in [("Performance.gov", nil as String?, "$1.1M"),
                                      ("Federal Risk Authorization and Management Program", "(FedRAMP)", "$0.3M"),
                                      ("IT Dashboard", nil, "$1.06M"), ("Data.gov", nil, "$0.9M")] {
            words += sentence(label, 86, y)
            if let wrap {
                y += 15
                words += sentence(wrap, 86, y)
            }
            words.append(word(budget, 470, y))
            y += 27
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid.map { $0[0] }, ["Program", "Performance.gov", "Federal Risk Authorization and Management Program (FedRAMP)",
                                                             "IT Dashboard", "Data.gov"])
        XCTAssertEqual(tables.first?.textGrid[2][1], "$0.3M")
    }

    func testATableBesideProseInTheOtherColumnKeepsOnlyItsCells() {
        // A page set in two columns: a table on the left, running text on the right.
        var words: [Word] = []
        let right = "disparities in heart disease and stroke among persons who"
        for line in 0..<12 {
            let y = 80 + Double(line) * 14
            words += [word("State \(line)", 40, y), word("\(1000 + line * 7)", 130, y), word("\(20 + line).5", 190, y)]
            words += sentence(right, 330, y)
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.header.count, 3)
        XCTAssertEqual(tables.first?.textGrid.first, ["State 0", "1000", "20.5"])
    }

    func testATableContinuedOnTheNextPageIsJoinedWhenAsked() {
        func tablePage(_ number: Int, top: Double, values: [String]) -> PageModel {
            var words = [word("Name", 72, top), word("Qty", 222, top), word("Price", 372, top)]
            for (r, value) in values.enumerated() {
                let y = top + 16 * Double(r + 1)
                words += [word(value, 72, y), word("\(r + 1)", 222, y), word("\(r).50", 372, y)]
            }
            return PageModel(number: number, width: 612, height: 792, source: .text, words: words, text: "")
        }
        let pages = [tablePage(1, top: 640, values: ["Apple", "Pear", "Fig"]), tablePage(2, top: 60, values: ["Plum", "Kiwi", "Lime"])]
        XCTAssertEqual(DocumentTables.detect(pages).map(\.page), [1, 2])
        let joined = DocumentTables.detect(pages, joiningPages: true)
        XCTAssertEqual(joined.count, 1)
        XCTAssertEqual(joined.first?.pages, [1, 2])
        XCTAssertEqual(joined.first?.rows.map { $0[0].text }, ["Apple", "Pear", "Fig", "Plum", "Kiwi", "Lime"])
        XCTAssertEqual(joined.first?.textGrid.count, 7)
    }

    // MARK: Ruled tables

    /// Rules of a grid with column boundaries `xs` and row boundaries `ys`; `open` lists
    /// (row, boundary column) pairs where the vertical rule is left out.
    private func grid(xs: [Double], ys: [Double], open: Set<[Int]> = []) -> [RulingLine] {
        var lines = ys.map { RulingLine(.horizontal, at: $0, from: xs.first!, to: xs.last!) }
        for (c, x) in xs.enumerated() {
            for row in 0..<(ys.count - 1) where !open.contains([row, c]) {
                lines.append(RulingLine(.vertical, at: x, from: ys[row], to: ys[row + 1]))
            }
        }
        return lines
    }

    func testTablesSetSideBySideUnderARepeatedHeaderAreEachATable() {
        // A long list set in two columns of the page: "Age | Total population" twice, one frame.
        var words: [Word] = []
        for (offset, x) in [72.0, 300].enumerated() {
            words += [word("Age", x, 80)] + sentence("Total population", x + 80, 80)
            for row in 0..<4 {
                let age = offset * 4 + row
                words += sentence("\(age) years", x, 96 + Double(row) * 16) + [word("\(3_000 + age * 7),000", x + 80, 96 + Double(row) * 16)]
            }
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.map(\.header), [["Age", "Total population"], ["Age", "Total population"]])
        XCTAssertEqual(tables.map { $0.rows.map { $0[0].text } }, [(0..<4).map { "\($0) years" }, (4..<8).map { "\($0) years" }])
        XCTAssertLessThan(tables[0].bbox.x1, tables[1].bbox.x0)
    }

    func testRepeatedLabelsOverFiguresStayOneTable() {
        // "Male | Female" twice over figures only: one table (its group labels unread), not two.
        var words: [Word] = []
        for (c, label) in ["Male", "Female", "Male", "Female"].enumerated() { words.append(word(label, 150 + Double(c) * 80, 80)) }
        for r in 0..<3 {
            for c in 0..<4 { words.append(word("\(r + c).5", 150 + Double(c) * 80, 96 + Double(r) * 16)) }
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.map(\.header), [["Male", "Female", "Male", "Female"]])
    }

    func testAColumnLabelWrappedOverTwoHeaderLinesBesideAGroupLabelIsOneLabel() {
        // "Grade" groups 7 8 9; "Special / needs" is one label set on two lines beside it.
        var words: [Word] = [word("Year", 72, 80), word("Grade", 227, 80), word("Special", 400, 80)]
        words += [word("7", 159, 100), word("8", 239, 100), word("9", 319, 100), word("needs", 406, 100)]
        for (r, year) in ["2001", "2002", "2003"].enumerated() {
            let y = 118 + Double(r) * 16
            words += [word(year, 72, y), word("10.\(r)", 150, y), word("11.\(r)", 230, y), word("12.\(r)", 310, y), word("1,004.\(r)", 400, y)]
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(Array(tables.first?.textGrid.prefix(2) ?? []),
                       [["Year", "Grade", "", "", "Special needs"], ["", "7", "8", "9", ""]])
        XCTAssertEqual(tables.first?.header, ["Year", "Grade 7", "Grade 8", "Grade 9", "Special needs"])
        XCTAssertEqual(tables.first?.headerRowCount, 2)
        XCTAssertEqual(tables.first?.rows.count, 3)
    }

    func testAColumnLabelWrappedRaggedOverTwoHeaderLinesIsOneLabel() {
        // "Sample / size" and "Weighted / Percent" set flush right over right-aligned figures: the
        // short second line's middle is off its column's, and nearer two columns' than one's.
        var words: [Word] = [word("Status", 145, 80), word("Sample", 284, 80), word("Percent", 340, 80), word("Weighted", 433, 80)]
        words += [word("size", 296, 93), word("Percent", 439, 93)]
        let body: [(String, [String])] = [("Total", ["39695", "100.0", "100.0"]), ("Not interviewed", ["5701", "14.4", "18.2"]),
                                          ("Interviewed, not examined", ["2683", "6.8", "7.5"])]
        for (r, (label, values)) in body.enumerated() {
            let y = 110 + Double(r) * 16
            words += sentence(label, 74, y)
            for (value, right) in zip(values, [320.0, 382, 481]) { words.append(word(value, right - Double(value.count) * 6, y)) }
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.headerRowCount, 1)
        XCTAssertEqual(tables.first?.textGrid.first, ["Status", "Sample size", "Percent", "Weighted Percent"])
        XCTAssertEqual(tables.first?.rows.map { $0[0].text }, ["Total", "Not interviewed", "Interviewed, not examined"])
    }

    func testGroupLabelsOfOneHeaderRowShareNoColumn() {
        // Columns set at an even pitch: "Public", centred over its three columns, is centred over
        // five as well; it gives way to "Total" and "Private", which group the columns beside.
        var words: [Word] = [word("Total", 185, 80), word("Public", 332, 80), word("Private", 479, 80), word("Year", 42, 94)]
        for c in 0..<9 { words.append(word(["PK", "K", "G"][c % 3], 144 + Double(c) * 50, 94)) }
        for (r, year) in ["1996", "1997", "1998"].enumerated() {
            let y = 112 + Double(r) * 14
            words.append(word(year, 42, y))
            for c in 0..<9 { words.append(word("\(c + 1),\(r)00", 135 + Double(c) * 50, y)) }
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid.first, ["Year", "Total", "", "", "Public", "", "", "Private", "", ""])
        XCTAssertEqual(tables.first?.header.last, "Private G")
    }

    func testAGroupLabelBetweenBodyRowsSpansTheDataColumnsAndSchoolYearsLabelThem() {
        // "2007–08" labels a column as "2007" would; the centred label between the groups of rows
        // spans the figures' columns, its text in the first of them, and does not end the table.
        var words = [word("Source", 72, 80), word("2007–08", 150, 80), word("2008–09", 250, 80), word("2009–10", 350, 80)]
        let body: [(String, Double)] = [("Actual", 96), ("Model", 128), ("Trend", 144)]
        for (label, y) in body {
            words += [word(label, 72, y), word("49,293", 150, y), word("49,266", 250, y), word("49,373", 350, y)]
        }
        words += sentence("Projected enrollment, in thousands", 169, 112)
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.header, ["Source", "2007–08", "2008–09", "2009–10"])
        XCTAssertEqual(tables.first?.textGrid.map { $0[0] }, ["Source", "Actual", "", "Model", "Trend"])
        XCTAssertEqual(tables.first?.textGrid[2], ["", "Projected enrollment, in thousands", "", ""])
    }

    func testAGroupLabelSetApartFromTheRowsAboveDoesNotSplitTheTable() {
        // "Female" stands three line heights below the last "Male" row; its rows follow closely.
        var words = [word("Dose", 72, 80), word("No.", 150, 80), word("Weight", 230, 80), word("Male", 72, 100)]
        var y = 116.0
        for group in 0..<2 {
            if group == 1 {
                y += 36
                words.append(word("Female", 72, y))
                y += 16
            }
            for (r, dose) in ["0", "250", "500"].enumerated() {
                words += [word(dose, 72, y), word("\(30 + r)", 150, y), word("\(group + 5).\(r)", 230, y)]
                y += 14
            }
        }
        let tables = TableDetector.detect(page(words))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid.map { $0[0] }, ["Dose", "Male", "0", "250", "500", "Female", "0", "250", "500"])
    }

    func testABulletedListIsNotATable() {
        // Bullets set apart from their items line up as a column; the list is still no table.
        var words: [Word] = []
        let items = ["AFFIRM Leadership Award", "Federal Computer Week", "Government Innovation Prize", "Digital Service Award"]
        for (r, item) in items.enumerated() {
            words.append(word("\u{F0B7}", 72, 80 + Double(r) * 16))
            words += sentence(item, 100, 80 + Double(r) * 16)
        }
        XCTAssertTrue(TableDetector.detect(page(words)).isEmpty)
        // The same rows with figures beside them are a table.
        let figures = words + items.indices.map { word("\($0 + 1).5", 300, 80 + Double($0) * 16) }
        XCTAssertEqual(TableDetector.detect(page(figures)).count, 1)
    }

    func testRuledTablesComeOutTheSameWhateverTheOrderOfTheirRules() {
        // Two framed tables side by side and one below: union-find roots and grouping follow the
        // rules' order, so the tables' order must not.
        var rules = grid(xs: [50, 150, 250], ys: [100, 120, 140, 160]) + grid(xs: [300, 400, 500], ys: [100, 120, 140, 160])
            + grid(xs: [50, 150, 250], ys: [300, 320, 340, 360])
        var words: [Word] = []
        for (x, y, tag) in [(50.0, 100.0, "A"), (300, 100, "B"), (50, 300, "C")] {
            for r in 0..<3 { words += [word("\(tag)\(r)", x + 5, y + Double(r) * 20 + 4), word("\(r + 1)", x + 105, y + Double(r) * 20 + 4)] }
        }
        let expected = TableDetector.detect(page(words, rulings: rules)).map(\.textGrid)
        XCTAssertEqual(expected.map { $0.first?.first }, ["A0", "B0", "C0"])
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            rules.shuffle(using: &generator)
            XCTAssertEqual(TableDetector.detect(page(words, rulings: rules)).map(\.textGrid), expected)
        }
    }

    func testRuledGridBecomesATableWithASpanningHeader() {
        let xs = [50.0, 150, 250, 350], ys = [100.0, 120, 140, 160, 180]
        let cells = [["Name", "Results", nil], ["Apple", "1", "2"], ["Pear", "3", "4"], ["Fig", "5", "6"]]
        var words: [Word] = []
        for (r, row) in cells.enumerated() {
            for (c, text) in row.enumerated() { if let text { words.append(word(text, xs[c] + 5, ys[r] + 4)) } }
        }
        // No rule between the two result columns in the header row: "Results" spans them.
        let tables = TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys, open: [[0, 2]])))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid, [["Name", "Results", ""], ["Apple", "1", "2"], ["Pear", "3", "4"], ["Fig", "5", "6"]])
        XCTAssertEqual(tables.first?.header, ["Name", "Results", "Results"])
        XCTAssertEqual(tables.first?.rows.first?.map(\.text), ["Apple", "1", "2"])
        XCTAssertEqual(tables.first?.spans.first, [1, 1, 1])
    }

    func testRuledCellKeepsItsWrappedTextTogether() {
        let xs = [50.0, 200, 300], ys = [100.0, 120, 160]
        var words = [word("Label", 55, 104), word("Value", 205, 104)]
        words += sentence("Number of member states", 55, 124) + sentence("in the analysis", 55, 140) + [word("21", 205, 124)]
        let tables = TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys)))
        XCTAssertEqual(tables.first?.textGrid, [["Label", "Value"], ["Number of member states in the analysis", "21"]])
    }

    func testTwoColumnsOfNumbersInOneRuledColumnAreCutButARangeInATypewriterFaceIsNot() {
        // Left: ranges set a word space apart ("1 - 2 years"); the numbers on either side of the
        // white between "1 -" and "2" must not cut the column. Right: two columns of figures in
        // one ruled column, far apart, are two columns.
        let xs = [50.0, 200, 400], ys = [100.0, 120, 200]
        var words = [word("Age", 55, 104), word("Counts", 205, 104)]
        for (r, (from, to)) in [("1", "2"), ("3", "5"), ("12", "19"), ("20", "29")].enumerated() {
            let y = 124 + Double(r) * 16
            var x = 55.0
            for part in [from, "-", to, "years"] {
                words.append(word(part, x, y))
                x += Double(part.count) * 6 + 6
            }
            words += [word("\(r + 1),000", 205, y), word("\(r + 7).5", 340, y)]
        }
        let tables = TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys)))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid.dropFirst().map { $0 }, [["1 - 2 years", "1,000", "7.5"], ["3 - 5 years", "2,000", "8.5"],
                                                                       ["12 - 19 years", "3,000", "9.5"], ["20 - 29 years", "4,000", "10.5"]])
    }

    func testARuledColumnOfAgesAndCountsIsCutClearOfTheWordsBesideTheAges() {
        // The white between ages and counts is narrowed by "years" on one side and a wide total on
        // the other: the cut goes through the white those lines leave, not the middle of the gap.
        let xs = [50.0, 150, 300], ys = [100.0, 190]
        var words: [Word] = []
        let rows: [(String, String?, String)] = [("A1", "80", "723,049"), ("A2", "81", "640,276"), ("A3", "100", "9,663"),
                                                 ("A4", "101", "5,231"), ("A5", nil, "226,545,805")]
        for (r, (label, age, count)) in rows.enumerated() {
            let y = 104 + Double(r) * 16
            words.append(word(label, 55, y))
            if let age {
                words += [word(age, 155, y), word("years", 158 + Double(age.count) * 6, y)]
            } else {
                words.append(word("Total", 155, y))
            }
            words.append(word(count, 295 - Double(count.count) * 6, y))
        }
        let tables = TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys)))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid, [["A1", "80 years", "723,049"], ["A2", "81 years", "640,276"], ["A3", "100 years", "9,663"],
                                                ["A4", "101 years", "5,231"], ["A5", "Total", "226,545,805"]])
    }

    func testARuleUnderOneColumnOnlyAlsoEndsTheRowsBesideIt() {
        // The rows share one band, cut line by line; a total's rule is drawn under the last column only.
        let xs = [50.0, 150, 250, 350], ys = [100.0, 200]
        var words: [Word] = []
        for r in 0..<6 {
            let y = r < 5 ? 104 + Double(r) * 16 : 188
            words += [word("L\(r)", 55, y), word("\(r + 1),000", 155, y), word("\(r + 2),500", 255, y)]
        }
        let rules = grid(xs: xs, ys: ys) + [RulingLine(.horizontal, at: 184, from: 250, to: 350)]
        let tables = TableDetector.detect(page(words, rulings: rules))
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid.map { $0[0] }, (0..<6).map { "L\($0)" })
        XCTAssertEqual(tables.first?.textGrid.last, ["L5", "6,000", "7,500"])
    }

    func testBulletsBoxedAsTallAsTheirFontKeepTheirItemsInOrder() {
        // A symbol font's bullet boxed from well above its line down to just below it: placed
        // by its box's middle it would fall among the line above.
        let xs = [50.0, 150, 400], ys = [100.0, 120, 200]
        var words = [word("Property", 55, 104), word("Reasons", 155, 104), word("Clarity", 55, 124)]
        for (r, item) in ["First item", "Second item", "Third item"].enumerated() {
            let y = 124 + Double(r) * 14
            words.append(Word(text: "•", x0: 155, y0: y + 15 - 32, x1: 160, y1: y + 15, confidence: 0.9))
            words += sentence(item, 170, y)
        }
        let tables = TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys)))
        XCTAssertEqual(tables.first?.textGrid, [["Property", "Reasons"], ["Clarity", "• First item • Second item • Third item"]])
    }

    func testNumbersStackedInOneRuledBandBecomeRows() {
        // Only the header is ruled off; the body rows share one band.
        let xs = [50.0, 200, 300], ys = [100.0, 120, 200]
        var words = [word("Reclassifications", 55, 104), word("Count", 205, 104)]
        for (r, (label, value)) in [("none", "52"), ("one", "28"), ("two", "11")].enumerated() {
            words += [word(label, 55, 124 + Double(r) * 16), word(value, 205, 124 + Double(r) * 16)]
        }
        let tables = TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys)))
        XCTAssertEqual(tables.first?.textGrid, [["Reclassifications", "Count"], ["none", "52"], ["one", "28"], ["two", "11"]])
    }

    func testRowLabelsLeftOfTheFirstRuleAreTheFirstColumn() {
        // Only the figures are ruled; the labels sit to the left of the frame.
        let xs = [150.0, 250, 350], ys = [100.0, 120, 140, 160]
        var words = [word("Cost", 96, 104), word("Total", 155, 104), word("Direct", 255, 104)]
        for (r, (label, total, direct)) in [("Salaries", "1,314", "940"), ("Travel", "26", "12")].enumerated() {
            words += [word(label, 96, ys[r + 1] + 4), word(total, 155, ys[r + 1] + 4), word(direct, 255, ys[r + 1] + 4)]
        }
        let tables = TableDetector.detect(page(words, rulings: grid(xs: xs, ys: ys)))
        XCTAssertEqual(tables.first?.textGrid, [["Cost", "Total", "Direct"], ["Salaries", "1,314", "940"], ["Travel", "26", "12"]])
    }

    func testACaptionDrawnInsideTheFrameIsNotARow() {
        let xs = [50.0, 200, 300], ys = [100.0, 120, 140, 160]
        var words = sentence("Exhibit 9 Costs", 55, 104)
        words += [word("Item", 55, 124), word("Cost", 205, 124), word("Rent", 55, 144), word("400", 205, 144)]
        var rules = grid(xs: xs, ys: ys, open: [[0, 1]])
        rules.append(RulingLine(.vertical, at: 200, from: 120, to: 160))
        let tables = TableDetector.detect(page(words, rulings: rules))
        XCTAssertEqual(tables.first?.textGrid, [["Item", "Cost"], ["Rent", "400"]])
    }

    func testAFramedParagraphIsNotATable() {
        let words = sentence("A note in a box is not a table", 60, 110)
        XCTAssertTrue(TableDetector.detect(page(words, rulings: grid(xs: [50, 400], ys: [100, 130]))).isEmpty)
    }

    // MARK: Rules

    func testRulesAreFoundInInkAndGlyphsAreNot() {
        let (width, height) = (200, 200)
        var ink = [UInt8](repeating: 0, count: width * height)
        for x in 20..<180 { ink[50 * width + x] = 255 }      // horizontal rule at y = 50
        for y in 20..<180 { ink[y * width + 100] = 200 }     // vertical rule at x = 100, grey
        for y in 120..<135 { for x in 30..<31 { ink[y * width + x] = 255 } }  // the stem of a glyph
        let glyphWord = Word(text: "l", x0: 28, y0: 118, x1: 34, y1: 137, confidence: 1)
        let lines = RulingDetector.lines(ink: ink, width: width, height: height, scale: 1, masking: [glyphWord])
        let horizontal = lines.filter { $0.axis == .horizontal }, vertical = lines.filter { $0.axis == .vertical }
        XCTAssertEqual(horizontal.count, 1)
        XCTAssertEqual(horizontal.first?.position ?? 0, 50.5, accuracy: 0.6)
        XCTAssertEqual(horizontal.first?.length ?? 0, 160, accuracy: 1)
        XCTAssertEqual(vertical.count, 1)
        XCTAssertEqual(vertical.first?.position ?? 0, 100.5, accuracy: 0.6)
    }

    /// A one-page PDF (612 × 792 pt, Helvetica) with the given content stream, written by hand
    /// as the integration tests' helper does; PDF y runs upwards from the bottom. `form`, if
    /// given, is the content of a form XObject the page can draw as `/Fm1 Do`.
    private func writePDF(content: String, to path: String, form: String? = nil) throws {
        let stream = Data(content.utf8)
        var objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 5 0 R /Resources << /Font << /F1 3 0 R >>"
                + (form == nil ? "" : " /XObject << /Fm1 6 0 R >>") + " >> >>",
            "<< /Length \(stream.count) >>\nstream\n\(content)\nendstream",
        ]
        if let form {
            objects.append("<< /Type /XObject /Subtype /Form /BBox [0 0 612 792] /Matrix [1 0 0 1 0 -100] /Length \(form.utf8.count) >>\nstream\n\(form)\nendstream")
        }
        var pdf = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, body) in objects.enumerated() {
            offsets.append(pdf.utf8.count)
            pdf += "\(index + 1) 0 obj\n\(body)\nendobj\n"
        }
        let xref = pdf.utf8.count
        pdf += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { pdf += String(format: "%010d 00000 n \n", offset) }
        pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        try Data(pdf.utf8).write(to: URL(fileURLWithPath: path))
    }

    func testRulesOfADrawnPDFTableAreFoundAndMakeItsGrid() throws {
        // A 3 × 3 grid of 0.5 pt rules with a word in every cell.
        let xs = [72.0, 200, 330, 460], ys = [692.0, 667, 642, 617]
        let cells = [["Item", "Count", "Share"], ["Apples", "12", "40%"], ["Pears", "18", "60%"]]
        var ops = ["0.5 w"]
        for y in ys { ops.append("\(xs.first!) \(y) m \(xs.last!) \(y) l S") }
        for x in xs { ops.append("\(x) \(ys.first!) m \(x) \(ys.last!) l S") }
        for (r, row) in cells.enumerated() {
            for (c, text) in row.enumerated() { ops.append("BT /F1 10 Tf \(xs[c] + 6) \(ys[r] - 17) Td (\(text)) Tj ET") }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ruled-\(UUID()).pdf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writePDF(content: ops.joined(separator: "\n"), to: path)

        let pdf = try PDFDocument(path: path)
        var model = try pdf.page(0)
        model.layout = try pdf.layout(pageIndex: 0)
        let rulings = model.layout?.rulings ?? []
        XCTAssertEqual(rulings.filter { $0.axis == .horizontal }.count, 4)
        XCTAssertEqual(rulings.filter { $0.axis == .vertical }.count, 4)
        let tables = TableDetector.detect(model)
        XCTAssertEqual(tables.count, 1)
        XCTAssertEqual(tables.first?.textGrid, cells)
    }

    func testRulesAreReadFromTheDrawnPathsNotFromWhiteOrDottedOnes() throws {
        // Two rows of text with rules drawn in different ways: thin filled bars under a
        // translation, a stroked frame inside a form XObject (its matrix moves it down
        // 100 pt), a white bar and a dotted line that are no rules, a dark header bar whose
        // edges are rules, a short tick that is too short, a pale rule that is one and a
        // pale shaded band that has none.
        let ops = [
            "q 1 0 0 1 50 0 cm 0 g 22 700 400 0.8 re f 22 650 400 0.8 re f Q",
            "1 g 72 600 400 1 re f 0 g",
            "[1 2] 0 d 72 580 m 472 580 l S [] 0 d",
            "0.2 g 72 540 400 20 re f 0 g",
            "72 520 m 77 520 l S",
            "0.85 0.85 0.9 RG 72 470 m 472 470 l S 0 G",
            "0.8 g 72 440 400 20 re f 0 g",
            "/Fm1 Do",
            "BT /F1 10 Tf 80 680 Td (Name) Tj 150 0 Td (Count) Tj ET",
            "BT /F1 10 Tf 80 665 Td (Apples) Tj 150 0 Td (12) Tj ET",
            "BT /F1 10 Tf 80 620 Td (Pears) Tj 150 0 Td (18) Tj ET",
        ]
        let form = "0.5 w 0 0 0 RG 72 400 m 472 400 l S 72 300 m 72 400 l S 472 300 m 472 400 l S"
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("paths-\(UUID()).pdf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try writePDF(content: ops.joined(separator: "\n"), to: path, form: form)

        let rulings = try PDFDocument(path: path).layout(pageIndex: 0).rulings
        let horizontal = rulings.filter { $0.axis == .horizontal }.sorted { $0.position < $1.position }
        let vertical = rulings.filter { $0.axis == .vertical }.sorted { $0.position < $1.position }
        // Page y runs down from the top: 792 - y.
        // A pale rule counts; a pale shaded band has no edges.
        XCTAssertEqual(horizontal.map { ($0.position * 10).rounded() / 10 }, [91.6, 141.6, 232, 252, 322, 492])
        XCTAssertEqual(horizontal.first?.start ?? 0, 72, accuracy: 0.01)
        XCTAssertEqual(horizontal.first?.end ?? 0, 472, accuracy: 0.01)
        XCTAssertEqual(vertical.map(\.position), [72, 472])
        XCTAssertEqual(vertical.first?.start ?? 0, 492, accuracy: 0.01)
        XCTAssertEqual(vertical.first?.end ?? 0, 592, accuracy: 0.01)
    }

    // MARK: Drawn documents (Tests/fixtures/tables, made by make_tables.py)

    /// The fixture's table as the upload API stores it: the column names and the body rows
    /// of the largest table found with pages joined, beside what a reader of the PDF expects.
    private func storedTable(_ name: String) throws -> (header: [String], rows: [[String]], expected: (header: [String], rows: [[String]])) {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/tables")
        let pdf = folder.appendingPathComponent("\(name).pdf").path
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("\(name).json"))) as? [String: Any]
        let expected = (header: json?["header"] as? [String] ?? [], rows: json?["rows"] as? [[String]] ?? [])
        let tables = DocumentTables.detect(try DocumentReader.pages(path: pdf, type: .pdf), joiningPages: true)
        let table = try XCTUnwrap(tables.max { $0.rows.count < $1.rows.count }, "no table in \(name)")
        return (table.header, table.rows.map { $0.map(\.text) }, expected)
    }

    private func assertStoredAsRead(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let table = try storedTable(name)
        XCTAssertEqual(table.header, table.expected.header, "header of \(name)", file: file, line: line)
        XCTAssertEqual(table.rows.count, table.expected.rows.count, "row count of \(name)", file: file, line: line)
        XCTAssertEqual(table.rows, table.expected.rows, "rows of \(name)", file: file, line: line)
    }

    func testRuledInvoiceWithAShadedHeaderRowKeepsEveryItemAsARow() throws {
        try assertStoredAsRead("invoice_ruled_shaded")
    }

    func testRuledInvoiceWithAPlainHeaderRowKeepsEveryItemAsARow() throws {
        try assertStoredAsRead("invoice_ruled_plain")
    }

    func testRuledTableWithHeaderCellsWrappedOverTwoLinesHasOneHeaderRow() throws {
        try assertStoredAsRead("fleet_ruled_multiline_header")
    }

    func testUnruledInvoiceHeaderNamesItsColumns() throws {
        try assertStoredAsRead("invoice_unruled")
    }

    func testInvoiceWithWhiteLabelsOnADarkBandAndStripedRowsNamesItsColumns() throws {
        try assertStoredAsRead("invoice_banded_header")
    }

    func testTwoLineColumnLabelsBetweenHorizontalRulesAreOneHeader() throws {
        try assertStoredAsRead("report_multiline_header")
    }

    func testLedgerOverThreePagesKeepsItsShortAmountHeaderOverTheAmounts() throws {
        try assertStoredAsRead("ledger_three_pages")
    }
}
