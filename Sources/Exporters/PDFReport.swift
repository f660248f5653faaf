import CPangoCairo
import Foundation

public struct PDFOptions: Sendable {
    public enum PageSize: String, Sendable, CaseIterable { case a4, letter }
    /// `auto` turns a table's pages landscape when its columns want more than a portrait
    /// page's width.
    public enum Orientation: String, Sendable, CaseIterable { case auto, portrait, landscape }
    public var pageSize = PageSize.a4
    public var orientation = Orientation.auto
    /// Table body size in points; headings and the footer scale from it.
    public var fontSize = 8.0
    public init() {}
}

/// A PDF report built from sections — titles, key-value blocks, tables — written page by page.
///
/// Cairo's PDF surface writes each page's content when the page is shown, and a table keeps
/// only its first `PDFTableLayout.sampleRows` rows (to size the columns), so memory stays
/// bounded however many rows stream through. Titles and key-value blocks wait until the next
/// table (or `close`) has chosen the page orientation, so they land on the same page as the
/// table they introduce.
///
/// ```swift
/// let report = try PDFReport(path: path, options: options)
/// report.title(table.title)
/// report.keyValues(table.metadata)
/// try report.table(table, rows: rows, progress: progress)
/// try report.close()
/// ```
public final class PDFReport {
    private let surface: OpaquePointer
    /// The output file, written by cairo through a callback (see `init`); nil once closed.
    private var file: UnsafeMutablePointer<FILE>?
    fileprivate let cr: OpaquePointer
    /// Titles, key-value blocks and figures, drawn on `cr`.
    private let canvas: ReportCanvas
    private var context: OpaquePointer { canvas.context }
    private var fonts: PDFFonts { canvas.fonts }
    private let options: PDFOptions
    private let footer: PDFTextBox
    /// The open page's plain ASCII table text, drawn when the page ends.
    private let batch: PDFGlyphBatch?
    private var pending: [ReportCanvas.Block] = []
    private var closed = false

    /// The size the surface has now (set per page) and whether a page is being drawn.
    fileprivate private(set) var page: PDFPage
    private var pageNumber = 0
    /// The number of pages the finished report has, when known (from an earlier run of the
    /// same report), for "Page N of M".
    private let totalPages: Int?
    /// Whether a cell on the open page was cut to fit, so the footer says so.
    fileprivate var pageShortened = false
    private var pageOpen = false
    /// Where the next section starts on the open page, in points from the top.
    fileprivate var y = 0.0
    private var titled = false

    /// Opens the file; throws `ExportError` if it cannot be created.
    ///
    /// The report opens the file itself and hands cairo a write callback: cairo 1.16 does not
    /// turn a failed write into a surface error, so a full disk would end in a truncated PDF
    /// and success. Here the file's error flag is checked after every page and at the end.
    ///
    /// A report has "Page N of M" in its footer when `totalPages` is given: the pages are
    /// written as they fill, so the count comes from drawing the same report once before
    /// (into `/dev/null`) and reading `pageCount`.
    public init(path: String, options: PDFOptions, totalPages: Int? = nil) throws {
        self.options = options
        self.totalPages = totalPages
        page = PDFPage(options.pageSize, landscape: options.orientation == .landscape)
        guard let file = fopen(path, "wb") else {
            throw ExportError("cannot create the PDF at \(path): \(String(cString: strerror(errno)))")
        }
        let surface = cairo_pdf_surface_create_for_stream(writeToFile, file, page.width, page.height)
        // On failure cairo returns an inert surface carrying the error, not nil.
        let status = cairo_surface_status(surface)
        guard let surface, status == CAIRO_STATUS_SUCCESS else {
            cairo_surface_destroy(surface)
            fclose(file)
            throw ExportError("cannot create the PDF at \(path): \(String(cString: cairo_status_to_string(status)))")
        }
        self.surface = surface
        self.file = file
        cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "Assay")
        cr = cairo_create(surface)
        let canvas = ReportCanvas(cr: cr, fontSize: options.fontSize, left: PDFPage.margin)
        self.canvas = canvas
        batch = PDFASCIIFont(context: canvas.context, font: canvas.fonts.body).map(PDFGlyphBatch.init)
        footer = PDFTextBox(context: canvas.context, font: canvas.fonts.small, width: nil)
    }

    /// Without `close` the PDF is still finished (destroying the surface writes the rest),
    /// but write errors go unnoticed.
    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
        if let file { fclose(file) }
    }

    /// The pages begun so far; after `close`, the report's page count.
    public var pageCount: Int { pageNumber }

    /// Says what a "…" in a cell means, on the pages that have one.
    static let shortenedNote = "… marks a value shortened to fit; CSV, JSON and Excel exports have it in full"

    // MARK: - Sections

    /// A large heading; the first one also becomes the PDF's title.
    public func title(_ text: String) {
        if !titled {
            cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, text)
            titled = true
        }
        pending.append(.title(text))
    }

    /// Labels in bold with their values beside them, e.g. where a table came from.
    public func keyValues(_ items: [(label: String, value: String)]) {
        pending.append(.keyValues(items))
    }

    /// A smaller heading, e.g. above one widget's data.
    public func heading(_ text: String) {
        pending.append(.heading(text))
    }

    /// Figures side by side in a band `height` points tall across a page of this size — a
    /// row of a dashboard's grid — kept on one page with the blocks pending above it. Each
    /// figure's box is relative to the band's top-left corner (the left margin).
    func band(height: Double, on page: PDFPage, figures: [(figure: ReportCanvas.Figure, box: PDFBox)]) throws {
        try drawPending(on: page, keepWith: height)
        try makeRoom(height, on: page)
        for (figure, box) in figures {
            try canvas.draw(figure, x: PDFPage.margin + box.x, y: y + box.y, width: box.width, height: box.height)
        }
        y += height
    }

    /// A table paginated with its header repeated at the top of every page; returns rows written.
    ///
    /// Column widths come from the header and the first `PDFTableLayout.sampleRows` rows;
    /// later, longer values wrap (at most `PDFTableLayout.maxCellLines` lines, then "…").
    @discardableResult
    public func table(_ table: ExportTable, rows: RowStream, progress: ExportProgress?) throws -> Int {
        var sample: [[String?]] = []
        var writer: PDFTableWriter?
        try rows { row in
            if let writer {
                try writer.write(row)
            } else {
                sample.append(row)
                if sample.count == PDFTableLayout.sampleRows {
                    writer = try startTable(table, sample: sample, progress: progress)
                    sample = []
                }
            }
        }
        let finished = try writer ?? startTable(table, sample: sample, progress: progress)
        y += sectionGap
        progress?(finished.written)
        return finished.written
    }

    /// Draws what is still pending, finishes the last page and the file; throws `ExportError`
    /// if anything could not be written (a full disk, an unwritable path).
    public func close() throws {
        guard !closed else { return }
        closed = true
        if !pending.isEmpty || !pageOpen {
            let page = pageOpen ? page : PDFPage(options.pageSize, landscape: options.orientation == .landscape)
            try drawPending(on: page, keepWith: 0)
        }
        try endPage()
        cairo_surface_finish(surface)
        let flushed = fflush(file) == 0
        defer {
            fclose(file)
            file = nil
        }
        try checkStatus(flushed: flushed)
    }

    // MARK: - Tables

    /// Sizes the columns from `sample`, picks the orientation, draws what is pending and the
    /// header, then the sample rows.
    private func startTable(_ table: ExportTable, sample: [[String?]],
                            progress: ExportProgress?) throws -> PDFTableWriter {
        let natural = PDFTableLayout.naturalWidths(columns: table.columns, sample: sample, context: context, fonts: fonts)
        let page = self.page(forWidth: natural.reduce(0, +))
        let layout = PDFTableLayout(columns: table.columns, widths: PDFTableLayout.fit(natural, into: page.contentWidth),
                                    context: context, fonts: fonts, batch: batch)
        // The header is kept with the first row, so no page ends in a lone header.
        let firstRow = layout.headerHeight + (sample.first.map(layout.setRow) ?? 0)
        if PDFTableLayout.hasDoubtfulCells(table.notes) { pending.append(.legend) }
        try drawPending(on: page, keepWith: firstRow)
        try makeRoom(firstRow, on: page)
        let writer = PDFTableWriter(report: self, layout: layout, notes: table.notes, progress: progress)
        writer.drawHeader()
        for row in sample { try writer.write(row) }
        return writer
    }

    /// The page a table of this natural width goes on.
    private func page(forWidth width: Double) -> PDFPage {
        let portrait = PDFPage(options.pageSize, landscape: false)
        switch options.orientation {
        case .portrait: return portrait
        case .landscape: return PDFPage(options.pageSize, landscape: true)
        case .auto: return width > portrait.contentWidth ? PDFPage(options.pageSize, landscape: true) : portrait
        }
    }

    // MARK: - Pages

    private let sectionGap = ReportCanvas.sectionGap

    /// Makes sure `height` points fit below `y` on a page of this size, starting a new page
    /// if they do not (or the size differs).
    private func makeRoom(_ height: Double, on page: PDFPage) throws {
        if pageOpen && (page != self.page || y + height > page.bottom) { try endPage() }
        if !pageOpen { begin(page) }
    }

    /// Ends the page and starts another of the same size.
    fileprivate func breakPage() throws {
        try endPage()
        begin(page)
    }

    /// Starts a page; cairo takes a new size only before anything is drawn on the page.
    private func begin(_ page: PDFPage) {
        if page != self.page {
            cairo_pdf_surface_set_size(surface, page.width, page.height)
            self.page = page
        }
        pageNumber += 1
        pageOpen = true
        y = PDFPage.margin
    }

    /// Draws the footer and shows the page, which writes it out; stops at the first write
    /// error rather than rendering the rest of a large table for nothing.
    private func endPage() throws {
        guard pageOpen else { return }
        batch?.flush(cr)
        cairo_set_source_rgb(cr, 0.35, 0.35, 0.35)
        if pageShortened {
            footer.setText(Self.shortenedNote)
            footer.draw(cr, x: PDFPage.margin, y: page.height - PDFPage.margin - footer.size.height)
            pageShortened = false
        }
        footer.setText(totalPages.map { "Page \(pageNumber) of \(max($0, pageNumber))" } ?? "Page \(pageNumber)")
        let size = footer.size
        footer.draw(cr, x: page.width - PDFPage.margin - size.width, y: page.height - PDFPage.margin - size.height)
        cairo_show_page(cr)
        pageOpen = false
        try checkStatus()
    }

    /// Throws if cairo failed or a write to the file did (`flushed: false` for a failed flush).
    private func checkStatus(flushed: Bool = true) throws {
        let status = cairo_surface_status(surface)
        guard status == CAIRO_STATUS_SUCCESS else {
            throw ExportError("writing the PDF failed: \(String(cString: cairo_status_to_string(status)))")
        }
        guard flushed, let file, ferror(file) == 0 else {
            throw ExportError("writing the PDF failed: \(String(cString: strerror(errno)))")
        }
    }

    // MARK: - Titles and key-value blocks

    /// Draws the pending blocks, kept together with `following` points of what comes next
    /// when they all fit on one page.
    private func drawPending(on page: PDFPage, keepWith following: Double) throws {
        let pieces = pending.flatMap { canvas.items(for: $0, width: page.contentWidth) }
        pending = []
        let together = pieces.reduce(following) { $0 + $1.height }
        try makeRoom(min(together, page.contentHeight), on: page)
        for item in pieces {
            try makeRoom(item.height, on: page)
            item.draw(y)
            y += item.height
        }
    }
}

/// cairo's write callback for a stream surface whose closure is an open `FILE *`: a short
/// write is an error cairo keeps, so it is seen rather than ending in a truncated file.
let writeToFile: cairo_write_func_t = { file, data, length in
    guard let file, let data else { return CAIRO_STATUS_WRITE_ERROR }
    let written = fwrite(data, 1, Int(length), file.assumingMemoryBound(to: FILE.self))
    return written == Int(length) ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR
}

/// A rectangle in points, from the top-left.
public struct PDFBox: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var width: Double
    public var height: Double

    public init(x: Double, y: Double, width: Double, height: Double) {
        self.x = x
        self.y = y
        self.width = width
        self.height = height
    }
}

/// A page size in points, with the margins every page keeps.
struct PDFPage: Equatable {
    static let margin = 36.0
    /// Room kept above the bottom margin for the page number.
    static let footerSpace = 14.0

    let width: Double
    let height: Double

    init(_ size: PDFOptions.PageSize, landscape: Bool) {
        let (short, long) = size == .a4 ? (595.276, 841.89) : (612.0, 792.0)
        (width, height) = landscape ? (long, short) : (short, long)
    }

    var contentWidth: Double { width - 2 * PDFPage.margin }
    /// The lowest point content may reach.
    var bottom: Double { height - PDFPage.margin - PDFPage.footerSpace }
    /// The most a page can hold between its margins.
    var contentHeight: Double { bottom - PDFPage.margin }
}

/// Streams one table's rows onto the report's pages, repeating the header after each break.
private final class PDFTableWriter {
    private let report: PDFReport
    private let layout: PDFTableLayout
    private let notes: [Int: [Int: CellNote]]
    private let progress: ExportProgress?
    private(set) var written = 0

    init(report: PDFReport, layout: PDFTableLayout, notes: [Int: [Int: CellNote]], progress: ExportProgress?) {
        self.report = report
        self.layout = layout
        self.notes = notes
        self.progress = progress
    }

    func drawHeader() {
        layout.drawHeader(report.cr, x: PDFPage.margin, y: report.y)
        report.y += layout.headerHeight
    }

    func write(_ row: [String?]) throws {
        let height = layout.setRow(row)
        if report.y + height > report.page.bottom {
            try report.breakPage()
            drawHeader()
        }
        layout.drawRow(report.cr, x: PDFPage.margin, y: report.y, height: height,
                       striped: written % 2 == 1, notes: notes[written])
        if layout.rowShortened { report.pageShortened = true }
        report.y += height
        written += 1
        if written % 1000 == 0 { progress?(written) }
    }
}
