import Foundation

/// Reads typed fields from a JSON object and collects every problem, so one 422
/// names all the fields that were wrong rather than the first.
///
///     var body = try request.jsonObject()
///     let email = body.string("email", maxLength: 254)
///     let age = body.int("age", required: false, range: 0...150)
///     try body.finish()
public struct FieldReader {
    public let value: JSON
    public private(set) var errors: [(String, String)] = []

    public init(_ value: JSON) {
        self.value = value
    }

    /// Records a problem with `field` found by the caller's own checks.
    public mutating func fail(_ field: String, _ message: String) {
        if !errors.contains(where: { $0.0 == field }) { errors.append((field, message)) }
    }

    /// Throws every recorded problem at once (`ValidationFailure`, answered as 422), if any.
    public func finish() throws {
        if !errors.isEmpty { throw ValidationFailure(fields: errors) }
    }

    public func has(_ field: String) -> Bool {
        if let value = value[field], value != .null { return true }
        return false
    }

    private mutating func present(_ field: String, required: Bool) -> JSON? {
        guard let member = value[field], member != .null else {
            if required { fail(field, "is required") }
            return nil
        }
        return member
    }

    public mutating func string(_ field: String, required: Bool = true, minLength: Int = 0, maxLength: Int = 10_000, trim: Bool = true) -> String? {
        guard let member = present(field, required: required) else { return nil }
        guard case .string(var text) = member else {
            fail(field, "must be a string, not \(member.typeName)")
            return nil
        }
        if trim { text = text.trimmingCharacters(in: .whitespacesAndNewlines) }
        if text.count < minLength {
            fail(field, minLength == 1 ? "must not be empty" : "must be at least \(minLength) characters")
            return nil
        }
        if text.count > maxLength {
            fail(field, "must be at most \(maxLength) characters")
            return nil
        }
        return text
    }

    public mutating func int(_ field: String, required: Bool = true, range: ClosedRange<Int> = Int.min...Int.max) -> Int? {
        guard let member = present(field, required: required) else { return nil }
        let number: Int
        switch member {
        case .int(let value): number = Int(value)
        case .double(let value) where value == value.rounded() && abs(value) < 9e15: number = Int(value)
        default:
            fail(field, "must be an integer, not \(member.typeName)")
            return nil
        }
        guard range.contains(number) else {
            fail(field, "must be between \(range.lowerBound) and \(range.upperBound)")
            return nil
        }
        return number
    }

    public mutating func double(_ field: String, required: Bool = true, range: ClosedRange<Double>? = nil) -> Double? {
        guard let member = present(field, required: required) else { return nil }
        let number: Double
        switch member {
        case .int(let value): number = Double(value)
        case .double(let value): number = value
        default:
            fail(field, "must be a number, not \(member.typeName)")
            return nil
        }
        if let range, !range.contains(number) {
            func text(_ bound: Double) -> String { bound == bound.rounded() ? String(Int(bound)) : String(bound) }
            fail(field, "must be between \(text(range.lowerBound)) and \(text(range.upperBound))")
            return nil
        }
        return number
    }

    public mutating func bool(_ field: String, required: Bool = true) -> Bool? {
        guard let member = present(field, required: required) else { return nil }
        guard case .bool(let flag) = member else {
            fail(field, "must be true or false, not \(member.typeName)")
            return nil
        }
        return flag
    }

    /// A string that must be one of `choices`.
    public mutating func choice(_ field: String, _ choices: [String], required: Bool = true) -> String? {
        guard let text = string(field, required: required) else { return nil }
        guard choices.contains(text) else {
            fail(field, "must be one of: \(choices.joined(separator: ", "))")
            return nil
        }
        return text
    }

    /// A string naming one of `T`'s cases by raw value; the message lists them in declaration order.
    public mutating func choice<T: RawRepresentable & CaseIterable>(_ field: String, as type: T.Type,
                                                                   required: Bool = true) -> T? where T.RawValue == String {
        choice(field, T.allCases.map(\.rawValue), required: required).flatMap(T.init(rawValue:))
    }

    public mutating func object(_ field: String, required: Bool = true) -> FieldReader? {
        guard let member = present(field, required: required) else { return nil }
        guard case .object = member else {
            fail(field, "must be an object, not \(member.typeName)")
            return nil
        }
        return FieldReader(member)
    }

    public mutating func array(_ field: String, required: Bool = true, maxCount: Int = 10_000) -> [JSON]? {
        guard let member = present(field, required: required) else { return nil }
        guard case .array(let items) = member else {
            fail(field, "must be an array, not \(member.typeName)")
            return nil
        }
        guard items.count <= maxCount else {
            fail(field, "must have at most \(maxCount) items")
            return nil
        }
        return items
    }

    /// Merges a nested reader's problems under `prefix.` (e.g. `credentials.host`).
    public mutating func absorb(_ nested: FieldReader, prefix: String) {
        for (field, message) in nested.errors { fail("\(prefix).\(field)", message) }
    }
}


/// Fields of a JSON document that were missing or wrong, each with what was wrong. The
/// HTTP layer answers it as 422 `validation_failed` naming every field.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public let fields: [(String, String)]

    public init(fields: [(String, String)]) { self.fields = fields }

    public var description: String { "invalid fields: \(fields.map(\.0).joined(separator: ", "))" }
}
