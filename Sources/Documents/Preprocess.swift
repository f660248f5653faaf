import CTesseract
import Foundation

/// How an image page is made ready for tesseract. Each step is kept only where it
/// measurably helped on the OCR benchmark (see scripts/bench-ocr) and is cheap next to
/// the recognition itself.
enum PagePreparation {
    struct Options: Sendable {
        /// Upscale 2× when the typical character is shorter than this many pixels (0 = never).
        var upscaleBelowCharacterHeight: Double = 0
        /// Upscale 2× when the longer side is under this many pixels (0 = never).
        var upscaleBelowLongerSide: Int = 0
        /// Straighten pages skewed by more than this many degrees (0 = never).
        var deskewAbove: Double = 0
        /// Convert colour pages to grey before tesseract.
        var grey = false
        /// Paint a dark frame around the page (scanner lid, table under a photographed
        /// receipt) white: it pulls tesseract's global threshold away from the text.
        var removeDarkBorder = false
        var borderOpening = 15
        /// The resolution assumed for files that state less than `assumeBelow` dpi (0 = keep).
        var assumedResolution = 0
        var assumeBelow = 0

        static let standard: Options = {
            var options = Options()
            // Experiment switches: ASSAY_OCR_PREP="charheight=12,longside=1600,deskew=0.3,grey"
            if let spec = ProcessInfo.processInfo.environment["ASSAY_OCR_PREP"] {
                for item in spec.split(separator: ",") {
                    let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
                    switch parts[0] {
                    case "charheight": options.upscaleBelowCharacterHeight = Double(parts[1]) ?? 0
                    case "longside": options.upscaleBelowLongerSide = Int(parts[1]) ?? 0
                    case "deskew": options.deskewAbove = Double(parts[1]) ?? 0
                    case "grey": options.grey = true
                    case "border":
                        options.removeDarkBorder = true
                        if parts.count > 1 { options.borderOpening = Int(parts[1]) ?? 15 }
                    case "dpi":
                        let values = parts[1].split(separator: ":").compactMap { Int($0) }
                        options.assumedResolution = values.first ?? 0
                        options.assumeBelow = values.count > 1 ? values[1] : Int.max
                    default: break
                    }
                }
            }
            return options
        }()
    }

    struct Prepared {
        let image: Image
        /// Pixels of `image` per pixel of the original.
        let scale: Double
        /// Degrees the page was turned to straighten it.
        let deskewAngle: Double
        /// The resolution tesseract should assume (nil: the file's own).
        var resolution: Int? = nil

        /// The same page turned by quarter turns (for a page that was not upright).
        func turned(clockwiseQuarters quarters: Int) -> Prepared? {
            guard let pix = pixRotateOrth(image.pix, Int32(quarters)) else { return nil }
            return Prepared(image: Image(owning: pix), scale: scale, deskewAngle: deskewAngle, resolution: resolution)
        }
    }

    static func prepare(_ original: Image, options: Options = .standard) throws -> Prepared {
        guard let copy = pixClone(original.pix) else { throw DocumentProblem("ocr_failed", "cannot copy the image") }
        let image = Image(owning: copy)
        if options.grey, image.depth == 32 {
            _ = image.apply { pixConvertRGBToLuminance($0) }
        }
        var border = 0.0
        if options.removeDarkBorder { border = removeDarkBorder(image, opening: options.borderOpening) }
        var angle = 0.0
        if options.deskewAbove > 0, let skew = skewAngle(image), abs(skew) > options.deskewAbove {
            if image.apply({ pixRotate($0, Float(skew * .pi / 180), Int32(L_ROTATE_AREA_MAP),
                                       Int32(L_BRING_IN_WHITE), 0, 0) }) {
                angle = skew
            }
        }
        var scale = 1.0
        let longer = max(image.width, image.height)
        var upscale = options.upscaleBelowLongerSide > 0 && longer < options.upscaleBelowLongerSide
        if !upscale, options.upscaleBelowCharacterHeight > 0, let height = characterHeight(image) {
            upscale = height < options.upscaleBelowCharacterHeight
        }
        if upscale, image.apply({ pixScale($0, 2, 2) }) { scale = 2 }
        var resolution: Int?
        if options.assumedResolution > 0, original.resolution < options.assumeBelow {
            resolution = Int(Double(options.assumedResolution) * scale)
        }
        if ProcessInfo.processInfo.environment["ASSAY_OCR_DEBUG"] == "2" {
            FileHandle.standardError.write(Data("prep: \(image.width)x\(image.height) charheight=\(characterHeight(image).map { String($0) } ?? "-") skew=\(skewAngle(image).map { String($0) } ?? "-") scale=\(scale) angle=\(angle) border=\(border) res=\(original.resolution)\n".utf8))
        }
        return Prepared(image: image, scale: scale, deskewAngle: angle, resolution: resolution)
    }

    /// Paints the dark regions that touch the image's edge white, unless they cover most
    /// of the page (white text on a dark background). Returns the share of the page painted.
    static func removeDarkBorder(_ image: Image, opening: Int) -> Double {
        guard let grey = pixConvertTo8(image.pix, 0) else { return 0 }
        let greyImage = Image(owning: grey)
        guard let dark = pixThresholdToBinary(grey, 60) else { return 0 }
        let darkImage = Image(owning: dark)
        guard let touching = pixExtractBorderConnComps(darkImage.pix, 4) else { return 0 }
        let touchingImage = Image(owning: touching)
        // Only the thick part: text that touches the frame stays (its strokes are thin).
        guard let frame = opening > 1 ? pixOpenBrick(nil, touchingImage.pix, Int32(opening), Int32(opening)) : pixClone(touchingImage.pix) else { return 0 }
        let frameImage = Image(owning: frame)
        var count: Int32 = 0
        guard pixCountPixels(frameImage.pix, &count, nil) == 0 else { return 0 }
        let share = Double(count) / Double(image.width * image.height)
        guard share > 0.001, share < 0.5 else { return share == 0 ? 0 : -share }
        // Paint in the page's own depth where that is simple, else on the grey copy.
        let paintable = (image.depth == 32 || image.depth == 8) && pixGetColormap(image.pix) == nil
        _ = image.apply { pix in
            guard let target = paintable ? pixCopy(nil, pix) : pixClone(greyImage.pix) else { return nil }
            pixPaintThroughMask(target, frameImage.pix, 0, 0, paintable && image.depth == 32 ? 0xFFFF_FF00 : 255)
            return target
        }
        return share
    }

    /// A black-and-white copy (fixed threshold: enough to measure shapes, not to OCR).
    private static func binary(_ image: Image) -> Image? {
        guard let pix = pixConvertTo1(image.pix, 130) else { return nil }
        return Image(owning: pix)
    }

    /// The page's skew in degrees (positive: turn clockwise… as leptonica measures it), when
    /// leptonica is confident about it.
    static func skewAngle(_ image: Image) -> Double? {
        guard let binary = binary(image) else { return nil }
        var angle: Float = 0, confidence: Float = 0
        guard pixFindSkew(binary.pix, &angle, &confidence) == 0, confidence >= 3 else { return nil }
        return Double(angle)
    }

    /// The median height of connected components shaped like characters: how tall the
    /// text is in pixels, without running OCR.
    static func characterHeight(_ image: Image) -> Double? {
        guard let binary = binary(image) else { return nil }
        guard let boxes = pixConnCompBB(binary.pix, 8) else { return nil }
        defer {
            var pointer: UnsafeMutablePointer<BOXA>? = boxes
            boxaDestroy(&pointer)
        }
        var heights: [Int32] = []
        for index in 0..<boxaGetCount(boxes) {
            var x: Int32 = 0, y: Int32 = 0, w: Int32 = 0, h: Int32 = 0
            boxaGetBoxGeometry(boxes, index, &x, &y, &w, &h)
            // Character-like: not specks, not rules or pictures.
            if h >= 4, h <= 200, w >= 2, w <= 3 * h { heights.append(h) }
        }
        guard heights.count >= 20 else { return nil }
        heights.sort()
        return Double(heights[heights.count / 2])
    }
}
