/// A dashboard's 12-column grid laid out on paper: widgets grouped into bands (runs of grid
/// rows that widgets span together, so no widget is cut by a page break), each band scaled
/// to the page width and, when taller than a page, squeezed to fit one.
///
/// Pure geometry, in points; the PDF and the PNG draw from the same bands.
public struct DashboardLayout: Sendable {
    /// A widget's place in the grid, as stored (`layout`: x 0–11, w 1–12, y, h in rows).
    public struct Place: Equatable, Sendable {
        public let x: Int
        public let y: Int
        public let w: Int
        public let h: Int

        public init(x: Int, y: Int, w: Int, h: Int) {
            self.x = x
            self.y = y
            self.w = w
            self.h = h
        }
    }

    /// One widget's box within its band (relative to the band's top-left corner).
    public struct Cell: Equatable, Sendable {
        public let widget: Int
        public let box: PDFBox
    }

    public struct Band: Equatable, Sendable {
        public let height: Double
        public let cells: [Cell]
    }

    public static let columns = 12
    /// A grid row's height as a share of a column's width: a half-width widget four rows tall
    /// is then 16:9, the shape charts are drawn in on the web (640 × 360).
    static let rowAspect = 27.0 / 32.0
    /// Space between widgets, in points.
    public static let gap = 8.0

    public let bands: [Band]

    /// - Parameters:
    ///   - places: each widget's place, in the dashboard's order (indices name the widgets).
    ///   - width: the width the 12 columns fill.
    ///   - maxHeight: the tallest a band may be (a page's content height).
    public init(_ places: [Place], width: Double, maxHeight: Double) {
        let column = width / Double(Self.columns)
        let row = column * Self.rowAspect
        var bands: [Band] = []
        for group in Self.groups(places) {
            let top = group.map { places[$0].y }.min() ?? 0
            let rows = (group.map { places[$0].y + places[$0].h }.max() ?? top) - top
            let natural = Double(rows) * row
            // A band taller than a page keeps its width and gives up height.
            let scale = natural > maxHeight ? maxHeight / natural : 1
            let cells = group.map { index in
                let place = places[index]
                return Cell(widget: index, box: PDFBox(
                    x: Double(place.x) * column + Self.gap / 2,
                    y: Double(place.y - top) * row * scale + Self.gap / 2,
                    width: max(Double(place.w) * column - Self.gap, 1),
                    height: max(Double(place.h) * row * scale - Self.gap, 1)))
            }
            bands.append(Band(height: natural * scale, cells: cells))
        }
        self.bands = bands
    }

    /// Widget indices grouped into bands: sorted by row then column, a widget joins the band
    /// while it starts above the band's lowest bottom edge.
    static func groups(_ places: [Place]) -> [[Int]] {
        let order = places.indices.sorted { (places[$0].y, places[$0].x, $0) < (places[$1].y, places[$1].x, $1) }
        var groups: [[Int]] = []
        var bottom = Int.min
        for index in order {
            let place = places[index]
            if groups.isEmpty || place.y >= bottom {
                groups.append([index])
                bottom = place.y + place.h
            } else {
                groups[groups.count - 1].append(index)
                bottom = max(bottom, place.y + place.h)
            }
        }
        return groups
    }
}
