import Foundation

/// The workbook-level parts of an .xlsx that say how to read its sheets: the sheets in tab
/// order (`xl/workbook.xml`), where each is stored (`xl/_rels/workbook.xml.rels`), the shared
/// strings (`xl/sharedStrings.xml`) and which cell styles show dates (`xl/styles.xml`).
enum WorkbookParts {
    static let workbook = "xl/workbook.xml"
    static let relationships = "xl/_rels/workbook.xml.rels"

    struct SheetEntry {
        let name: String
        let relationship: String
    }

    /// The sheets in tab order and whether dates count from 1904.
    static func sheets(_ reader: XMLStreamReader) throws -> (sheets: [SheetEntry], date1904: Bool) {
        var sheets: [SheetEntry] = []
        var date1904 = false
        while try reader.next() {
            if reader.isElement("workbookPr") {
                date1904 = ["1", "true"].contains(reader.attribute("date1904") ?? "0")
            } else if reader.isElement("sheet") {
                let attributes = reader.attributes()
                // `r:id` (the relationships namespace's `id`; `name` and `sheetId` have none).
                guard let name = attributes["name"], let id = attributes["id"] else {
                    throw DocumentProblem("corrupt_document", "the XLSX workbook lists a sheet without a name or relationship id")
                }
                sheets.append(SheetEntry(name: name, relationship: id))
            }
        }
        return (sheets, date1904)
    }

    struct Relationship {
        let type: String
        let target: String
    }

    /// The workbook's relationships by id, targets resolved to part names (`xl/worksheets/sheet1.xml`).
    static func relationships(_ reader: XMLStreamReader) throws -> [String: Relationship] {
        var relationships: [String: Relationship] = [:]
        while try reader.next() {
            guard reader.isElement("Relationship") else { continue }
            let attributes = reader.attributes()
            guard let id = attributes["Id"], let type = attributes["Type"], let target = attributes["Target"],
                  attributes["TargetMode"] != "External" else { continue }
            relationships[id] = Relationship(type: type, target: resolve(target, from: "xl"))
        }
        return relationships
    }

    /// A relationship target as a part name: absolute (`/xl/…`) or relative to `folder`, with
    /// `.` and `..` segments applied.
    static func resolve(_ target: String, from folder: String) -> String {
        let path = target.hasPrefix("/") ? String(target.dropFirst()) : "\(folder)/\(target)"
        var segments: [Substring] = []
        for segment in path.split(separator: "/") {
            if segment == ".." { _ = segments.popLast() } else if segment != "." { segments.append(segment) }
        }
        return segments.joined(separator: "/")
    }

    /// Every shared string, rich text runs joined; phonetic guides (`<rPh>`) left out, as
    /// Excel shows the text without them.
    static func sharedStrings(_ reader: XMLStreamReader) throws -> [String] {
        var strings: [String] = []
        while try reader.next() {
            if reader.isElement("si") { strings.append(try richText(reader)) }
        }
        return strings
    }

    /// The text of a string item (`<si>` or an inline `<is>`) the reader is on: its `<t>`
    /// and the `<t>` of its runs (`<r>`), not those of phonetic runs (`<rPh>`).
    static func richText(_ reader: XMLStreamReader) throws -> String {
        guard !reader.isEmptyElement else { return "" }
        let level = reader.depth
        var text = ""
        while try reader.next() {
            if reader.isElement("t") {
                text += try reader.text()
            } else if reader.isElement("rPh") {
                try reader.skipElement()
            } else if reader.nodeType == .endElement, reader.depth == level {
                break
            }
        }
        return text
    }

    /// What each cell style (`s`, an index into `<cellXfs>`) shows numbers as.
    static func styles(_ reader: XMLStreamReader) throws -> [NumberFormatKind] {
        var codes: [Int: String] = [:]
        var formatIDs: [Int] = []
        var cellFormatsDepth: Int32?
        while try reader.next() {
            if reader.isElement("numFmt"), let id = reader.attribute("numFmtId").flatMap(Int.init),
               let code = reader.attribute("formatCode") {
                codes[id] = code
            } else if reader.isElement("cellXfs"), !reader.isEmptyElement {
                cellFormatsDepth = reader.depth
            } else if let depth = cellFormatsDepth, reader.isEndElement("cellXfs"), reader.depth == depth {
                cellFormatsDepth = nil
            } else if let depth = cellFormatsDepth, reader.isElement("xf"), reader.depth == depth + 1 {
                // `xf`s of <cellStyleXfs> are the named styles', which cells do not point at.
                formatIDs.append(reader.attribute("numFmtId").flatMap(Int.init) ?? 0)
            }
        }
        // A format a workbook defines itself wins over the built-in one of the same id
        // (LibreOffice writes its codes for built-in ids too).
        return formatIDs.map { id in codes[id].map(NumberFormatKind.of(code:)) ?? NumberFormatKind.builtIn(id) }
    }
}
