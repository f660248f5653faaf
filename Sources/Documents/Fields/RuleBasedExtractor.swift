import Foundation

/// The default extractor: no network, labels and their synonyms, layout and type-aware
/// parsing. (Placeholder: finds nothing yet.)
public struct RuleBasedExtractor: FieldExtracting {
    public init() {}

    public func extract(pages: [PageModel], fields: [FieldSpec]) throws -> [ExtractedField] {
        fields.map(ExtractedField.missing)
    }
}
