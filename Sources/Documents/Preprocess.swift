import CTesseract
import Foundation

/// How an image page is made ready for tesseract. Each step is kept only where it
/// measurably helped on the OCR benchmark (`scripts/bench-ocr`: scribe page images, SROIE
/// receipt photos) and costs little next to the recognition itself:
///
/// - a dark frame around the page (scanner lid, the table under a photographed receipt)
///   is painted white: with it, tesseract's global (Otsu) threshold falls between the
///   frame and the paper and faint print vanishes (SROIE CER 0.254 → 0.213; with deskew
///   0.208, against 0.254 for the plain `tesseract` command);
/// - images under half a megapixel are upscaled 2× (a scribe table: CER 0.69 → 0.30).
///   Upscaling everything under 1600 px (the old rule) gained SROIE receipts almost
///   nothing (0.219 → 0.216 on those) for a third more time on them;
/// - pages skewed by more than half a degree are straightened (on the skewed SROIE
///   receipts CER 0.190 → 0.157).
///
/// Pages over 12 MP arrive here already reduced (`ImagePages`): SROIE's 600 dpi receipt
/// scans read at half size gave the `tesseract` command CER 0.41 → 0.16 and took a third
/// of the time (a 40 % size: 0.16 too; 30 %: 0.18).
///
/// Pages whose words turn out far smaller or larger than tesseract reads best are read
/// again at that size after the first reading (`OCREngine.readAtTextSize`).
///
/// Measured and left out: upscaling by estimated character height (worse; again with the
/// most common height of the page's connected components, scaled to 22–36 px before
/// reading: SROIE CER 0.209 → 0.244, broken thermal print misjudged as tiny text), assuming
/// 300 dpi for files that state a screen resolution (mixed), tesseract's Sauvola and
/// adaptive Otsu thresholding (mixed: both lose other receipts). Orientation is handled
/// after a first reading (`OCREngine.recognize`), so upright pages pay nothing for it.
enum PagePreparation {
    struct Options: Sendable {
        /// Upscale 2× images with fewer pixels than this (0 = never): their text is small.
        var upscaleBelowPixels = 500_000
        /// Paint dark regions touching the image's edge white.
        var removeDarkBorder = true
        /// Straighten pages skewed by more than this many degrees (0 = never).
        var deskewAbove = 0.5

        static let standard = Options()
    }

    struct Prepared {
        let image: Image
        /// Pixels of `image` per pixel of the original.
        let scale: Double

        /// The same page `factor` times the size (for print too small or too large to read well).
        func scaled(by factor: Double) -> Prepared? {
            guard let pix = pixScale(image.pix, Float(factor), Float(factor)) else { return nil }
            return Prepared(image: Image(owning: pix), scale: scale * factor)
        }

        /// The same page turned by quarter turns (for a page that was not upright).
        func turned(clockwiseQuarters quarters: Int) -> Prepared? {
            guard let pix = pixRotateOrth(image.pix, Int32(quarters)) else { return nil }
            return Prepared(image: Image(owning: pix), scale: scale)
        }
    }

    /// `scale`: the original's pixels per pixel of the file (see `ImagePages`).
    static func prepare(_ original: Image, scale originalScale: Double = 1, options: Options = .standard) throws -> Prepared {
        guard let copy = pixClone(original.pix) else { throw DocumentProblem("ocr_failed", "cannot copy the image") }
        let image = Image(owning: copy)
        if options.removeDarkBorder { removeDarkBorder(image) }
        if options.deskewAbove > 0, let skew = skewAngle(image), abs(skew) > options.deskewAbove {
            _ = image.apply {
                pixRotate($0, Float(skew * .pi / 180), Int32(L_ROTATE_AREA_MAP), Int32(L_BRING_IN_WHITE), 0, 0)
            }
        }
        var scale = originalScale
        if image.width * image.height < options.upscaleBelowPixels, image.apply({ pixScale($0, 2, 2) }) {
            scale *= 2
        }
        return Prepared(image: image, scale: scale)
    }

    /// Paints the dark regions that touch the image's edge white (only their thick parts:
    /// print touching the frame keeps its thin strokes), unless they cover half the page
    /// or more (light text on a dark background). Returns the share of the page painted.
    @discardableResult
    static func removeDarkBorder(_ image: Image) -> Double {
        // Most pages have light edges: a look at the outermost pixels spares them the rest.
        guard darkEdgeShare(image) > 0.005 else { return 0 }
        guard let grey = pixConvertTo8(image.pix, 0) else { return 0 }
        let greyImage = Image(owning: grey)
        guard let dark = pixThresholdToBinary(grey, 60) else { return 0 }
        let darkImage = Image(owning: dark)
        guard let touching = pixExtractBorderConnComps(darkImage.pix, 4) else { return 0 }
        let touchingImage = Image(owning: touching)
        guard let frame = pixOpenBrick(nil, touchingImage.pix, 5, 5) else { return 0 }
        let frameImage = Image(owning: frame)
        var count: Int32 = 0
        guard pixCountPixels(frameImage.pix, &count, nil) == 0 else { return 0 }
        let share = Double(count) / Double(image.width * image.height)
        guard share > 0.001, share < 0.5 else { return 0 }
        // Paint in the page's own depth where that is simple, else on the grey copy.
        let paintable = (image.depth == 32 || image.depth == 8) && pixGetColormap(image.pix) == nil
        let white: UInt32 = paintable && image.depth == 32 ? 0xFFFF_FF00 : 255
        let painted = image.apply { pix in
            guard let target = paintable ? pixCopy(nil, pix) : pixClone(greyImage.pix) else { return nil }
            pixPaintThroughMask(target, frameImage.pix, 0, 0, white)
            return target
        }
        return painted ? share : 0
    }

    /// The share of the image's outermost pixels that are dark (grey level under 60).
    static func darkEdgeShare(_ image: Image) -> Double {
        let (width, height, depth) = (Int32(image.width), Int32(image.height), image.depth)
        guard width > 2, height > 2 else { return 0 }
        // Colour-mapped and unusual depths: say "dark" so that the full check runs.
        guard pixGetColormap(image.pix) == nil, [1, 8, 32].contains(depth) else { return 1 }
        var dark = 0, total = 0
        func visit(_ x: Int32, _ y: Int32) {
            var value: UInt32 = 0
            pixGetPixel(image.pix, x, y, &value)
            let level: UInt32
            switch depth {
            case 1: level = value == 1 ? 0 : 255
            case 8: level = value
            default: level = ((value >> 24) * 299 + ((value >> 16) & 0xFF) * 587 + ((value >> 8) & 0xFF) * 114) / 1000
            }
            total += 1
            if level < 60 { dark += 1 }
        }
        for x in 0..<width {
            visit(x, 0)
            visit(x, height - 1)
        }
        for y in 1..<(height - 1) {
            visit(0, y)
            visit(width - 1, y)
        }
        return Double(dark) / Double(total)
    }

    /// The page as grey with its contrast stretched (the darkest and the lightest 1 % of its
    /// pixels clipped) and its dark strokes thickened by a pixel: faded thermal print and
    /// dot-matrix characters whose dots do not touch, which tesseract's global threshold loses
    /// against a page's few dark specks. The geometry is the page's own. Used as a second
    /// reading of pages that read poorly (`OCREngine.readFaintPrint`): done to every page (the
    /// same steps applied to the SROIE receipts before reading), fields fell 0.670 → 0.589.
    static func strengthenedFaintPrint(_ image: Image) -> Image? {
        guard let greyPix = pixConvertTo8(image.pix, 0) else { return nil }
        let grey = Image(owning: greyPix)
        var dark: UInt32 = 0, light: UInt32 = 0
        guard pixGetRankValue(grey.pix, 2, 0.01, &dark) == 0, pixGetRankValue(grey.pix, 2, 0.99, &light) == 0,
              light > dark + 16,
              let stretched = pixGammaTRC(nil, grey.pix, 1, Int32(dark), Int32(light)) else { return nil }
        let stretchedImage = Image(owning: stretched)
        guard let thick = pixErodeGray(stretchedImage.pix, 3, 3) else { return nil }
        return Image(owning: thick)
    }

    /// The page's skew in degrees as leptonica measures it (the turn that straightens
    /// it), when leptonica is confident about it.
    static func skewAngle(_ image: Image) -> Double? {
        guard let binary = pixConvertTo1(image.pix, 130) else { return nil }
        let binaryImage = Image(owning: binary)
        var angle: Float = 0, confidence: Float = 0
        guard pixFindSkew(binaryImage.pix, &angle, &confidence) == 0, confidence >= 3 else { return nil }
        return Double(angle)
    }
}
