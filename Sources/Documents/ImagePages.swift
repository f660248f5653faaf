import CPNG
import CTesseract
import Foundation

/// A leptonica image; the PIX is destroyed when the value goes away. Only this module sees
/// the C type.
final class Image {
    private(set) var pix: UnsafeMutablePointer<PIX>

    /// An 8-bit grey copy of cairo's RGB24 pixels (a 32-bit word per pixel, 0x00RRGGBB),
    /// by luminance (ITU-R 601 weights, as leptonica's `pixConvertRGBToLuminance`).
    convenience init?(greyFromCairoRGB24 data: UnsafeMutablePointer<UInt8>, width: Int, height: Int, stride: Int) {
        guard let pix = pixCreate(Int32(width), Int32(height), 8), let target = pixGetData(pix) else { return nil }
        let targetBytes = Int(pixGetWpl(pix)) * 4
        data.withMemoryRebound(to: UInt32.self, capacity: stride / 4 * height) { source in
            target.withMemoryRebound(to: UInt8.self, capacity: targetBytes * height) { out in
                for y in 0..<height {
                    let row = source + y * (stride / 4), line = out + y * targetBytes
                    for x in 0..<width {
                        let rgb = row[x]
                        let level = ((rgb >> 16) & 0xFF) * 299 + ((rgb >> 8) & 0xFF) * 587 + (rgb & 0xFF) * 114
                        // leptonica keeps 8-bit pixels in 32-bit words, the first pixel in the
                        // word's most significant byte: byte x ^ 3 on a little-endian machine.
                        #if _endian(little)
                        line[x ^ 3] = UInt8(level / 1000)
                        #else
                        line[x] = UInt8(level / 1000)
                        #endif
                    }
                }
            }
        }
        self.init(owning: pix)
    }

    /// Takes ownership of `pix`.
    init(owning pix: UnsafeMutablePointer<PIX>) {
        self.pix = pix
    }

    deinit {
        var pointer: UnsafeMutablePointer<PIX>? = pix
        pixDestroy(&pointer)
    }

    var width: Int { Int(pixGetWidth(pix)) }
    var height: Int { Int(pixGetHeight(pix)) }
    var depth: Int { Int(pixGetDepth(pix)) }
    /// Horizontal resolution from the file (0 when the file does not say).
    var resolution: Int { Int(pixGetXRes(pix)) }

    /// Replaces the pixels with the result of `transform`, unless it failed (nil).
    func apply(_ transform: (UnsafeMutablePointer<PIX>) -> UnsafeMutablePointer<PIX>?) -> Bool {
        guard let result = transform(pix) else { return false }
        var old: UnsafeMutablePointer<PIX>? = pix
        pixDestroy(&old)
        pix = result
        return true
    }
}

/// The pages of an image file in order: one for PNG and JPEG, every directory of a TIFF.
/// Pages are decoded one at a time, so a long TIFF never sits in memory whole, and each is
/// reduced to what OCR needs (`ocrPixelLimit`) before anything else sees it.
struct ImagePages {
    let path: String
    let type: FileType
    /// How many pages the file has (a TIFF's directories are counted without decoding).
    let count: Int

    /// Most pixels a page is OCR'd at: an A4 page at ~350 dpi. A page photographed or scanned
    /// at 600 dpi (4961 × 7016, 35 MP) has text twice the size tesseract reads best (an
    /// x-height of 20–30 px) and took 551 MB to read at full size (four bytes a pixel, and
    /// every step's copy); at half the size it reads as well, in a quarter of the memory and
    /// time. Pages under the limit are read as they are.
    static let ocrPixelLimit = 12_000_000

    init(path: String, type: FileType) throws {
        precondition(type.isImage)
        self.path = path
        self.type = type
        if type == .tiff {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DocumentProblem("corrupt_document", "the file cannot be read")
            }
            count = try TIFFStructure(bytes: [UInt8](data)).pages.count
        } else {
            count = 1
        }
    }

    /// Calls `body` with every decoded page (at most `ocrPixelLimit` pixels) and its 1-based number.
    func forEach(_ body: (DecodedPage, Int) throws -> Void) throws {
        guard type == .tiff else {
            try body(try decodeSingle(), 1)
            return
        }
        // leptonica walks the directory chain: `offset` is the next directory, 0 at the end.
        var offset = 0
        for number in 1...count {
            guard let pix = pixReadFromMultipageTiff(path, &offset) else {
                throw DocumentProblem("corrupt_document", "page \(number) of the TIFF cannot be decoded")
            }
            try body(Self.reduced(Image(owning: pix)), number)
            if offset == 0, number < count {
                throw DocumentProblem("corrupt_document", "the TIFF ends after page \(number) of \(count)")
            }
        }
    }

    /// A PNG or JPEG page. A large JPEG is decoded at a half, a quarter or an eighth of its
    /// size by libjpeg itself (its DCT scaling), so its full-size pixels never exist.
    private func decodeSingle() throws -> DecodedPage {
        if type == .jpeg, let (width, height) = Self.jpegSize(path: path) {
            let reduction = Self.jpegReduction(width: width, height: height)
            if reduction > 1, let pix = pixReadJpeg(path, 0, Int32(reduction), nil, 0) {
                let image = Image(owning: pix)
                // libjpeg keeps the file's resolution: the reduced page has fewer pixels per inch.
                let (xres, yres) = (pixGetXRes(pix), pixGetYRes(pix))
                if xres > 0, yres > 0 { pixSetResolution(pix, xres / Int32(reduction), yres / Int32(reduction)) }
                return Self.reduced(image, width: width, height: height)
            }
        }
        if type == .png, let image = try Self.greyPNG(path: path) { return Self.reduced(image) }
        guard let pix = pixRead(path) else { throw DocumentProblem("corrupt_document", "the image cannot be decoded") }
        return Self.reduced(Image(owning: pix))
    }

    /// A PNG with more pixels than `ocrPixelLimit`, decoded by libpng straight to 8-bit grey
    /// (transparency over white): a byte a pixel, where leptonica's reading holds libpng's
    /// rows and its own 32-bit copy at once (seven bytes a pixel for RGB). nil for smaller
    /// PNGs, which are read in colour as they are.
    static func greyPNG(path: String) throws -> Image? {
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_file(&png, path) != 0 else {
            throw DocumentProblem("corrupt_document", "the image cannot be decoded")
        }
        defer { png_image_free(&png) }
        let (width, height) = (Int(png.width), Int(png.height))
        guard width * height > ocrPixelLimit else { return nil }
        png.format = UInt32(PNG_FORMAT_GRAY)
        guard let pix = pixCreate(Int32(width), Int32(height), 8), let data = pixGetData(pix) else {
            throw DocumentProblem("ocr_failed", "cannot allocate the page image")
        }
        let image = Image(owning: pix)
        // libpng composites transparent pixels onto what the buffer holds: white.
        pixSetAll(pix)
        guard png_image_finish_read(&png, nil, data, Int32(pixGetWpl(pix) * 4), nil) != 0 else {
            throw DocumentProblem("corrupt_document", "the image cannot be decoded")
        }
        // libpng wrote bytes in file order; leptonica keeps 8-bit pixels in 32-bit words.
        pixEndianByteSwap(pix)
        return image
    }

    /// The smallest of libjpeg's reductions (1, 2, 4, 8) that brings the page within the limit.
    static func jpegReduction(width: Int, height: Int) -> Int {
        var reduction = 1
        while reduction < 8, (width / reduction) * (height / reduction) > ocrPixelLimit { reduction *= 2 }
        return reduction
    }

    /// A JPEG's width and height from its frame header, without decoding it.
    static func jpegSize(path: String) -> (Int, Int)? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? FileInspector.imageSize([UInt8](data), type: .jpeg)
    }

    /// `image`, a page of `width` × `height` in the file (its own size unless given), scaled
    /// down to at most `ocrPixelLimit` pixels; the full-size pixels are freed as soon as the
    /// smaller copy exists. A black-and-white page becomes grey as it shrinks, keeping thin strokes.
    static func reduced(_ image: Image, width: Int? = nil, height: Int? = nil) -> DecodedPage {
        let (width, height) = (width ?? image.width, height ?? image.height)
        let pixels = image.width * image.height
        guard pixels > ocrPixelLimit else { return DecodedPage(image: image, width: width, height: height) }
        let factor = Float((Double(ocrPixelLimit) / Double(pixels)).squareRoot())
        let smaller = image.depth == 1 ? pixScaleToGray(image.pix, factor) : pixScale(image.pix, factor, factor)
        return DecodedPage(image: smaller.map(Image.init(owning:)) ?? image, width: width, height: height)
    }
}

/// A page decoded for OCR, perhaps at fewer pixels than the file has.
struct DecodedPage {
    let image: Image
    /// The page's size in the file's pixels: what the page model and its word boxes use.
    let width: Int
    let height: Int

    /// The image's pixels per pixel of the file (1, or less for a reduced page).
    var scale: Double { Double(image.width) / Double(width) }
}

/// A TIFF's directory chain read from its bytes: the size of every page, and a check that
/// every strip or tile of pixel data lies inside the file, so truncated and malformed files
/// are refused at upload without decoding any pixels.
struct TIFFStructure {
    struct Page: Equatable {
        let width: Int
        let height: Int
        /// Samples (colour channels) per pixel: 3 or 4 for a colour page.
        var samples = 1
    }

    let pages: [Page]

    /// Reads at most `limit` directories and stops there (the chain of a hostile file can
    /// be very long): a caller that needs to know about more asks for one more than it allows.
    init(bytes b: [UInt8], limit: Int = 10_000) throws {
        guard b.count >= 8 else { throw DocumentProblem("truncated_document", "the TIFF is truncated") }
        let little = b[0] == 0x49
        func u16(_ i: Int) -> Int {
            little ? Int(b[i]) | Int(b[i + 1]) << 8 : Int(b[i]) << 8 | Int(b[i + 1])
        }
        func u32(_ i: Int) -> Int {
            little ? u16(i) | u16(i + 2) << 16 : u16(i) << 16 | u16(i + 2)
        }
        var pages: [Page] = []
        var seen: Set<Int> = []
        var offset = u32(4)
        while offset != 0, pages.count < limit {
            let number = pages.count + 1
            guard offset >= 8, offset + 2 <= b.count else {
                throw DocumentProblem("truncated_document", "the TIFF is truncated (directory of page \(number) is missing)")
            }
            guard seen.insert(offset).inserted else {
                throw DocumentProblem("corrupt_document", "the TIFF's directories form a loop")
            }
            let entries = u16(offset)
            let end = offset + 2 + entries * 12
            guard end + 4 <= b.count else {
                throw DocumentProblem("truncated_document", "the TIFF is truncated (directory of page \(number))")
            }
            // SHORT or LONG values of one tag: inline when they fit in 4 bytes, else at an offset.
            func values(_ entry: Int) throws -> [Int] {
                let type = u16(entry + 2), count = u32(entry + 4)
                guard type == 3 || type == 4 else { return [] }
                let size = type == 3 ? 2 : 4
                guard count <= b.count else { throw DocumentProblem("corrupt_document", "the TIFF directory of page \(number) is damaged") }
                let at = size * count <= 4 ? entry + 8 : u32(entry + 8)
                guard at + size * count <= b.count else {
                    throw DocumentProblem("truncated_document", "the TIFF is truncated (page \(number))")
                }
                return (0..<count).map { size == 2 ? u16(at + 2 * $0) : u32(at + 4 * $0) }
            }
            var tags: [Int: [Int]] = [:]
            for index in 0..<entries {
                let entry = offset + 2 + index * 12
                let tag = u16(entry)
                if [256, 257, 273, 277, 279, 324, 325].contains(tag) { tags[tag] = try values(entry) }
            }
            guard let width = tags[256]?.first, let height = tags[257]?.first, width > 0, height > 0 else {
                throw DocumentProblem("corrupt_document", "page \(number) of the TIFF has no size")
            }
            let starts = tags[273] ?? tags[324] ?? [], lengths = tags[279] ?? tags[325] ?? []
            guard !starts.isEmpty, starts.count == lengths.count else {
                throw DocumentProblem("corrupt_document", "page \(number) of the TIFF has no pixel data")
            }
            for (start, length) in zip(starts, lengths) where start + length > b.count {
                throw DocumentProblem("truncated_document", "the TIFF is truncated (pixel data of page \(number))")
            }
            pages.append(Page(width: width, height: height, samples: tags[277]?.first ?? 1))
            offset = u32(end)
        }
        guard !pages.isEmpty else { throw DocumentProblem("corrupt_document", "the TIFF has no pages") }
        self.pages = pages
    }
}
