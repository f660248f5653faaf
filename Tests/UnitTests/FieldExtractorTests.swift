import Documents
import XCTest

/// Builds synthetic pages: each line is (text, x, y); words get boxes 6 points per character.
private func page(_ lines: [(String, Double, Double)], number: Int = 1, width: Double = 600, height: Double = 800,
                  source: PageModel.Source = .text, confidence: Double = 0.95) -> PageModel {
    var words: [Word] = []
    for (text, x, y) in lines {
        var cursor = x
        for word in text.split(separator: " ") {
            let width = Double(word.count) * 6
            words.append(Word(text: String(word), x0: cursor, y0: y, x1: cursor + width, y1: y + 10, confidence: confidence))
            cursor += width + 3
        }
    }
    return PageModel(number: number, width: width, height: height, source: source, words: words,
                     text: lines.map(\.0).joined(separator: "\n"))
}

private func extract(_ pages: [PageModel], _ specs: [FieldSpec]) throws -> [String: ExtractedField] {
    let fields = try RuleBasedExtractor().extract(pages: pages, fields: specs)
    return Dictionary(uniqueKeysWithValues: fields.map { ($0.fieldID, $0) })
}

final class FieldExtractorTests: XCTestCase {
    func testValueRightOfLabelWithPageAndBox() throws {
        let invoice = page([("ACME Widgets GmbH", 40, 40), ("Invoice number: INV-2024-0042", 300, 120),
                            ("Invoice date: 05.03.2024", 300, 140), ("Total due: 1.234,56 EUR", 300, 600)])
        let fields = try extract([invoice], InvoiceFields.specs)
        XCTAssertEqual(fields["invoice_number"]?.value, "INV-2024-0042")
        XCTAssertEqual(fields["date"]?.value, "2024-03-05")
        XCTAssertEqual(fields["amount"]?.value, "1234.56")
        XCTAssertEqual(fields["amount"]?.currency, "EUR")
        XCTAssertEqual(fields["currency"]?.value, "EUR")
        XCTAssertEqual(fields["issuer"]?.value, "ACME Widgets GmbH")
        let amount = try XCTUnwrap(fields["amount"])
        XCTAssertEqual(amount.page, 1)
        let box = try XCTUnwrap(amount.box)
        XCTAssertEqual(box.y0, 600, accuracy: 0.01)
        XCTAssertGreaterThanOrEqual(box.x0, 360 - 0.01)
        XCTAssertLessThan(box.x1, 300 + 6 * 30)
        XCTAssertGreaterThan(amount.confidence, 0.5)
    }

    func testValueBelowLabel() throws {
        let invoice = page([("Invoice No.", 300, 100), ("Date", 420, 100), ("884512", 300, 114), ("12/31/2023", 420, 114)])
        let fields = try extract([invoice], InvoiceFields.specs)
        XCTAssertEqual(fields["invoice_number"]?.value, "884512")
        XCTAssertEqual(fields["date"]?.value, "2023-12-31")
        XCTAssertEqual(fields["date"]?.box?.y0 ?? 0, 114, accuracy: 0.01)
    }

    func testGermanFrenchDutchSpanishItalianAndMalayLabels() throws {
        let cases: [(String, String, String)] = [
            ("Rechnungsnummer: 4711", "Zahlbetrag 529,87 €", "4711"),
            ("Facture n° 2022089083", "Total TTC : 56,02 €", "2022089083"),
            ("Factuurnummer: 993548900", "Te betalen € 717,97", "993548900"),
            ("Número de factura: F-2024-77", "Total a pagar 99,50 €", "F-2024-77"),
            ("Fattura n. 2024/123", "Totale da pagare € 12,30", "2024/123"),
        ]
        for (numberLine, totalLine, number) in cases {
            let fields = try extract([page([(numberLine, 300, 100), (totalLine, 300, 500)])], InvoiceFields.specs)
            XCTAssertEqual(fields["invoice_number"]?.value, number, numberLine)
            XCTAssertNotNil(fields["amount"]?.value, totalLine)
            XCTAssertEqual(fields["currency"]?.value, "EUR", totalLine)
        }
        let receipt = page([("KEDAI MAJU SDN BHD", 100, 20), ("JUMLAH RM 12.50", 100, 300), ("TUNAI RM 20.00", 100, 314)])
        let fields = try extract([receipt], InvoiceFields.specs)
        XCTAssertEqual(fields["amount"]?.value, "12.50")
        XCTAssertEqual(fields["currency"]?.value, "MYR")
    }

    func testGrandTotalWinsOverSubtotalAndTax() throws {
        let invoice = page([("Subtotal $ 262.90", 300, 500), ("Tax 15% $ 16.94", 300, 514), ("Total $ 279.84", 300, 528),
                            ("Net amount 262.90", 300, 560)])
        let fields = try extract([invoice], InvoiceFields.specs)
        XCTAssertEqual(fields["amount"]?.value, "279.84")
        XCTAssertEqual(fields["currency"]?.value, "USD")
        let german = page([("Rechnungssumme ohne USt. 473,00", 300, 500), ("Steuerbetrag 56,87", 300, 514),
                           ("Bruttosumme 529,87", 300, 528)])
        XCTAssertEqual(try extract([german], InvoiceFields.specs)["amount"]?.value, "529.87")
    }

    func testDateFormats() throws {
        let cases = [("Datum: 5. März 2024", "2024-03-05"), ("Date: Mar 5, 2024", "2024-03-05"), ("Date: 05/03/2024", "2024-03-05"),
                     ("Date: 2024-03-05", "2024-03-05"), ("Date: 03/20/2023", "2023-03-20"), ("Fecha: 5 de marzo de 2024", "2024-03-05"),
                     ("Factuurdatum: 19 april 2014", "2014-04-19"), ("Facture du 02 Juillet 2015", "2015-07-02")]
        for (line, expected) in cases {
            XCTAssertEqual(try extract([page([(line, 50, 50)])], InvoiceFields.specs)["date"]?.value, expected, line)
        }
    }

    func testInvoiceDateIsNotTheDueDate() throws {
        let invoice = page([("Due date: 04/04/2023", 300, 80), ("Invoice date: 20/03/2023", 300, 100)])
        let fields = try extract([invoice], InvoiceFields.specs + [FieldSpec(id: "due_date", name: "Due date", type: .date)])
        XCTAssertEqual(fields["date"]?.value, "2023-03-20")
        XCTAssertEqual(fields["due_date"]?.value, "2023-04-04")
    }

    func testCurrencyDetection() throws {
        XCTAssertEqual(try extract([page([("Total £ 12.00", 50, 50)])], InvoiceFields.specs)["currency"]?.value, "GBP")
        XCTAssertEqual(try extract([page([("Grand Total Rs 1939", 50, 50)])], InvoiceFields.specs)["currency"]?.value, "INR")
        XCTAssertEqual(try extract([page([("TOTAL RM9.00", 50, 50)])], InvoiceFields.specs)["currency"]?.value, "MYR")
        XCTAssertNil(try extract([page([("Total 12.00", 50, 50)])], InvoiceFields.specs)["currency"]?.value)
    }

    func testCustomFieldsOfEachType() throws {
        let invoice = page([("Lieferant GmbH", 40, 40), ("E-Mail: billing@lieferant.de", 40, 60), ("Tel.: +49 711 508855", 40, 74),
                            ("USt-IdNr.: DE123456789", 40, 88), ("Discount rate: 3 %", 300, 100), ("Items shipped: 12", 300, 114),
                            ("Weight: 1,250.5", 300, 128), ("Payment terms: 30 days net", 300, 142), ("Due date: 2024-04-04", 300, 156)])
        let specs = [FieldSpec(id: "contact_email", name: "Contact e-mail", type: .email),
                     FieldSpec(id: "phone", name: "Phone", type: .phone),
                     FieldSpec(id: "vat_id", name: "VAT ID", type: .text),
                     FieldSpec(id: "discount", name: "Discount rate", type: .percentage),
                     FieldSpec(id: "items", name: "Items shipped", type: .integer),
                     FieldSpec(id: "weight", name: "Gross weight", type: .number, synonyms: ["Weight"]),
                     FieldSpec(id: "terms", name: "Payment terms", type: .text),
                     FieldSpec(id: "due_date", name: "Due date", type: .date)]
        let fields = try extract([invoice], specs)
        XCTAssertEqual(fields["contact_email"]?.value, "billing@lieferant.de")
        XCTAssertEqual(fields["phone"]?.value, "+49711508855")
        XCTAssertEqual(fields["vat_id"]?.value, "DE123456789")
        XCTAssertEqual(fields["discount"]?.value, "3")
        XCTAssertEqual(fields["items"]?.value, "12")
        XCTAssertEqual(fields["weight"]?.value, "1250.5")
        XCTAssertEqual(fields["terms"]?.value, "30 days net")
        XCTAssertEqual(fields["due_date"]?.value, "2024-04-04")
        XCTAssertEqual(fields["vat_id"]?.page, 1)
    }

    func testMissingFieldHasNoValueAndZeroConfidence() throws {
        let fields = try extract([page([("Hello world", 50, 50)])],
                                 [FieldSpec(id: "po", name: "PO number", type: .text), FieldSpec(id: "due", name: "Due date", type: .date)])
        for id in ["po", "due"] {
            let field = try XCTUnwrap(fields[id])
            XCTAssertNil(field.value)
            XCTAssertEqual(field.confidence, 0)
            XCTAssertNil(field.page)
            XCTAssertNil(field.box)
        }
        XCTAssertEqual(try RuleBasedExtractor().extract(pages: [], fields: InvoiceFields.specs).compactMap(\.value), [])
    }

    func testIssuerIsTheSellerNotTheBuyer() throws {
        let invoice = page([("INVOICE", 250, 20), ("Northwind Traders Ltd", 40, 50), ("12 Harbour Road", 40, 64),
                            ("Bill to:", 40, 120), ("Contoso Inc", 40, 134), ("Invoice No: 1001", 350, 120)])
        XCTAssertEqual(try extract([invoice], InvoiceFields.specs)["issuer"]?.value, "Northwind Traders Ltd")
        let labelled = page([("Verkäufer", 40, 100), ("Name: Lieferant GmbH", 40, 114), ("Käufer", 300, 100),
                             ("Name: Kunden AG", 300, 114)])
        XCTAssertEqual(try extract([labelled], InvoiceFields.specs)["issuer"]?.value, "Lieferant GmbH")
    }

    func testReceiptSellerAndAddressSkipRegistrationNumbers() throws {
        let receipt = page([("KEDAI MAJU SDN BHD", 100, 20), ("(123456-X)", 130, 34), ("NO.5, JALAN BESAR,", 100, 48),
                            ("43000 KAJANG, SELANGOR", 100, 62), ("TEL: 03-1234 5678", 100, 76), ("TOTAL: 9.90", 100, 300)],
                           source: .ocr)
        let fields = try extract([receipt], InvoiceFields.specs)
        XCTAssertEqual(fields["issuer"]?.value, "KEDAI MAJU SDN BHD")
        XCTAssertEqual(fields["address"]?.value, "NO.5, JALAN BESAR, 43000 KAJANG, SELANGOR")
        XCTAssertEqual(fields["amount"]?.value, "9.90")
    }

    func testOCRMisreadLabelMatchesOnlyOnOCRText() throws {
        let lines = [("MEGA STORE SDN BHD", 40.0, 20.0), ("Sub Total 10.00", 40, 300), ("Totat RM 12.00", 40, 320),
                     ("Amount 10.50", 40, 340)]
        XCTAssertEqual(try extract([page(lines, source: .ocr)], InvoiceFields.specs)["amount"]?.value, "12.00")
        // Typeset text is spelled right: "Totat" is some other word there.
        XCTAssertEqual(try extract([page(lines, confidence: 1)], InvoiceFields.specs)["amount"]?.value, "10.50")
    }

    func testOCRDigitsAndLostSeparatorsInDates() throws {
        let cases = [("Date: O9/O5/2018 1:12:43 PM", "2018-05-09"), ("Salesperson: Date: 1202/2018", "2018-02-12"),
                     ("Date : 26-06~2018 19:07:56", "2018-06-26")]
        for (line, expected) in cases {
            let receipt = page([("SHOP ENTERPRISE", 40, 20), (line, 40, 100)], source: .ocr)
            XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["date"]?.value, expected, line)
        }
        // The year apart from day and month, in its own run.
        let split = page([("SHOP ENTERPRISE", 40, 20), ("Date : 26-06~", 40, 100), ("2018 19:07:56", 140, 100)], source: .ocr)
        XCTAssertEqual(try extract([split], InvoiceFields.specs)["date"]?.value, "2018-06-26")
        let invoice = page([("ACME GmbH", 40, 20), ("Order 4711/2018", 40, 100)], confidence: 1)
        XCTAssertNil(try extract([invoice], InvoiceFields.specs)["date"]?.value)
    }

    func testTotalAfterRoundingWins() throws {
        let receipt = page([("RICE SHOP SDN BHD", 40, 20), ("Total Amount: RM7.72", 40, 300), ("Rounding: -RM0.02", 40, 320),
                            ("Nett Total: RM7.70", 40, 340), ("CASH RM7.70", 40, 360), ("SR = GST @0% 7.72 0.00", 40, 400)],
                           source: .ocr)
        XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["amount"]?.value, "7.70")
    }

    func testAmountNotTheCountBeforeIt() throws {
        let receipt = page([("MEGAH RETAIL SDN BHD", 40, 20), ("Sub Total : RM 4.69", 40, 300), ("Total Sales Inclusive", 40, 320),
                            ("2 RM", 250, 320), ("4.70", 320, 320)], source: .ocr)
        XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["amount"]?.value, "4.70")
    }

    func testOCRMisreadLegalFormsInIssuer() throws {
        let cases = [("KING'S CONFECTIONERY §/B8", "KING'S CONFECTIONERY S/B"),
                     ("GARDENIA BAKERIES (KL) SDN BLD (139386 X)", "GARDENIA BAKERIES (KL) SDN BHD"),
                     ("MR. D.I.¥. (M) SON BHD", "MR. D.I.Y. (M) SDN BHD")]
        for (line, expected) in cases {
            let receipt = page([(line, 40, 20), ("Lot 3, Jalan Pelabur 23/1,", 40, 34), ("40300 Shah Alam, Selangor.", 40, 48),
                                ("Tel: 03-55423228", 40, 62), ("TOTAL 12.00", 40, 300)], source: .ocr)
            let fields = try extract([receipt], InvoiceFields.specs)
            XCTAssertEqual(fields["issuer"]?.value, expected)
            XCTAssertEqual(fields["address"]?.value, "Lot 3, Jalan Pelabur 23/1, 40300 Shah Alam, Selangor.")
        }
    }

    func testOCRBoxesFarFromTheLineHeightDoNotSplitOrSwallowRows() throws {
        func word(_ text: String, _ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double) -> Word {
            Word(text: text, x0: x0, y0: y0, x1: x1, y1: y1, confidence: 0.9)
        }
        let words = [
            // A logo read as "f)", taller than four lines, above the shop's name.
            word("f)", 535, 103, 620, 234), word("SLF", 117, 243, 203, 267), word("CASH", 239, 243, 353, 269),
            word("&", 389, 244, 413, 269), word("CARRY", 449, 246, 593, 270),
            word("NO.15,", 124, 280, 230, 306), word("JALAN", 240, 280, 330, 306), word("BESAR,", 340, 280, 440, 306),
            word("40000", 124, 320, 200, 346), word("SHAH", 210, 320, 290, 346), word("ALAM", 300, 320, 380, 346),
            // A lone ":" starts the date's row; the label's box is taller than the date's.
            word("Date", 56, 698, 124, 761), word(":", 186, 709, 190, 715), word("26-06~", 215, 698, 318, 730),
            word("2018", 321, 699, 390, 760), word("19:07:56", 404, 699, 548, 761),
            word("TOTAL", 56, 900, 150, 930), word("4.10", 600, 900, 660, 930),
        ]
        let receipt = PageModel(number: 1, width: 700, height: 1600, source: .ocr, words: words, text: "")
        let fields = try extract([receipt], InvoiceFields.specs)
        XCTAssertEqual(fields["issuer"]?.value, "SLF CASH & CARRY")
        XCTAssertEqual(fields["date"]?.value, "2018-06-26")
        XCTAssertEqual(fields["amount"]?.value, "4.10")
    }

    func testSlopingOCRLinesStayRows() throws {
        // A photographed receipt: each line drifts down to the right by about half a line.
        var words: [Word] = []
        let lines = ["ADVANCO COMPANY", "NO 1&3, Jalan Wangsa Delima 12,", "Wangsa Link, Wangsa Maju,", "53300 Kuala Lumpur",
                     "TEL 03-41318972"]
        for (n, line) in lines.enumerated() {
            var x = 120.0
            for text in line.split(separator: " ") {
                let y = 60 + 35 * Double(n) + 0.07 * (x - 120)
                words.append(Word(text: String(text), x0: x, y0: y, x1: x + 14 * Double(text.count), y1: y + 27, confidence: 0.9))
                x += 14 * Double(text.count) + 12
            }
        }
        let receipt = PageModel(number: 1, width: 700, height: 1600, source: .ocr, words: words, text: "")
        XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["address"]?.value,
                       "NO 1&3, Jalan Wangsa Delima 12, Wangsa Link, Wangsa Maju, 53300 Kuala Lumpur")
    }

    func testSellerAddressEndsAfterPostcodeUnlessStateFollows() throws {
        let receipt = page([("POPULAR BOOK CO. (M) SDN BHD", 100, 20), ("No 8, Jalan 7/118B, Desa Tun Razak", 100, 34),
                            ("56000 Kuala Lumpur,", 100, 48), ("Malaysia", 100, 62), ("SUNWAY VELOCITY", 100, 76),
                            ("TOTAL 12.00", 100, 300)], source: .ocr)
        XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["address"]?.value,
                       "No 8, Jalan 7/118B, Desa Tun Razak 56000 Kuala Lumpur, Malaysia")
    }

    func testSellerAddressEndsAtAPhoneNumberWithAMisreadLabel() throws {
        let receipt = page([("Dion Realties Sdn Bhd (Co. No:20154-T)", 60, 20), ("Menara Dion #02-03, Level 2,", 60, 34),
                            ("27, Jalan Sultan Ismail,", 60, 48), ("Kuala Lumpur.", 60, 62), ("Tal : +6 03 2026 6386", 60, 76),
                            ("Amount Incl. GST 5.00", 60, 300)], source: .ocr)
        XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["address"]?.value,
                       "Menara Dion #02-03, Level 2, 27, Jalan Sultan Ismail, Kuala Lumpur.")
    }

    func testShopNotItsOwnerNorItsOutletLine() throws {
        let receipt = page([("TAX INVOICE", 120, 20), ("DOMINO'S PIZZA", 110, 40), ("GST REF No", 90, 60),
                            (": 001694261248", 200, 60), ("DOMINO'S PIZZA PERMAS JAYA", 80, 80), ("No.12, Jalan Permas Jaya 10,", 80, 100),
                            ("81750 Masai, Johor", 80, 114), ("Sub-Total : 25.60", 80, 300), ("Grand Total : 25.60", 80, 314),
                            ("Owned by", 80, 700), ("Dommal Food Services Sdn Bhd", 80, 714), ("Co. No. 419060-A", 80, 728)],
                           source: .ocr)
        let fields = try extract([receipt], InvoiceFields.specs)
        XCTAssertEqual(fields["issuer"]?.value, "DOMINO'S PIZZA")
        XCTAssertEqual(fields["address"]?.value, "No.12, Jalan Permas Jaya 10, 81750 Masai, Johor")
    }

    func testIssuerWordMisreadOnceIsSpelledAsTheDocumentSpellsItElsewhere() throws {
        let lines = [("SANYO STATIONERY SHOP", 100.0, 20.0), ("NO. 31G, JALAN SETIA INDAH", 100, 34), ("40170 SETIA ALAM", 100, 48),
                     ("Owned By :", 100, 80), ("SANYU SUPPLY SDN BHD", 100, 94), ("Total 8.70", 100, 300),
                     ("Follow us on Facebook: Sanyu.Stationery", 60, 700)]
        XCTAssertEqual(try extract([page(lines, source: .ocr)], InvoiceFields.specs)["issuer"]?.value, "SANYU STATIONERY SHOP")
        // Printed once elsewhere is not enough to doubt the name.
        let once = Array(lines.dropLast())
        XCTAssertEqual(try extract([page(once, source: .ocr)], InvoiceFields.specs)["issuer"]?.value, "SANYO STATIONERY SHOP")
    }

    func testOCRMisreadBusinessWordInIssuerIsRespelled() throws {
        func issuer(_ name: String, _ source: PageModel.Source) throws -> String? {
            let receipt = page([(name, 40, 20), ("NO.59 JALAN PERMAS 9/5", 40, 34), ("81760 JOHOR BAHRU", 40, 48),
                                ("TOTAL 12.00", 40, 300)], source: source, confidence: source == .ocr ? 0.95 : 1)
            return try extract([receipt], InvoiceFields.specs)["issuer"]?.value
        }
        XCTAssertEqual(try issuer("PERNIAGAAR ZHENG HUI", .ocr), "PERNIAGAAN ZHENG HUI")
        XCTAssertEqual(try issuer("Zheng Hui Bakerles", .ocr), "Zheng Hui Bakeries")
        // Never the first letter, never two letters, never a text layer's spelling.
        XCTAssertEqual(try issuer("BERNIAGAAN ZHENG HUI", .ocr), "BERNIAGAAN ZHENG HUI")
        XCTAssertEqual(try issuer("PERNIAGAXR ZHENG HUI", .ocr), "PERNIAGAXR ZHENG HUI")
        XCTAssertEqual(try issuer("PERNIAGAAR ZHENG HUI", .text), "PERNIAGAAR ZHENG HUI")
    }

    func testDepartmentAfterSellerNameIsDropped() throws {
        let invoice = page([("Free Service Abonné", 40, 40), ("75371 Paris Cedex 08", 40, 54), ("Facture n°562044387", 300, 120),
                            ("Total facture 29,99 €", 300, 500)], confidence: 1)
        XCTAssertEqual(try extract([invoice], InvoiceFields.specs)["issuer"]?.value, "Free")
    }

    func testFieldOnSecondPage() throws {
        let pages = [page([("Invoice No: 77", 50, 50)]), page([("Amount due: $ 10.00", 50, 700)], number: 2)]
        let fields = try extract(pages, InvoiceFields.specs)
        XCTAssertEqual(fields["amount"]?.value, "10.00")
        XCTAssertEqual(fields["amount"]?.page, 2)
    }

    // MARK: - Totals checked against the other lines

    func testMisreadTotalIsRepairedFromNetPlusTaxAndCashLessChange() throws {
        // OCR read 52.00 as 32.00 on the total line; net + tax and cash − change both say 52.00.
        let receipt = page([("KEDAI MAJU SDN BHD", 40, 20), ("SUB-TOTAL 49.06", 40, 300), ("GST 2.94", 40, 314),
                            ("ROUNDING 0.00", 40, 328), ("TOTAL 32.00", 40, 342), ("CASH 52.00", 40, 356),
                            ("CHANGE 0.00", 40, 370)], source: .ocr)
        let amount = try XCTUnwrap(extract([receipt], InvoiceFields.specs)["amount"])
        XCTAssertEqual(amount.value, "52.00")
        XCTAssertLessThanOrEqual(amount.confidence, 0.6)
        XCTAssertEqual(amount.page, 1)
        XCTAssertNotNil(amount.box)
    }

    /// Answers every region with a fixed reading, and remembers what was asked.
    private final class FixedRereader: PageRereader {
        let text: String
        var asked: [(page: Int, box: Box, digitsOnly: Bool)] = []
        init(_ text: String) { self.text = text }
        func reread(page: Int, box: Box, digitsOnly: Bool) -> String? {
            asked.append((page, box, digitsOnly))
            return text
        }
    }

    func testADisagreeingTotalIsReadAgainAndTakenWhenNetPlusTaxConfirmsIt() throws {
        // The total line reads 57.80 (two digits off: no repair from the arithmetic alone);
        // net + tax says 51.00, and reading the total's box again gives 51.00.
        let receipt = page([("KEDAI MAJU SDN BHD", 40, 20), ("SUB-TOTAL 48.10", 40, 300), ("GST 2.90", 40, 314),
                            ("TOTAL 57.80", 40, 328)], source: .ocr)
        let rereader = FixedRereader("51.00")
        let fields = try RuleBasedExtractor(rereader: rereader).extract(pages: [receipt], fields: InvoiceFields.specs)
        let amount = try XCTUnwrap(fields.first { $0.fieldID == "amount" })
        XCTAssertEqual(amount.value, "51.00")
        XCTAssertEqual(amount.raw, "51.00")
        XCTAssertEqual(amount.page, 1)
        let box = try XCTUnwrap(amount.box)
        // Where the total line prints its amount: "TOTAL " is 5 characters + a gap from x = 40.
        XCTAssertEqual(box.y0, 328, accuracy: 0.01)
        XCTAssertGreaterThan(box.x0, 40 + 5 * 6)
        XCTAssertEqual(rereader.asked.first?.page, 1)
        XCTAssertEqual(rereader.asked.first?.box, box)
        let sharp = page([("KEDAI MAJU SDN BHD", 40, 20), ("SUB-TOTAL 48.10", 40, 300), ("GST 2.90", 40, 314),
                          ("TOTAL 51.00", 40, 328)], source: .ocr)
        let read = try XCTUnwrap(extract([sharp], InvoiceFields.specs)["amount"])
        XCTAssertLessThan(amount.confidence, read.confidence)
        XCTAssertLessThanOrEqual(amount.confidence, 0.7)
    }

    func testAReadingTheArithmeticDoesNotConfirmIsNotTaken() throws {
        let receipt = page([("KEDAI MAJU SDN BHD", 40, 20), ("SUB-TOTAL 48.10", 40, 300), ("GST 2.90", 40, 314),
                            ("TOTAL 57.80", 40, 328)], source: .ocr)
        let rereader = FixedRereader("58.00")
        let fields = try RuleBasedExtractor(rereader: rereader).extract(pages: [receipt], fields: InvoiceFields.specs)
        XCTAssertEqual(fields.first { $0.fieldID == "amount" }?.value, "57.80")
        // Read again both ways (as it is, digits only) before giving up.
        XCTAssertEqual(rereader.asked.map(\.digitsOnly), [false, true])
    }

    func testATotalTheLinesConfirmIsNotReadAgain() throws {
        let receipt = page([("KEDAI MAJU SDN BHD", 40, 20), ("SUB-TOTAL 48.10", 40, 300), ("GST 2.90", 40, 314),
                            ("TOTAL 51.00", 40, 328)], source: .ocr)
        let rereader = FixedRereader("61.00")
        _ = try RuleBasedExtractor(rereader: rereader).extract(pages: [receipt], fields: InvoiceFields.specs)
        XCTAssertTrue(rereader.asked.isEmpty)
    }

    func testAnOutletNameBetweenSellerAndAddressIsNotPartOfTheAddress() throws {
        let receipt = page([("IKANO HANDEL SDN BHD", 40, 20), ("IKEA Cheras", 40, 34), ("No 2A Jalan Cochrane", 40, 48),
                            ("Taman Maluri", 40, 62), ("55100 KUALA LUMPUR", 40, 76), ("GST No.: 000115154944", 40, 90),
                            ("Total 538.00", 40, 300)], source: .ocr)
        let fields = try extract([receipt], InvoiceFields.specs)
        XCTAssertEqual(fields["issuer"]?.value, "IKANO HANDEL SDN BHD")
        XCTAssertEqual(fields["address"]?.value, "No 2A Jalan Cochrane Taman Maluri 55100 KUALA LUMPUR")
    }

    func testAnOCRSpeckOnARowOfItsOwnDoesNotEndTheAddress() throws {
        let receipt = page([("KHOO HARDWARE SDN BHD", 40, 20), ("NO.50 JALAN PBS 14/11,", 60, 34), (",", 100, 47),
                            ("KAWASAN PERINDUSTRIAN BUKIT SERDANG,", 30, 60), ("Tel : 03-89410243", 40, 74),
                            ("Total 21.20", 40, 300)], source: .ocr)
        XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["address"]?.value,
                       "NO.50 JALAN PBS 14/11, KAWASAN PERINDUSTRIAN BUKIT SERDANG,")
    }

    func testTotalConfirmedByTheOtherLinesIsKept() throws {
        let receipt = page([("KEDAI MAJU SDN BHD", 40, 20), ("Sub Total 40.00", 40, 300), ("Service Charge 10% 4.00", 40, 314),
                            ("GST 6% 2.64", 40, 328), ("Total 46.64", 40, 342), ("Cash 50.00", 40, 356), ("Change 3.36", 40, 370)],
                           source: .ocr)
        let amount = try XCTUnwrap(extract([receipt], InvoiceFields.specs)["amount"])
        XCTAssertEqual(amount.value, "46.64")
        XCTAssertGreaterThan(amount.confidence, 0.6)
    }

    func testAmountDueAfterAPrepaymentIsNotReplacedByTheGrossTotal() throws {
        let invoice = page([("Nordlicht GmbH", 40, 20), ("Net amount 100.00", 300, 300), ("VAT 19% 19.00", 300, 314),
                            ("Total 119.00", 300, 328), ("Prepaid 50.00", 300, 342), ("Amount due 69.00", 300, 356)])
        XCTAssertEqual(try extract([invoice], InvoiceFields.specs)["amount"]?.value, "69.00")
    }

    func testReceiptWithARoundingLinePaysTheRoundedTotal() throws {
        // The rounding amount is unreadable; the cash line shows the rounded total.
        let printed = page([("KEDAI MAJU SDN BHD", 40, 20), ("Total (Inclusive of GST): 31.02", 40, 300), ("Rounding Adj: ~0,0", 40, 314),
                            ("CASH : 31.00", 40, 328)], source: .ocr)
        XCTAssertEqual(try extract([printed], InvoiceFields.specs)["amount"]?.value, "31.00")
        // Nothing shows it: the total rounded to 5 cents, with low confidence.
        let guessed = page([("KEDAI MAJU SDN BHD", 40, 20), ("Total (Inclusive of GST): 23.26", 40, 300), ("Rounding fas ~0.0)", 40, 314)],
                           source: .ocr)
        let amount = try XCTUnwrap(extract([guessed], InvoiceFields.specs)["amount"])
        XCTAssertEqual(amount.value, "23.25")
        XCTAssertLessThan(amount.confidence, 0.5)
        // Without a rounding line nothing is rounded.
        let plain = page([("KEDAI MAJU SDN BHD", 40, 20), ("Total: 23.26", 40, 300)], source: .ocr)
        XCTAssertEqual(try extract([plain], InvoiceFields.specs)["amount"]?.value, "23.26")
    }

    func testBareIntegerTotalGivesWayToTheTotalLineOrCashLessChange() throws {
        // OCR lost the total's cents and a digit ("Grand Total RM 8"): cash − change is the total.
        let receipt = page([("KEDAI MAJU SDN BHD", 40, 20), ("Grand Total RM 8", 40, 300), ("Cash RM50.00", 40, 314),
                            ("Change RM11.00", 40, 328)], source: .ocr)
        let amount = try XCTUnwrap(extract([receipt], InvoiceFields.specs)["amount"])
        XCTAssertEqual(amount.value, "39.00")
        XCTAssertLessThanOrEqual(amount.confidence, 0.4)
        // A total line with cents wins over a count the label found first; savings are not a total.
        let counted = page([("KEDAI MAJU SDN BHD", 40, 20), ("TOTAL 2", 40, 300), ("Total Savings -3.29", 40, 314),
                            ("Total Facture : 56.00", 40, 328)], source: .ocr)
        XCTAssertEqual(try extract([counted], InvoiceFields.specs)["amount"]?.value, "56.00")
    }

    // MARK: - Dates OCR misread

    func testImpossibleOrFutureDateDigitsAreRepairedWithLowConfidence() throws {
        let cases = [("12-02-2618 11:34:45 AM", "2018-02-12"), ("Date: 40/03/2018", "2018-03-10"), ("DATE 22/03/2078", "2018-03-22"),
                     ("14/Dun/2017 08:34", "2017-06-14"), ("Date: 1 Mar 2048", "2018-03-01")]
        for (line, expected) in cases {
            let receipt = page([("SHOP ENTERPRISE", 40, 20), (line, 40, 100)], source: .ocr)
            let date = try XCTUnwrap(extract([receipt], InvoiceFields.specs)["date"], line)
            XCTAssertEqual(date.value, expected, line)
        }
        let plain = page([("SHOP ENTERPRISE", 40, 20), ("Date: 12/02/2018", 40, 100)], source: .ocr)
        let repaired = page([("SHOP ENTERPRISE", 40, 20), ("Date: 12/02/2618", 40, 100)], source: .ocr)
        XCTAssertLessThan(try XCTUnwrap(extract([repaired], InvoiceFields.specs)["date"]).confidence,
                          try XCTUnwrap(extract([plain], InvoiceFields.specs)["date"]).confidence)
    }

    func testIssuerIsNotASummaryLineNorASentence() throws {
        let receipt = page([("Keep the invoice for applicable returns", 40, 20), ("99 SPEED MART S/B", 40, 40),
                            ("GST Summary", 40, 60), ("TOTAL 9.90", 40, 300)], source: .ocr)
        XCTAssertEqual(try extract([receipt], InvoiceFields.specs)["issuer"]?.value, "99 SPEED MART S/B")
        let specked = page([("s THAI DELICIOUS RESTAURANT", 40, 20), ("NO. 5, JALAN BESAR", 40, 40), ("TOTAL 9.90", 40, 300)],
                           source: .ocr)
        XCTAssertEqual(try extract([specked], InvoiceFields.specs)["issuer"]?.value, "THAI DELICIOUS RESTAURANT")
    }
}
