import CPoppler
import Foundation

/// The rules drawn on a text PDF's pages, read from the page content streams themselves
/// (the stroked and filled paths), since poppler-glib exposes no paths and rendering a
/// page to find them costs more than everything else done with the page.
///
/// Only as much PDF as that needs: objects are found by scanning the file for `N G obj`
/// (which also survives a broken cross-reference table), object streams are read when an
/// object is not found directly, and streams must be uncompressed or Flate-compressed
/// without a predictor. A file this cannot read (encrypted, other filters, a page count
/// that differs from poppler's) yields nil, and the caller renders the page instead.
final class PDFPaths {
    private let file: PDFFile
    private let pages: [PDFFile.Page]

    init?(path: String) {
        guard let data = FileManager.default.contents(atPath: path), let file = PDFFile(bytes: [UInt8](data)),
              let pages = file.pages() else { return nil }
        self.file = file
        self.pages = pages
    }

    var pageCount: Int { pages.count }

    /// The page's rules in points, origin top-left of the crop box (poppler's page
    /// coordinates), or nil when its content cannot be read or an image covers much of the
    /// page (a scanned table: its rules are pixels, so only a rendering finds them).
    func rulings(pageIndex index: Int) -> [RulingLine]? {
        guard index >= 0, index < pages.count else { return nil }
        let page = pages[index]
        guard let content = file.contents(of: page) else { return nil }
        var painter = PathPainter(file: file, page: page)
        guard painter.run(content, resources: page.resources, ctm: page.transform, depth: 0) else { return nil }
        guard painter.imageArea <= page.width * page.height * 0.3 else { return nil }
        return painter.rulings()
    }
}

/// A PDF value as far as reading page contents needs it.
enum PDFObject {
    case null
    case bool(Bool)
    case number(Double)
    case string
    case name(String)
    case array([PDFObject])
    case dictionary([String: PDFObject])
    case reference(Int)
    /// A stream's dictionary and where its data lies in the file.
    case stream([String: PDFObject], Range<Int>)
    /// An operator in a content stream (or a stray token).
    case keyword(String)

    var number: Double? { if case .number(let value) = self { return value } else { return nil } }
    var name: String? { if case .name(let value) = self { return value } else { return nil } }
    var array: [PDFObject]? { if case .array(let value) = self { return value } else { return nil } }
    var dictionary: [String: PDFObject]? {
        switch self {
        case .dictionary(let value), .stream(let value, _): return value
        default: return nil
        }
    }
}

/// Tokens and objects of PDF syntax, read from a byte buffer.
struct PDFLexer {
    let bytes: [UInt8]
    var position: Int

    init(_ bytes: [UInt8], at position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    static func isWhitespace(_ c: UInt8) -> Bool { c == 32 || c == 10 || c == 13 || c == 9 || c == 12 || c == 0 }
    static func isDelimiter(_ c: UInt8) -> Bool {
        c == 0x28 || c == 0x29 || c == 0x3C || c == 0x3E || c == 0x5B || c == 0x5D || c == 0x7B || c == 0x7D || c == 0x2F || c == 0x25
    }

    var atEnd: Bool { position >= bytes.count }

    mutating func skipWhitespace() {
        while position < bytes.count {
            let c = bytes[position]
            if PDFLexer.isWhitespace(c) {
                position += 1
            } else if c == 0x25 {  // % comment
                while position < bytes.count, bytes[position] != 10, bytes[position] != 13 { position += 1 }
            } else {
                return
            }
        }
    }

    /// The next object, with `N G R` read as a reference inside arrays and dictionaries;
    /// nil at the end of the buffer.
    mutating func next() -> PDFObject? {
        skipWhitespace()
        guard position < bytes.count else { return nil }
        let c = bytes[position]
        switch c {
        case 0x2F:  // /name
            position += 1
            let start = position
            while position < bytes.count, !PDFLexer.isWhitespace(bytes[position]), !PDFLexer.isDelimiter(bytes[position]) { position += 1 }
            return .name(String(decoding: bytes[start..<position], as: UTF8.self))
        case 0x28:  // (string)
            var depth = 0
            while position < bytes.count {
                let c = bytes[position]
                position += 1
                if c == 0x5C { position += 1 } else if c == 0x28 { depth += 1 } else if c == 0x29 {
                    depth -= 1
                    if depth == 0 { break }
                }
            }
            return .string
        case 0x3C:
            if position + 1 < bytes.count, bytes[position + 1] == 0x3C {
                position += 2
                var dictionary: [String: PDFObject] = [:]
                var items: [PDFObject] = []
                while true {
                    skipWhitespace()
                    guard position < bytes.count else { break }
                    if bytes[position] == 0x3E {
                        position += position + 1 < bytes.count && bytes[position + 1] == 0x3E ? 2 : 1
                        break
                    }
                    guard let item = next() else { break }
                    items.append(item)
                }
                items = PDFLexer.references(items)
                var index = 0
                while index + 1 < items.count {
                    if let key = items[index].name { dictionary[key] = items[index + 1]; index += 2 } else { index += 1 }
                }
                return .dictionary(dictionary)
            }
            while position < bytes.count, bytes[position] != 0x3E { position += 1 }
            position += 1
            return .string
        case 0x5B:  // [array]
            position += 1
            var items: [PDFObject] = []
            while true {
                skipWhitespace()
                guard position < bytes.count else { break }
                if bytes[position] == 0x5D { position += 1; break }
                guard let item = next() else { break }
                items.append(item)
            }
            return .array(PDFLexer.references(items))
        case 0x29, 0x3E, 0x5D, 0x7B, 0x7D:
            position += 1
            return .keyword(String(UnicodeScalar(c)))
        case 0x30...0x39, 0x2B, 0x2D, 0x2E:
            return .number(number())
        default:
            let start = position
            while position < bytes.count, !PDFLexer.isWhitespace(bytes[position]), !PDFLexer.isDelimiter(bytes[position]) { position += 1 }
            if position == start { position += 1 }
            let word = String(decoding: bytes[start..<position], as: UTF8.self)
            switch word {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null": return .null
            default: return .keyword(word)
            }
        }
    }

    private mutating func number() -> Double {
        var negative = false
        if bytes[position] == 0x2D || bytes[position] == 0x2B {
            negative = bytes[position] == 0x2D
            position += 1
            // "--5" and "+-5" occur in broken files.
            while position < bytes.count, bytes[position] == 0x2D || bytes[position] == 0x2B { position += 1 }
        }
        var value = 0.0, scale = 0.0
        while position < bytes.count {
            let c = bytes[position]
            if c >= 0x30, c <= 0x39 {
                if scale == 0 { value = value * 10 + Double(c - 0x30) } else { value += Double(c - 0x30) * scale; scale /= 10 }
            } else if c == 0x2E, scale == 0 {
                scale = 0.1
            } else {
                break
            }
            position += 1
        }
        return negative ? -value : value
    }

    /// `N G R` triples of a sequence as references.
    static func references(_ items: [PDFObject]) -> [PDFObject] {
        guard items.contains(where: { if case .keyword("R") = $0 { return true } else { return false } }) else { return items }
        var out: [PDFObject] = []
        for item in items {
            if case .keyword("R") = item, out.count >= 2, case .number(let number) = out[out.count - 2], case .number = out[out.count - 1] {
                out.removeLast(2)
                out.append(.reference(Int(number)))
            } else {
                out.append(item)
            }
        }
        return out
    }

    /// Skips an inline image's data after `BI … ID`: up to `EI` between whitespace.
    mutating func skipInlineImage() {
        while let token = next() {
            if case .keyword("ID") = token { break }
        }
        position += 1
        while position + 2 < bytes.count {
            if bytes[position] == 0x45, bytes[position + 1] == 0x49, PDFLexer.isWhitespace(bytes[position - 1]),
               PDFLexer.isWhitespace(bytes[position + 2]) || PDFLexer.isDelimiter(bytes[position + 2]) {
                position += 2
                return
            }
            position += 1
        }
        position = bytes.count
    }
}

/// The objects of a PDF file, found by scanning for their headers.
final class PDFFile {
    struct Page {
        let dictionary: [String: PDFObject]
        let resources: [String: PDFObject]
        /// Crop box size as poppler reports it (rotation applied).
        let width: Double
        let height: Double
        /// From default user space to poppler's page coordinates (points, origin top-left).
        let transform: Matrix
    }

    let bytes: [UInt8]
    private var offsets: [Int: Int] = [:]
    private var compressed: [Int: (buffer: Int, offset: Int)] = [:]
    private var buffers: [[UInt8]] = []
    private var objectStreamsRead = false
    private var cache: [Int: PDFObject] = [:]

    init?(bytes: [UInt8]) {
        self.bytes = bytes
        guard bytes.count > 16 else { return nil }
        bytes.withUnsafeBufferPointer { b in
            let n = b.count
            var i = 1
            while i + 3 <= n {
                // "obj" after "N G " at a token boundary.
                if b[i] == 0x6F, b[i + 1] == 0x62, b[i + 2] == 0x6A, i + 3 == n || PDFLexer.isWhitespace(b[i + 3]) || PDFLexer.isDelimiter(b[i + 3]),
                   PDFLexer.isWhitespace(b[i - 1]) {
                    var j = i - 1
                    while j > 0, PDFLexer.isWhitespace(b[j]) { j -= 1 }
                    let generationEnd = j
                    while j >= 0, b[j] >= 0x30, b[j] <= 0x39 { j -= 1 }
                    if j < generationEnd, j > 0, PDFLexer.isWhitespace(b[j]) {
                        while j > 0, PDFLexer.isWhitespace(b[j]) { j -= 1 }
                        let numberEnd = j
                        var number = 0, place = 1
                        while j >= 0, b[j] >= 0x30, b[j] <= 0x39, place < 100_000_000 {
                            number += Int(b[j] - 0x30) * place
                            place *= 10
                            j -= 1
                        }
                        if j < numberEnd, j < 0 || PDFLexer.isWhitespace(b[j]) || PDFLexer.isDelimiter(b[j]) {
                            offsets[number] = j + 1
                        }
                    }
                    i += 3
                    continue
                }
                i += 1
            }
        }
        guard !offsets.isEmpty else { return nil }
    }

    /// The object behind a reference (other values unchanged).
    func resolve(_ object: PDFObject?) -> PDFObject? {
        guard let object else { return nil }
        guard case .reference(let number) = object else { return object }
        return self.object(number)
    }

    func object(_ number: Int) -> PDFObject? {
        if let cached = cache[number] { return cached }
        cache[number] = .null  // a reference cycle reads as null
        var found: PDFObject?
        if let offset = offsets[number] {
            found = parseObject(at: offset)
        } else {
            if !objectStreamsRead { readObjectStreams() }
            if let (buffer, offset) = compressed[number] {
                var lexer = PDFLexer(buffers[buffer], at: offset)
                found = lexer.next()
            }
        }
        cache[number] = found ?? .null
        return found
    }

    private func parseObject(at offset: Int) -> PDFObject? {
        var lexer = PDFLexer(bytes, at: offset)
        guard case .number = lexer.next(), case .number = lexer.next(), case .keyword("obj") = lexer.next(),
              let value = lexer.next() else { return nil }
        guard case .dictionary(let dictionary) = value else { return value }
        lexer.skipWhitespace()
        let keyword = Array("stream".utf8)
        guard lexer.position + keyword.count <= bytes.count, Array(bytes[lexer.position..<(lexer.position + keyword.count)]) == keyword else {
            return value
        }
        var start = lexer.position + keyword.count
        if start < bytes.count, bytes[start] == 13 { start += 1 }
        if start < bytes.count, bytes[start] == 10 { start += 1 }
        let end = Array("endstream".utf8)
        if let length = resolve(dictionary["Length"])?.number.map(Int.init), length >= 0, start + length <= bytes.count {
            var after = start + length
            while after < bytes.count, PDFLexer.isWhitespace(bytes[after]) { after += 1 }
            if after + end.count <= bytes.count, Array(bytes[after..<(after + end.count)]) == end {
                return .stream(dictionary, start..<(start + length))
            }
        }
        // A wrong /Length: the data runs to "endstream".
        guard let found = find(end, from: start) else { return nil }
        var stop = found
        if stop > start, bytes[stop - 1] == 10 { stop -= 1 }
        if stop > start, bytes[stop - 1] == 13 { stop -= 1 }
        return .stream(dictionary, start..<stop)
    }

    private func find(_ needle: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= bytes.count {
            if bytes[i] == needle[0], Array(bytes[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }

    /// Indexes the objects kept inside object streams (PDF 1.5), for those not found directly.
    private func readObjectStreams() {
        objectStreamsRead = true
        let starts = offsets.sorted { $0.value < $1.value }
        let marker = Array("/ObjStm".utf8)
        var from = 0
        var seen = Set<Int>()
        while let at = find(marker, from: from) {
            from = at + marker.count
            // The object whose header precedes the marker.
            var low = 0, high = starts.count - 1, best = -1
            while low <= high {
                let middle = (low + high) / 2
                if starts[middle].value <= at { best = middle; low = middle + 1 } else { high = middle - 1 }
            }
            guard best >= 0, seen.insert(starts[best].key).inserted,
                  case .stream(let dictionary, _)? = object(starts[best].key),
                  let data = decode(object(starts[best].key)),
                  let count = dictionary["N"]?.number, let first = resolve(dictionary["First"])?.number else { continue }
            buffers.append(data)
            var lexer = PDFLexer(data)
            for _ in 0..<Int(count) {
                guard let number = lexer.next()?.number, let offset = lexer.next()?.number else { break }
                if offsets[Int(number)] == nil, compressed[Int(number)] == nil {
                    compressed[Int(number)] = (buffers.count - 1, Int(first) + Int(offset))
                }
            }
        }
    }

    /// A stream's data with its filters undone; nil for filters other than Flate.
    func decode(_ object: PDFObject?) -> [UInt8]? {
        guard case .stream(let dictionary, let range)? = object else { return nil }
        let filters: [PDFObject]
        switch resolve(dictionary["Filter"]) {
        case nil, .null?: filters = []
        case .array(let items)?: filters = items.map { resolve($0) ?? .null }
        case let filter?: filters = [filter]
        }
        if filters.isEmpty { return Array(bytes[range]) }
        guard filters.count == 1, let name = filters[0].name, name == "FlateDecode" || name == "Fl" else { return nil }
        if let parameters = resolve(dictionary["DecodeParms"]), case .dictionary(let values) = parameters,
           let predictor = values["Predictor"]?.number, predictor > 1 { return nil }
        return PDFFile.inflate(bytes[range])
    }

    static func inflate(_ input: ArraySlice<UInt8>) -> [UInt8]? {
        var stream = z_stream()
        guard inflateInit_(&stream, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }
        var output = [UInt8](repeating: 0, count: max(4096, input.count * 4))
        var produced = 0
        input.withUnsafeBufferPointer { source in
            stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
            stream.avail_in = UInt32(source.count)
            while true {
                if produced == output.count { output += [UInt8](repeating: 0, count: output.count) }
                let status = output.withUnsafeMutableBufferPointer { out -> Int32 in
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = UInt32(out.count - produced)
                    let status = CPoppler.inflate(&stream, Z_NO_FLUSH)
                    produced = out.count - Int(stream.avail_out)
                    return status
                }
                // Damaged data keeps what was inflated before the damage, as viewers do.
                if status != Z_OK { break }
                if stream.avail_in == 0, stream.avail_out > 0 { break }
            }
        }
        output.removeSubrange(produced...)
        return output
    }

    /// The pages in order, with inherited resources and boxes; nil for an encrypted file
    /// or a page tree that cannot be read.
    func pages() -> [Page]? {
        // The last /Root (a trailer, or a cross-reference stream's dictionary) wins.
        let marker = Array("/Root".utf8)
        var at: Int?
        var from = 0
        while let found = find(marker, from: from) { at = found; from = found + marker.count }
        guard let at else { return nil }
        var lexer = PDFLexer(bytes, at: at + marker.count)
        guard let number = lexer.next()?.number, lexer.next()?.number != nil, case .keyword("R") = lexer.next() else { return nil }
        if find(Array("/Encrypt".utf8), from: max(0, at - 4096)) != nil { return nil }
        guard let catalog = object(Int(number))?.dictionary, let root = resolve(catalog["Pages"])?.dictionary else { return nil }
        var pages: [Page] = []
        var visited = 0
        func walk(_ node: [String: PDFObject], inherited: [String: PDFObject]) -> Bool {
            visited += 1
            guard visited < 100_000 else { return false }
            var inherited = inherited
            for key in ["Resources", "MediaBox", "CropBox", "Rotate"] where node[key] != nil { inherited[key] = node[key] }
            if let kids = resolve(node["Kids"])?.array {
                for kid in kids {
                    guard let child = resolve(kid)?.dictionary else { continue }
                    guard walk(child, inherited: inherited) else { return false }
                }
                return true
            }
            guard let page = makePage(node, inherited: inherited) else { return false }
            pages.append(page)
            return true
        }
        guard walk(root, inherited: [:]) else { return nil }
        return pages
    }

    private func makePage(_ node: [String: PDFObject], inherited: [String: PDFObject]) -> Page? {
        func box(_ key: String) -> (Double, Double, Double, Double)? {
            guard let values = resolve(inherited[key])?.array?.compactMap({ resolve($0)?.number }), values.count == 4 else { return nil }
            return (min(values[0], values[2]), min(values[1], values[3]), max(values[0], values[2]), max(values[1], values[3]))
        }
        let media = box("MediaBox") ?? (0, 0, 612, 792)
        var crop = box("CropBox") ?? media
        // poppler clips the crop box to the media box.
        crop = (max(crop.0, media.0), max(crop.1, media.1), min(crop.2, media.2), min(crop.3, media.3))
        if crop.2 <= crop.0 || crop.3 <= crop.1 { crop = media }
        let (x0, y0, x1, y1) = crop
        var rotate = Int(resolve(inherited["Rotate"])?.number ?? 0) % 360
        if rotate < 0 { rotate += 360 }
        let transform: Matrix
        let (width, height): (Double, Double)
        switch rotate {
        case 90:
            transform = Matrix(a: 0, b: 1, c: 1, d: 0, e: -y0, f: -x0)
            (width, height) = (y1 - y0, x1 - x0)
        case 180:
            transform = Matrix(a: -1, b: 0, c: 0, d: 1, e: x1, f: -y0)
            (width, height) = (x1 - x0, y1 - y0)
        case 270:
            transform = Matrix(a: 0, b: -1, c: -1, d: 0, e: y1, f: x1)
            (width, height) = (y1 - y0, x1 - x0)
        default:
            transform = Matrix(a: 1, b: 0, c: 0, d: -1, e: -x0, f: y1)
            (width, height) = (x1 - x0, y1 - y0)
        }
        let resources = resolve(inherited["Resources"])?.dictionary ?? [:]
        return Page(dictionary: node, resources: resources, width: width, height: height, transform: transform)
    }

    /// A page's content streams, decoded and joined; nil when one cannot be decoded.
    func contents(of page: Page) -> [UInt8]? {
        var parts: [PDFObject] = []
        switch resolve(page.dictionary["Contents"]) {
        case .array(let items)?: parts = items
        case nil, .null?: return []
        case let single?: parts = [single]
        }
        var data: [UInt8] = []
        for part in parts {
            guard let decoded = decode(resolve(part)) else { return nil }
            data += decoded
            data.append(10)
        }
        return data
    }
}

/// An affine transform in PDF's convention: x' = a x + c y + e, y' = b x + d y + f.
struct Matrix {
    var a, b, c, d, e, f: Double

    static let identity = Matrix(a: 1, b: 0, c: 0, d: 1, e: 0, f: 0)

    /// `self` applied first, then `outer`.
    func then(_ outer: Matrix) -> Matrix {
        Matrix(a: a * outer.a + b * outer.c, b: a * outer.b + b * outer.d,
               c: c * outer.a + d * outer.c, d: c * outer.b + d * outer.d,
               e: e * outer.a + f * outer.c + outer.e, f: e * outer.b + f * outer.d + outer.f)
    }

    func apply(_ x: Double, _ y: Double) -> (Double, Double) { (a * x + c * y + e, b * x + d * y + f) }

    /// How much lengths grow (the geometric mean of the two axes).
    var scale: Double { abs(a * d - b * c).squareRoot() }
}

/// Runs a content stream and keeps the axis-aligned strokes and filled rectangles dark
/// enough to be rules, the way `RulingDetector` finds them in a rendering: a rule at
/// most 3 pt thick is one line at its middle, a thicker bar long along its axis (a
/// shaded header row) becomes a rule at each edge.
struct PathPainter {
    struct State {
        var ctm: Matrix
        var lineWidth = 1.0
        var strokeInk = 1.0
        var fillInk = 1.0
        var strokeSpace = ColorSpace.gray
        var fillSpace = ColorSpace.gray
        var dashed = false
    }

    enum ColorSpace { case gray, rgb, cmyk, tint, pattern, unknown }

    /// A piece of a rule before pieces are joined: axis, position across, extent along, thickness.
    struct Piece {
        let axis: RulingLine.Axis
        let position: Double
        let start: Double
        let end: Double
    }

    let file: PDFFile
    let page: PDFFile.Page
    var pieces: [Piece] = []
    /// Page area covered by images drawn (points²).
    var imageArea = 0.0
    private var budget = 5_000_000

    init(file: PDFFile, page: PDFFile.Page) {
        self.file = file
        self.page = page
    }

    /// Ink at or above `RulingDetector.inkThreshold` (of 255) makes a bar's edges rules,
    /// as in a rendering; a thin rule counts when lighter, down to a pale grey or tint
    /// (the rendering loses those only to anti-aliasing).
    static let minimumInk = Double(RulingDetector.inkThreshold) / 255
    static let minimumRuleInk = 0.12

    /// Runs `content`; false when it holds more operations than a page plausibly does.
    mutating func run(_ content: [UInt8], resources: [String: PDFObject], ctm: Matrix, depth: Int) -> Bool {
        var lexer = PDFLexer(content)
        var state = State(ctm: ctm)
        var stack: [State] = []
        var operands: [PDFObject] = []
        var subpaths: [[(x: Double, y: Double, straight: Bool)]] = []
        var closed: [Bool] = []
        func number(_ index: Int) -> Double { operands[index].number ?? 0 }
        func point(_ x: Double, _ y: Double) -> (Double, Double) { state.ctm.apply(x, y) }
        func lineTo(_ x: Double, _ y: Double, straight: Bool) {
            let (px, py) = point(x, y)
            if subpaths.isEmpty { subpaths.append([(px, py, true)]); closed.append(false) }
            subpaths[subpaths.count - 1].append((px, py, straight))
        }
        while let token = lexer.next() {
            budget -= 1
            guard budget > 0 else { return false }
            guard case .keyword(let op) = token else {
                operands.append(token)
                continue
            }
            let count = operands.count
            switch op {
            case "q": stack.append(state)
            case "Q": if let saved = stack.popLast() { state = saved }
            case "cm" where count >= 6:
                state.ctm = Matrix(a: number(count - 6), b: number(count - 5), c: number(count - 4), d: number(count - 3),
                                   e: number(count - 2), f: number(count - 1)).then(state.ctm)
            case "w" where count >= 1: state.lineWidth = number(count - 1)
            case "d" where count >= 2:
                let dashes = (operands[count - 2].array ?? []).compactMap(\.number)
                // Dashes long enough to show as runs of ink still make a rule.
                let longest = stride(from: 0, to: dashes.count, by: 2).map { dashes[$0] }.max() ?? 0
                state.dashed = !dashes.isEmpty && dashes.contains { $0 > 0 } && longest * state.ctm.scale < 10
            case "m" where count >= 2:
                let (px, py) = point(number(count - 2), number(count - 1))
                subpaths.append([(px, py, true)])
                closed.append(false)
            case "l" where count >= 2: lineTo(number(count - 2), number(count - 1), straight: true)
            case "c" where count >= 6: lineTo(number(count - 2), number(count - 1), straight: false)
            case "v", "y":
                if count >= 4 { lineTo(number(count - 2), number(count - 1), straight: false) }
            case "h":
                if !closed.isEmpty { closed[closed.count - 1] = true }
            case "re" where count >= 4:
                let (x, y, w, h) = (number(count - 4), number(count - 3), number(count - 2), number(count - 1))
                let corners = [point(x, y), point(x + w, y), point(x + w, y + h), point(x, y + h)]
                subpaths.append(corners.map { ($0.0, $0.1, true) })
                closed.append(true)
            case "S", "s", "f", "F", "f*", "B", "B*", "b", "b*", "n":
                let closing = op == "s" || op == "b" || op == "b*"
                if op != "n", op != "S", op != "s" { fill(subpaths, ink: state.fillInk) }
                if op == "S" || op == "s" || op.hasPrefix("B") || op.hasPrefix("b") {
                    stroke(subpaths, closed: closed.map { $0 || closing }, state: state)
                }
                subpaths.removeAll()
                closed.removeAll()
            case "g" where count >= 1: state.fillInk = 1 - number(count - 1); state.fillSpace = .gray
            case "G" where count >= 1: state.strokeInk = 1 - number(count - 1); state.strokeSpace = .gray
            case "rg" where count >= 3: state.fillInk = 1 - number(count - 2); state.fillSpace = .rgb
            case "RG" where count >= 3: state.strokeInk = 1 - number(count - 2); state.strokeSpace = .rgb
            case "k" where count >= 4: state.fillInk = PathPainter.cmykInk(operands.suffix(4).map { $0.number ?? 0 }); state.fillSpace = .cmyk
            case "K" where count >= 4: state.strokeInk = PathPainter.cmykInk(operands.suffix(4).map { $0.number ?? 0 }); state.strokeSpace = .cmyk
            case "cs" where count >= 1:
                state.fillSpace = colorSpace(operands[count - 1], resources: resources)
                state.fillInk = 1
            case "CS" where count >= 1:
                state.strokeSpace = colorSpace(operands[count - 1], resources: resources)
                state.strokeInk = 1
            case "sc", "scn": state.fillInk = PathPainter.ink(operands, space: state.fillSpace)
            case "SC", "SCN": state.strokeInk = PathPainter.ink(operands, space: state.strokeSpace)
            case "Do" where count >= 1:
                guard let name = operands[count - 1].name,
                      let xobject = file.resolve(file.resolve(resources["XObject"])?.dictionary?[name]),
                      case .stream(let dictionary, _) = xobject else { break }
                switch file.resolve(dictionary["Subtype"])?.name {
                case "Form"?:
                    guard depth < 12, let data = file.decode(xobject) else { break }
                    let values = file.resolve(dictionary["Matrix"])?.array?.compactMap { file.resolve($0)?.number } ?? []
                    let matrix = values.count == 6 ? Matrix(a: values[0], b: values[1], c: values[2], d: values[3], e: values[4], f: values[5]) : .identity
                    let inner = file.resolve(dictionary["Resources"])?.dictionary ?? resources
                    guard run(data, resources: inner, ctm: matrix.then(state.ctm), depth: depth + 1) else { return false }
                case "Image"?:
                    // The unit square, as drawn.
                    let corners = [point(0, 0), point(1, 0), point(0, 1)]
                    let (ux, uy) = (corners[1].0 - corners[0].0, corners[1].1 - corners[0].1)
                    let (vx, vy) = (corners[2].0 - corners[0].0, corners[2].1 - corners[0].1)
                    imageArea += abs(ux * vy - uy * vx)
                default: break
                }
            case "BI":
                lexer.skipInlineImage()
            default: break
            }
            operands.removeAll(keepingCapacity: true)
        }
        return true
    }

    func colorSpace(_ operand: PDFObject, resources: [String: PDFObject]) -> ColorSpace {
        guard let name = operand.name else { return .unknown }
        switch name {
        case "DeviceGray", "G", "CalGray": return .gray
        case "DeviceRGB", "RGB", "CalRGB": return .rgb
        case "DeviceCMYK", "CMYK": return .cmyk
        case "Pattern": return .pattern
        default: break
        }
        guard let entry = file.resolve(file.resolve(resources["ColorSpace"])?.dictionary?[name]) else { return .unknown }
        let family = entry.array.flatMap { $0.first?.name } ?? entry.name ?? ""
        switch family {
        case "DeviceGray", "CalGray": return .gray
        case "DeviceRGB", "CalRGB": return .rgb
        case "DeviceCMYK": return .cmyk
        case "Separation", "DeviceN": return .tint
        case "Pattern": return .pattern
        case "ICCBased":
            guard let items = entry.array, items.count >= 2, let n = file.resolve(items[1])?.dictionary?["N"]?.number else { return .unknown }
            return n == 1 ? .gray : n == 3 ? .rgb : n == 4 ? .cmyk : .unknown
        default: return .unknown
        }
    }

    static func cmykInk(_ v: [Double]) -> Double { 1 - (1 - v[1]) * (1 - v[3]) }

    /// Ink of a colour set with `sc`/`scn`; green stands for lightness as in the rendering.
    static func ink(_ operands: [PDFObject], space: ColorSpace) -> Double {
        let values = operands.compactMap(\.number)
        if operands.last?.name != nil || space == .pattern { return 0.5 }
        switch (space, values.count) {
        case (.gray, 1...), (.unknown, 1): return 1 - values[0]
        case (.rgb, 3...), (.unknown, 3): return 1 - values[1]
        case (.cmyk, 4...), (.unknown, 4): return cmykInk(values)
        case (.tint, 1...): return values[0]
        default: return 0.5
        }
    }

    /// Filled axis-aligned rectangles: a thin one is a rule, a long bar has a rule at each edge.
    private mutating func fill(_ subpaths: [[(x: Double, y: Double, straight: Bool)]], ink: Double) {
        guard ink >= PathPainter.minimumRuleInk else { return }
        for var points in subpaths {
            if points.count == 5, abs(points[4].x - points[0].x) < 0.01, abs(points[4].y - points[0].y) < 0.01 { points.removeLast() }
            guard points.count == 4, points.allSatisfy(\.straight) else { continue }
            let xs = points.map(\.x), ys = points.map(\.y)
            let axisAligned = (0..<4).allSatisfy { i in
                let j = (i + 1) % 4
                return abs(xs[i] - xs[j]) < 0.1 || abs(ys[i] - ys[j]) < 0.1
            }
            guard axisAligned else { continue }
            bar(x0: xs.min()!, y0: ys.min()!, x1: xs.max()!, y1: ys.max()!, ink: ink)
        }
    }

    /// Stroked axis-aligned segments, as bars of the line's width.
    private mutating func stroke(_ subpaths: [[(x: Double, y: Double, straight: Bool)]], closed: [Bool], state: State) {
        guard state.strokeInk >= PathPainter.minimumRuleInk, !state.dashed else { return }
        let width = max(state.lineWidth * state.ctm.scale, 0.5)
        for (index, points) in subpaths.enumerated() {
            var segments = Array(zip(points, points.dropFirst()).filter { $0.1.straight })
            if closed[index], let first = points.first, let last = points.last { segments.append((last, first)) }
            for (p, q) in segments {
                if abs(p.y - q.y) < 0.1 {
                    bar(x0: min(p.x, q.x), y0: p.y - width / 2, x1: max(p.x, q.x), y1: p.y + width / 2, ink: state.strokeInk)
                } else if abs(p.x - q.x) < 0.1 {
                    bar(x0: p.x - width / 2, y0: min(p.y, q.y), x1: p.x + width / 2, y1: max(p.y, q.y), ink: state.strokeInk)
                }
            }
        }
    }

    private mutating func bar(x0: Double, y0: Double, x1: Double, y1: Double, ink: Double) {
        let (w, h) = (x1 - x0, y1 - y0)
        guard x1 > -5, y1 > -5, x0 < page.width + 5, y0 < page.height + 5 else { return }
        if h <= 3, w >= h {
            pieces.append(Piece(axis: .horizontal, position: (y0 + y1) / 2, start: x0, end: x1))
        } else if w <= 3, h > w {
            pieces.append(Piece(axis: .vertical, position: (x0 + x1) / 2, start: y0, end: y1))
        } else if ink < PathPainter.minimumInk {
            return
        } else if w >= h * 3 {
            pieces.append(Piece(axis: .horizontal, position: y0, start: x0, end: x1))
            pieces.append(Piece(axis: .horizontal, position: y1, start: x0, end: x1))
        } else if h >= w * 3 {
            pieces.append(Piece(axis: .vertical, position: x0, start: y0, end: y1))
            pieces.append(Piece(axis: .vertical, position: x1, start: y0, end: y1))
        }
    }

    /// Pieces of one rule joined (a grid drawn cell by cell), then those long enough to be rules.
    func rulings(minimumLength: Double = 10) -> [RulingLine] {
        let lines = pieces.map { RulingLine($0.axis, at: $0.position, from: $0.start, to: $0.end) }
        let horizontal = RulingDetector.merge(lines.filter { $0.axis == .horizontal })
        let vertical = RulingDetector.merge(lines.filter { $0.axis == .vertical })
        return (horizontal + vertical).filter { $0.length >= minimumLength }
    }
}
