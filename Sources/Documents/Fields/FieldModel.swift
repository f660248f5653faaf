import Foundation

/// The type of a configured field; it decides how a value is recognised and normalised.
public enum FieldType: String, Sendable, CaseIterable {
    case text, number, integer, currency, date, email, phone, percentage, boolean, url
    /// An ISO 4217 code (`EUR`), recognised from codes and symbols (`€`, `$`, `RM`).
    case currencyCode = "currency_code"
}

/// One field of a document-table configuration: what to look for and how to read it.
public struct FieldSpec: Sendable, Equatable {
    public let id: String
    public let name: String
    public let type: FieldType
    /// Extra labels the field may carry on a page (any language), besides its name.
    public let synonyms: [String]
    public let description: String?

    public init(id: String, name: String, type: FieldType, synonyms: [String] = [], description: String? = nil) {
        self.id = id
        self.name = name
        self.type = type
        self.synonyms = synonyms
        self.description = description
    }
}

/// A rectangle on a page, in the page model's units (PDF points, or pixels for images).
public struct Box: Sendable, Equatable {
    public let x0: Double, y0: Double, x1: Double, y1: Double

    public init(x0: Double, y0: Double, x1: Double, y1: Double) {
        self.x0 = x0
        self.y0 = y0
        self.x1 = x1
        self.y1 = y1
    }
}

/// The value found for one field, or `value == nil` when none was found.
public struct ExtractedField: Sendable, Equatable {
    public let fieldID: String
    public let name: String
    public let type: FieldType
    /// Normalised: dates ISO 8601 (`2024-03-05`), numbers and amounts as plain decimals
    /// (`1234.50`), percentages as the number (`19` for 19 %), currency codes upper case.
    public let value: String?
    /// The text as printed on the page.
    public let raw: String?
    /// ISO 4217 code of an amount, when the page says (`currency` fields).
    public let currency: String?
    public let confidence: Double
    public let page: Int?
    public let box: Box?

    public init(fieldID: String, name: String, type: FieldType, value: String?, raw: String?, currency: String?,
                confidence: Double, page: Int?, box: Box?) {
        self.fieldID = fieldID
        self.name = name
        self.type = type
        self.value = value
        self.raw = raw
        self.currency = currency
        self.confidence = confidence
        self.page = page
        self.box = box
    }

    public static func missing(_ spec: FieldSpec) -> ExtractedField {
        ExtractedField(fieldID: spec.id, name: spec.name, type: spec.type, value: nil, raw: nil, currency: nil,
                       confidence: 0, page: nil, box: nil)
    }
}

/// Anything that turns pages into field values: the built-in rule-based extractor, or
/// an LLM.
public protocol FieldExtracting {
    func extract(pages: [PageModel], fields: [FieldSpec]) throws -> [ExtractedField]
}

/// The built-in invoice set used by `assay extract --bench` and offered as a default
/// configuration: total payable, date, number, issuer, currency, and the seller's address.
public enum InvoiceFields {
    public static let specs: [FieldSpec] = [
        FieldSpec(id: "amount", name: "Amount payable", type: .currency,
                  description: "total amount payable including tax"),
        FieldSpec(id: "date", name: "Invoice date", type: .date, description: "the invoice or receipt date"),
        FieldSpec(id: "invoice_number", name: "Invoice number", type: .text, description: "the invoice or receipt number"),
        FieldSpec(id: "issuer", name: "Issuer", type: .text, description: "the seller's name"),
        FieldSpec(id: "currency", name: "Currency", type: .currencyCode, description: "ISO 4217 code of the amounts"),
        FieldSpec(id: "address", name: "Seller address", type: .text, description: "the seller's postal address"),
    ]
}
