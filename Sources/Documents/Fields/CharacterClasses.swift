/// Character classes with an ASCII fast path: the field search asks them for every
/// character of every run, and the Unicode property lookups behind `Character.isLetter`
/// and friends cost far more than a byte test. Same answers as the stdlib properties.
extension Character {
    /// The character's byte when it is a single ASCII scalar ("\r\n" is not), else nil.
    @inline(__always) var singleASCIIByte: UInt8? {
        let utf8 = self.utf8
        let byte = utf8.first!
        return byte < 0x80 && utf8.count == 1 ? byte : nil
    }

    var isLetterFast: Bool {
        guard let byte = singleASCIIByte else { return isLetter }
        return (byte | 0x20) &- 0x61 < 26
    }

    var isNumberFast: Bool {
        guard let byte = singleASCIIByte else { return isNumber }
        return byte &- 0x30 < 10
    }

    var isUppercaseFast: Bool {
        guard let byte = singleASCIIByte else { return isUppercase }
        return byte &- 0x41 < 26
    }

    var isLowercaseFast: Bool {
        guard let byte = singleASCIIByte else { return isLowercase }
        return byte &- 0x61 < 26
    }

    /// 0 to 9 (`isASCII && isNumber`).
    var isASCIIDigit: Bool { singleASCIIByte.map { $0 &- 0x30 < 10 } ?? false }

    /// A letter or a digit, the characters of a word.
    var isWordFast: Bool {
        guard let byte = singleASCIIByte else { return isLetter || isNumber }
        return (byte | 0x20) &- 0x61 < 26 || byte &- 0x30 < 10
    }
}

/// A set of ASCII characters as 128 bits: which characters a run contains, which a label
/// needs, tested with two ANDs before scanning the run.
struct ASCIIMask: Sendable {
    private var low: UInt64 = 0, high: UInt64 = 0

    /// The ASCII codes among `codes` (`TextRun.code`). The three characters outside ASCII
    /// that equal an ASCII one (GREEK QUESTION MARK, GREEK VARIA, KELVIN SIGN) count as it.
    init(_ codes: some Sequence<UInt32>) {
        for code in codes {
            switch code {
            case 0..<0x80: insert(code)
            case 0x37E: insert(0x3B)
            case 0x1FEF: insert(0x60)
            case 0x212A: insert(0x4B)
            default: break
            }
        }
    }

    private mutating func insert(_ code: UInt32) {
        if code < 64 { low |= 1 << UInt64(code) } else { high |= 1 << UInt64(code - 64) }
    }

    func contains(_ other: ASCIIMask) -> Bool { other.low & ~low == 0 && other.high & ~high == 0 }

    /// How many characters of `other` this set lacks.
    func missing(_ other: ASCIIMask) -> Int { (other.low & ~low).nonzeroBitCount + (other.high & ~high).nonzeroBitCount }
}

extension String {
    /// `String(characters)`, or with `folded` `String(characters.map(TextRun.fold))`; built
    /// from bytes when every character is one ASCII scalar, far cheaper than from characters.
    init(characters: ArraySlice<Character>, folded: Bool = false) {
        guard characters.allSatisfy({ $0.singleASCIIByte != nil }) else {
            self = folded ? String(characters.map(TextRun.fold)) : String(characters)
            return
        }
        self.init(unsafeUninitializedCapacity: characters.count) { buffer in
            for (i, character) in zip(buffer.indices, characters) {
                let byte = character.singleASCIIByte!
                buffer[i] = folded && byte &- 0x41 < 26 ? byte | 0x20 : byte
            }
            return characters.count
        }
    }
}
