internal import CXML2
import Foundation

/// An XML part of a zip read node by node with libxml2's streaming reader (xmlTextReader),
/// inflated as the parser asks for bytes: a worksheet of hundreds of megabytes is never
/// held whole.
///
/// Safe for hostile input: no network, no external DTD, entities not substituted, and a
/// document type declaration is refused outright (no Office part has one; refusing it rules
/// out entity expansion attacks). libxml2's own limits (10 MB text nodes, nesting depth)
/// stay on. Errors are collected rather than printed, and become `corrupt_document`
/// naming the part and line.
final class XMLStreamReader {
    enum NodeType: Int32 {
        case element = 1, text = 3, cdata = 4, documentType = 10, whitespace = 13, significantWhitespace = 14, endElement = 15
    }

    /// What the C callbacks reach through their context pointer.
    private final class Context {
        let stream: ZipPartStream
        var streamFailure: Error?
        var parseError: String?
        init(stream: ZipPartStream) { self.stream = stream }
    }

    private static let initialized: Void = xmlInitParser()

    private let reader: OpaquePointer
    private let context: Context
    let part: String

    init(_ stream: ZipPartStream) throws {
        _ = XMLStreamReader.initialized
        let context = Context(stream: stream)
        part = stream.entry.name
        let pointer = Unmanaged.passUnretained(context).toOpaque()
        let read: xmlInputReadCallback = { pointer, buffer, length in
            let context = Unmanaged<Context>.fromOpaque(pointer!).takeUnretainedValue()
            do {
                return Int32(try context.stream.read(into: UnsafeMutableRawPointer(buffer!), count: Int(length)))
            } catch {
                context.streamFailure = error
                return -1
            }
        }
        let options = Int32(XML_PARSE_NONET.rawValue)
        guard let reader = xmlReaderForIO(read, nil, pointer, part, nil, options) else {
            throw context.streamFailure ?? DocumentProblem("corrupt_document", "the XLSX part \(stream.entry.name) cannot be parsed")
        }
        self.reader = reader
        self.context = context
        xmlTextReaderSetStructuredErrorHandler(reader, { pointer, error in
            guard let pointer, let error, error.pointee.level.rawValue >= XML_ERR_ERROR.rawValue else { return }
            let context = Unmanaged<Context>.fromOpaque(pointer).takeUnretainedValue()
            guard context.parseError == nil else { return }
            let message = error.pointee.message.map { String(cString: $0) }?.trimmingCharacters(in: .whitespacesAndNewlines)
            context.parseError = "line \(error.pointee.line): \(message ?? "malformed XML")"
        }, pointer)
    }

    deinit { xmlFreeTextReader(reader) }

    /// Moves to the next node; false at the end of the document.
    func next() throws -> Bool {
        switch xmlTextReaderRead(reader) {
        case 1:
            if xmlTextReaderNodeType(reader) == NodeType.documentType.rawValue {
                throw DocumentProblem("corrupt_document", "the XLSX part \(part) has a document type declaration, which no workbook has")
            }
            return true
        case 0:
            return false
        default:
            if let failure = context.streamFailure { throw failure }
            throw DocumentProblem("corrupt_document", "the XLSX part \(part) is not well-formed XML (\(context.parseError ?? "unreadable"))")
        }
    }

    var nodeType: NodeType? { NodeType(rawValue: xmlTextReaderNodeType(reader)) }
    var depth: Int32 { xmlTextReaderDepth(reader) }
    var isEmptyElement: Bool { xmlTextReaderIsEmptyElement(reader) == 1 }

    /// Whether the current node is a start element with this local name (any namespace:
    /// transitional and strict workbooks spell SpreadsheetML's namespace differently).
    func isElement(_ name: StaticString) -> Bool {
        xmlTextReaderNodeType(reader) == NodeType.element.rawValue && localName(is: name)
    }

    func isEndElement(_ name: StaticString) -> Bool {
        xmlTextReaderNodeType(reader) == NodeType.endElement.rawValue && localName(is: name)
    }

    private func localName(is name: StaticString) -> Bool {
        guard let current = xmlTextReaderConstLocalName(reader) else { return false }
        let expected = name.utf8Start
        var i = 0
        while i < name.utf8CodeUnitCount {
            if current[i] != expected[i] { return false }
            i += 1
        }
        return current[i] == 0
    }

    /// The value of the current element's attribute with this (unprefixed) name.
    func attribute(_ name: StaticString) -> String? {
        guard xmlTextReaderMoveToAttribute(reader, name.utf8Start) == 1 else { return nil }
        defer { xmlTextReaderMoveToElement(reader) }
        return xmlTextReaderConstValue(reader).map { String(cString: $0) }
    }

    /// Every attribute of the current element by local name (`r:id` is `id`).
    func attributes() -> [String: String] {
        var result: [String: String] = [:]
        guard xmlTextReaderMoveToFirstAttribute(reader) == 1 else { return result }
        repeat {
            if let name = xmlTextReaderConstLocalName(reader), let value = xmlTextReaderConstValue(reader) {
                result[String(cString: name)] = String(cString: value)
            }
        } while xmlTextReaderMoveToNextAttribute(reader) == 1
        xmlTextReaderMoveToElement(reader)
        return result
    }

    /// The text inside the current start element (its descendants' text joined), leaving
    /// the reader on its end.
    func text() throws -> String {
        guard !isEmptyElement else { return "" }
        let level = depth
        var text = ""
        while try next() {
            switch nodeType {
            case .text, .cdata, .whitespace, .significantWhitespace:
                if let value = xmlTextReaderConstValue(reader) { text += String(cString: value) }
            case .endElement where depth == level:
                return text
            default:
                break
            }
        }
        return text
    }

    /// Skips to the end of the current start element.
    func skipElement() throws {
        guard !isEmptyElement else { return }
        let level = depth
        while try next() {
            if nodeType == .endElement, depth == level { return }
        }
    }
}
