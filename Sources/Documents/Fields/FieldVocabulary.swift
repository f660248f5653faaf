import Foundation

/// What a field means, when the extractor recognises it from the field's id or name:
/// the meaning brings built-in labels in several languages (English, German, French,
/// Spanish, Italian, Dutch, Malay/Indonesian) and words that disqualify a label's value
/// ("Subtotal" is not the total, "Due date" is not the invoice date).
enum FieldConcept: Sendable, CaseIterable {
    case total, invoiceDate, dueDate, invoiceNumber, issuer, address, currency, vatID, orderNumber, customerNumber, iban,
         subtotal, tax, email, phone

    /// Field ids and names (folded, `_` as space) that mean this concept.
    var names: [String] {
        switch self {
        case .total: ["amount", "total", "total amount", "amount payable", "amount due", "grand total", "invoice total",
                      "total payable", "total due", "betrag", "gesamtbetrag", "rechnungsbetrag", "montant", "importe", "importo",
                      "bedrag", "jumlah", "amount total", "invoice amount", "total price"]
        case .invoiceDate: ["date", "invoice date", "receipt date", "document date", "bill date", "issue date", "rechnungsdatum",
                            "datum", "date de facture", "fecha", "fecha de factura", "data", "data fattura", "factuurdatum", "tarikh"]
        case .dueDate: ["due date", "payment due", "due", "payment date", "faelligkeit", "fälligkeit", "zahlungsziel",
                        "date d echeance", "echeance", "fecha de vencimiento", "scadenza", "vervaldatum"]
        case .invoiceNumber: ["invoice number", "invoice no", "invoice id", "invoice nr", "number", "receipt number",
                              "document number", "rechnungsnummer", "numero de facture", "numero de factura", "numero fattura",
                              "factuurnummer", "bill number", "invoice"]
        case .issuer: ["issuer", "seller", "vendor", "supplier", "company", "merchant", "store", "issuer name", "seller name",
                       "vendor name", "supplier name", "company name", "merchant name", "store name", "lieferant",
                       "verkaufer", "fournisseur", "vendeur", "proveedor", "fornitore", "leverancier"]
        case .address: ["address", "seller address", "issuer address", "vendor address", "supplier address", "company address",
                        "store address", "merchant address", "anschrift", "adresse", "direccion", "indirizzo", "adres", "alamat"]
        case .currency: ["currency", "currency code", "wahrung", "devise", "moneda", "valuta", "munt", "mata wang"]
        case .vatID: ["vat id", "vat number", "vat", "vat no", "vat reg", "tax id", "ust id", "ustid", "ust idnr", "gst id",
                      "gst no", "gst number", "tax number", "vat registration number", "btw nummer", "numero de tva", "tva", "nif",
                      "partita iva"]
        case .orderNumber: ["order number", "order id", "order no", "po number", "purchase order", "bestellnummer",
                            "ordernummer", "numero de commande"]
        case .customerNumber: ["customer number", "customer id", "customer no", "account number", "client number",
                               "kundennummer", "klantnummer", "numero client"]
        case .iban: ["iban", "bank account", "account iban"]
        case .subtotal: ["subtotal", "sub total", "net amount", "net total", "nettobetrag", "zwischensumme", "total ht"]
        case .tax: ["tax", "tax amount", "vat amount", "gst amount", "mwst", "steuerbetrag", "montant tva", "btw bedrag"]
        case .email: ["email", "e mail", "mail", "email address"]
        case .phone: ["phone", "telephone", "tel", "phone number", "telefon", "mobile", "telefono", "telefoon"]
        }
    }

    /// The concept a configured field stands for, from its id first, then its name.
    static func of(_ spec: FieldSpec) -> FieldConcept? {
        func key(_ text: String) -> String {
            String(TextRun.fold(text).map { $0.isLetter || $0.isNumber ? $0 : " " }).split(separator: " ").joined(separator: " ")
        }
        let id = key(spec.id), name = key(spec.name)
        for concept in FieldConcept.allCases where concept.names.contains(id) { return concept }
        for concept in FieldConcept.allCases where concept.names.contains(name) { return concept }
        return nil
    }

    /// Built-in labels, strongest first (built once: a label folds and splits its text).
    var labels: [Label] { FieldConcept.builtInLabels[self] ?? [] }

    private static let builtInLabels: [FieldConcept: [Label]] =
        Dictionary(uniqueKeysWithValues: allCases.map { ($0, $0.makeLabels()) })

    private func makeLabels() -> [Label] {
        switch self {
        case .total:
            return ["amount due", "total amount due", "balance due", "amount payable", "total payable", "total due", "grand total",
                    "total to pay", "amount to pay", "amount to be paid", "total to be paid", "to be paid", "please pay", "invoice total", "total incl", "total inc", "total payment",
                    "zahlbetrag", "zu zahlen", "zu zahlender betrag", "zahlbarer betrag", "gesamtbetrag", "rechnungsbetrag",
                    "endbetrag", "endsumme", "net a payer", "somme a payer", "montant a payer", "total a payer", "montant ttc",
                    "total ttc", "total a pagar", "importe total", "total factura", "importe a pagar", "totale da pagare",
                    "totale fattura", "importo totale", "totale documento", "te betalen", "totaal te betalen", "factuur totaal",
                    "totaalbedrag", "totaal incl", "jumlah besar", "jumlah keseluruhan", "jumlah bayaran", "jumlah perlu dibayar",
                    "total keseluruhan", "jumlah semua", "nett total", "total rounded", "rounded total", "final total"].map { Label($0, 1) }
                + [Label("bruttosumme", 0.95), Label("bruttobetrag", 0.95), Label("gesamtsumme", 0.9), Label("montant total", 0.95),
                   Label("total amount", 0.95), Label("net total", 0.75), Label("rechnungssumme", 0.85),
                   Label("total sales", 0.85), Label("jumlah", 0.85), Label("total", 0.8), Label("totaal", 0.8),
                   Label("totale", 0.8), Label("gesamt", 0.7), Label("summe", 0.6), Label("amount", 0.45), Label("betrag", 0.45),
                   Label("montant", 0.45), Label("bedrag", 0.45), Label("importe", 0.5), Label("importo", 0.5)]
        case .invoiceDate:
            return ["invoice date", "date of invoice", "invoice dt", "rechnungsdatum", "belegdatum", "factuurdatum", "factuur datum",
                    "date de facture", "date de la facture", "date facture", "fecha de factura", "fecha factura",
                    "fecha de emision", "fecha emision", "data fattura", "data della fattura", "data documento",
                    "tarikh invois", "receipt date", "bill date", "billing date", "issue date", "date of issue", "issued on",
                    "ausstellungsdatum", "datum der rechnung", "document date", "transaction date"].map { Label($0, 1) }
                + [Label("date", 0.7), Label("datum", 0.7), Label("fecha", 0.7), Label("data", 0.6), Label("tarikh", 0.7),
                   Label("tanggal", 0.7), Label("dated", 0.7), Label("date", 0.5, compound: true), Label("vom", 0.45),
                   Label("du", 0.4), Label("del", 0.35), Label("dd", 0.4)]
        case .dueDate:
            return ["due date", "payment due", "due on", "due by", "date due", "faelligkeit", "fallig am", "fallig",
                    "zahlungsziel", "zahlbar bis", "vervaldatum", "uiterste betaaldatum", "date d echeance", "echeance",
                    "date limite de paiement", "date limite", "fecha de vencimiento", "vencimiento", "data di scadenza",
                    "scadenza", "tarikh akhir", "jatuh tempo", "pay by"].map { Label($0, 1) }
        case .invoiceNumber:
            return ["invoice number", "invoice no", "invoice nr", "invoice #", "invoice num", "invoice id", "inv no", "inv #",
                    "rechnungsnummer", "rechnungsnr", "rechnung nr", "rechnungs nr", "belegnummer", "belegnr", "beleg nr",
                    "factuurnummer", "factuurnr", "factuur nr", "numero de facture", "n° de facture", "no de facture",
                    "facture n°", "facture no", "facture numero", "numero de factura", "n° de factura", "factura n°",
                    "factura no", "numero fattura", "fattura n", "fattura numero", "n fattura", "receipt no", "receipt number",
                    "receipt #", "no resit", "no invois", "nombor invois", "bill no", "bill number", "document number",
                    "document no", "nomor faktur", "no faktur"].map { Label($0, 1) }
                + [Label("doc no", 0.7), Label("invoice", 0.55), Label("factuur", 0.5), Label("facture", 0.5),
                   Label("factura", 0.5), Label("fattura", 0.5), Label("rechnung", 0.5, compound: true), Label("receipt", 0.4),
                   Label("booking id", 0.45), Label("trans no", 0.4), Label("nr", 0.3), Label("no", 0.3), Label("#", 0.3)]
        case .issuer:
            return ["seller", "sold by", "vendor", "supplier", "issued by", "service provider", "verkaufer", "anbieter",
                    "rechnungssteller", "vendeur", "fournisseur", "emetteur", "prestataire", "proveedor", "vendedor", "emisor",
                    "fornitore", "venditore", "cedente", "leverancier", "verkoper", "penjual", "remit to"].map { Label($0, 1) }
                + [Label("payment received by", 0.8), Label("payable to", 0.7)]
        case .address:
            return ["address", "anschrift", "adresse", "direccion", "indirizzo", "adres", "alamat"].map { Label($0, 0.8) }
        case .currency:
            return ["currency", "wahrung", "devise", "moneda", "valuta", "munt", "mata wang"].map { Label($0, 1) }
        case .vatID:
            return ["vat id", "vat no", "vat number", "vat reg no", "vat registration number", "vat/tin", "ust id nr", "ust idnr",
                    "ust id", "umsatzsteuer id", "ustid", "uid", "btw nummer", "btw nr", "btw", "n° tva", "numero de tva",
                    "tva intracommunautaire", "tva", "nif", "cif", "partita iva", "p iva", "gst id", "gst no", "gst reg no",
                    "gst reg", "tax id", "sst no", "npwp"].map { Label($0, 1) }
        case .orderNumber:
            return ["order number", "order no", "order id", "order #", "po number", "po no", "purchase order", "bestellnummer",
                    "bestellnr", "auftragsnummer", "ordernummer", "numero de commande", "n° de commande", "numero de pedido",
                    "numero ordine"].map { Label($0, 1) }
        case .customerNumber:
            return ["customer number", "customer no", "customer id", "account number", "account no", "client number",
                    "client no", "kundennummer", "kundennr", "kunden nr", "klantnummer", "numero client", "n° client",
                    "id client", "numero de cliente", "codice cliente"].map { Label($0, 1) }
        case .iban:
            return [Label("iban", 1)]
        case .subtotal:
            return ["subtotal", "sub total", "net amount", "net total", "nettobetrag", "zwischensumme", "summe netto", "total ht",
                    "montant ht", "subtotaal", "totaal excl", "subtotale", "imponibile", "base imponible", "jumlah kecil"]
                .map { Label($0, 1) }
        case .tax:
            return ["tax amount", "vat amount", "gst amount", "total tax", "total gst", "steuerbetrag", "mwst", "ust",
                    "montant tva", "tva", "btw bedrag", "btw", "iva", "cukai", "tax", "vat", "gst"].map { Label($0, 1) }
        case .email:
            return ["email", "e mail", "mail", "courriel", "correo"].map { Label($0, 1) }
        case .phone:
            return ["phone", "telephone", "tel", "telefon", "telefono", "telefoon", "mobile", "handy", "tél", "no tel"]
                .map { Label($0, 1) }
        }
    }

    /// Word starts that, before a value, show the value is something else.
    var disqualifiers: [String] {
        switch self {
        case .total:
            ["sub", "zwischen", "netto", "excl", "exkl", "ohne", "hors", "discount", "rabatt", "korting", "remise", "zuschl",
             "abschl", "qty", "quantit", "menge", "anzahl", "rounding", "change", "point", "saving", "saved", "deposit", "tender",
             "gutschrift", "position", "warenwert", "basis", "grondslag", "before", "item", "einzel", "unit", "preis", "prijs",
             "prix", "price", "erhalten", "received", "credit", "accept", "tunai", "balance b", "previous", "vorher", "ex"]
        case .invoiceDate:
            ["due", "fallig", "faellig", "zahlungsziel", "zahlbar", "order", "bestell", "auftrag", "liefer", "leistung",
             "delivery", "ship", "versand", "check", "verval", "limite", "echeance", "vencimiento", "scadenza", "period",
             "zeitraum", "until", "bis", "start", "end", "expir", "valid", "birth", "geburt", "prelevement", "payment",
             "paiement", "betaal", "pago", "skonto", "levering", "print", "verordnung", "termin", "bemerkung", "time"]
        case .invoiceNumber:
            ["order", "customer", "kunde", "klant", "client", "account", "konto", "tax", "vat", "ust", "steuer", "gst", "btw",
             "tva", "phone", "tel", "fax", "iban", "page", "seite", "pagina", "po", "artikel", "article", "item", "serial",
             "serie", "contract", "vertrag", "dossier", "reg", "company", "registr", "handelsregister", "globale", "gln",
             "kvk", "bestell", "auftrag", "lieferschein", "delivery", "referenz", "reference", "abonn", "ligne", "cheque",
             "member", "card", "table", "zimmer", "room"]
        case .dueDate, .issuer, .address, .currency, .vatID, .orderNumber, .customerNumber, .iban, .subtotal, .tax, .email,
             .phone:
            []
        }
    }

    /// Whether the value is a single token (an identifier) rather than a phrase.
    var isIdentifier: Bool {
        switch self {
        case .invoiceNumber, .vatID, .orderNumber, .customerNumber: true
        default: false
        }
    }
}

/// Words around an issuer: legal forms, the buyer's blocks, document titles.
enum CompanyWords {
    /// Legal-form tokens (folded, punctuation removed): a strong sign of a company name.
    static let legalForms: Set<String> = [
        "gmbh", "ag", "kg", "ohg", "gbr", "mbh", "ltd", "limited", "inc", "incorporated", "llc", "llp", "plc",
        "corp", "corporation", "co", "bv", "nv", "sa", "sas", "sarl", "eurl", "sl", "srl", "spa", "sdn", "bhd", "pvt", "pte",
        "pty", "aps", "kft", "sro", "tbk", "company", "ggmbh",
    ]
    /// Words typical of business names on receipts.
    static let businessWords: Set<String> = [
        "enterprise", "enterprises", "trading", "restoran", "restaurant", "cafe", "bistro", "store", "stores", "shop", "mart",
        "supermarket", "pharmacy", "hardware", "stationery", "books", "bakery", "bakeries", "machinery", "services", "service",
        "solutions", "holdings", "industries", "international", "perniagaan", "syarikat", "kedai", "group", "hotel", "motor",
        "marketing", "industrieservice", "versicherungsverein", "autovermietung", "verkehrsbetriebe", "grundbesitz", "pizza",
        "confectionery", "realties", "parking", "impression", "health", "beauty", "centre", "center", "handel",
    ]
    /// Labels that start the buyer's block.
    static let buyerLabels: [Label] = [
        "bill to", "billed to", "billing address", "bill to address", "ship to", "shipping address", "sold to", "deliver to",
        "delivery address", "invoice to", "invoice address", "customer", "client", "buyer", "kaufer", "kunde",
        "rechnungsempfanger", "leistungsempfanger", "empfanger", "rechnungsadresse", "lieferadresse", "lieferanschrift",
        "facture a", "facturee a", "adresse de facturation", "adresse de livraison", "destinataire", "cliente", "facturar a",
        "enviar a", "destinatario", "factuuradres", "afleveradres", "klant", "attn", "guest name", "nom de l abonne",
        "abonne", "recipient", "consignee", "pembeli", "kepada",
    ].map { Label($0) }
    /// Departments named after a company on its sender line, as folded tokens.
    static let departments: [[String]] = [
        "service abonne", "service abonnes", "service client", "service clients", "service clientele", "customer service",
        "customer care", "customer support", "kundenservice", "kundendienst", "kundenbetreuung", "klantenservice",
        "servicio al cliente", "atencion al cliente", "servizio clienti",
    ].map { ValueFinder.tokens(Array(TextRun.fold($0))).map(\.0) }
    /// Document titles stripped from a letterhead line ("Amazon Web Services Invoice").
    static let documentTitles: Set<String> = [
        "invoice", "rechnung", "facture", "factuur", "factura", "fattura", "receipt", "quittung", "beleg", "invois", "resit",
        "faktur",
    ]
    /// Document titles and words that are never a seller's name.
    static let titleWords: Set<String> = [
        "invoice", "tax", "receipt", "rechnung", "facture", "factuur", "factura", "fattura", "bill", "retail", "cash",
        "sales", "simplified", "original", "copy", "kopie", "page", "seite", "payment", "quotation", "statement", "credit",
        "note", "gutschrift", "proforma", "order", "confirmation", "delivery", "lieferschein", "beleg", "quittung", "invois",
        "resit", "cukai", "official", "duplicate", "customer", "summary", "change", "total", "subtotal", "thank", "you",
        "amount", "qty", "item", "description", "date", "time", "cashier",
    ]
}
