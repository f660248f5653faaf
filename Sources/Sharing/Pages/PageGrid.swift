/// Where a page's widgets go and the size their charts are drawn at.
///
/// The dashboard page is a 12-column CSS grid at most 1,200 px wide, so a widget `w` columns
/// wide is about `w × 100` px, less its padding, and `h` rows are about `h × 80` px, less the
/// title. Charts are drawn at that size and the style sheet lets them shrink (`max-width:
/// 100%; height: auto`) on narrower screens. An embed knows its size: one widget is drawn at
/// the frame's size less its title (and the filter bar and downloads when shown); several are
/// laid out in the same grid scaled to the frame's width. The numbers here and the heights
/// in `static/share.css` (`.layout-embed`) go together.
struct PageGrid {
    struct Cell {
        let widget: PageWidget
        /// Grid column the widget starts at, 0–11, and the columns and rows it spans.
        let column: Int
        let span: Int
        let rows: Int
        let chartWidth: Int
        let chartHeight: Int
    }

    static let columns = 12
    static let maxRows = 40
    static let minChartSide = 160
    /// An embed's frame size is clamped to this range (pixels).
    static let embedSides = 120...4096
    /// Heights of what an embed shows around a single chart (`share.css`).
    static let embedTitleHeight = 28
    static let embedFilterHeight = 44
    static let embedDownloadsHeight = 32

    /// The widgets in reading order, by row then column, each with its place and chart size.
    static func cells(_ widgets: [PageWidget], layout: DashboardPageModel.Layout, hasFilters: Bool) -> [Cell] {
        let ordered = widgets.enumerated().sorted { a, b in
            (a.element.y, a.element.x, a.offset) < (b.element.y, b.element.x, b.offset)
        }.map(\.element)
        return ordered.map { widget in
            // As the dashboard exports read a place (`DashboardExport.place`): the column kept,
            // the width cut to the grid.
            let column = min(max(widget.x, 0), columns - 1)
            let span = min(max(widget.w, 1), columns - column)
            let rows = min(max(widget.h, 1), maxRows)
            let size: (width: Int, height: Int)
            switch layout {
            case .dashboard:
                size = (max(span * 100 - 24, minChartSide), max(rows * 80 - 56, minChartSide))
            case .embed(let width, let height) where ordered.count == 1:
                let frameWidth = clamp(width, to: embedSides), frameHeight = clamp(height, to: embedSides)
                let chrome = embedTitleHeight + (hasFilters ? embedFilterHeight : 0) + (widget.downloads.isEmpty ? 0 : embedDownloadsHeight)
                size = (frameWidth, max(frameHeight - chrome, 80))
            case .embed(let width, _):
                let unit = Double(clamp(width, to: embedSides)) / Double(columns)
                size = (max(Int(Double(span) * unit) - 24, 120), max(rows * 80 - 56, minChartSide))
            }
            return Cell(widget: widget, column: column, span: span, rows: rows, chartWidth: size.width, chartHeight: size.height)
        }
    }

    static func clamp(_ value: Int, to range: ClosedRange<Int>) -> Int { min(max(value, range.lowerBound), range.upperBound) }
}
