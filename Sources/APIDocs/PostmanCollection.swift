import Foundation
import JSONValues

/// A Postman collection (format v2.1) made from an OpenAPI 3.1 document: a folder per tag, a
/// request per operation with its path variables, query parameters (disabled until filled in)
/// and example body, `{{baseUrl}}` and `{{token}}` collection variables, and bearer auth at the
/// collection level that public operations turn off. Made from the document, never by hand,
/// so the two cannot drift apart.
public enum PostmanCollection {
    public static let schemaURL = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    static let methods = ["get", "post", "put", "patch", "delete"]

    /// The collection for `document`, whose requests go to `baseURL` (the collection's
    /// `baseUrl` variable; change it in Postman to point elsewhere).
    public static func make(from document: JSON, baseURL: String) -> JSON {
        let info = document["info"]
        let title = info?["title"]?.text ?? "API"
        let version = info?["version"]?.text ?? ""
        var folders: [(name: String, description: String?, items: [JSON])] = []
        if case .array(let tags)? = document["tags"] {
            for tag in tags { if let name = tag["name"]?.text { folders.append((name, tag["description"]?.text, [])) } }
        }
        if case .object(let paths)? = document["paths"] {
            for (path, item) in paths {
                guard case .object(let operations) = item else { continue }
                for (method, operation) in operations where methods.contains(method) {
                    let tag = operationTag(operation)
                    if !folders.contains(where: { $0.name == tag }) { folders.append((tag, nil, [])) }
                    let index = folders.firstIndex { $0.name == tag }!
                    folders[index].items.append(request(method: method, path: path, operation: operation, pathItem: item, document: document))
                }
            }
        }
        var collectionInfo: [(String, JSON)] = [
            ("_postman_id", .string(stableID("\(title) \(version)"))),
            ("name", .string("\(title) \(version)".trimmingCharacters(in: .whitespaces))),
            ("schema", .string(schemaURL)),
        ]
        if let description = info?["description"]?.text { collectionInfo.append(("description", .string(description))) }
        return .object([
            ("info", .object(collectionInfo)),
            ("item", .array(folders.filter { !$0.items.isEmpty }.map { folder in
                var members: [(String, JSON)] = [("name", .string(folder.name))]
                if let description = folder.description { members.append(("description", .string(description))) }
                members.append(("item", .array(folder.items)))
                return .object(members)
            })),
            ("auth", bearer),
            ("variable", [
                ["key": "baseUrl", "value": .string(baseURL), "type": "string"],
                ["key": "token", "value": "", "type": "string",
                 "description": "An access token (POST /api/auth/login) or an API key (ocr_…)."],
            ]),
        ])
    }

    static let bearer: JSON = ["type": "bearer", "bearer": [["key": "token", "value": "{{token}}", "type": "string"]]]

    static func operationTag(_ operation: JSON) -> String {
        if case .array(let tags)? = operation["tags"], let first = tags.first?.text { return first }
        return "other"
    }

    static func request(method: String, path: String, operation: JSON, pathItem: JSON, document: JSON) -> JSON {
        var parameters: [JSON] = []
        for source in [pathItem["parameters"], operation["parameters"]] {
            if case .array(let list)? = source { parameters += list.map { resolve($0, in: document) } }
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: true).map { segment -> String in
            segment.hasPrefix("{") && segment.hasSuffix("}") ? ":" + segment.dropFirst().dropLast() : String(segment)
        }
        var url: [(String, JSON)] = [
            ("raw", .string("{{baseUrl}}/" + segments.joined(separator: "/"))),
            ("host", ["{{baseUrl}}"]),
            ("path", .array(segments.map { .string($0) })),
        ]
        let query = parameters.filter { $0["in"]?.text == "query" }.map { parameter -> JSON in
            var members: [(String, JSON)] = [("key", .string(parameter["name"]?.text ?? "")), ("value", ""), ("disabled", true)]
            if let description = parameter["description"]?.text { members.append(("description", .string(description))) }
            return .object(members)
        }
        if !query.isEmpty { url.append(("query", .array(query))) }
        let variables = parameters.filter { $0["in"]?.text == "path" }.map { parameter -> JSON in
            var members: [(String, JSON)] = [("key", .string(parameter["name"]?.text ?? "")), ("value", "")]
            if let description = parameter["description"]?.text { members.append(("description", .string(description))) }
            return .object(members)
        }
        if !variables.isEmpty { url.append(("variable", .array(variables))) }

        var headers: [JSON] = [["key": "Accept", "value": "application/json"]]
        var members: [(String, JSON)] = [("method", .string(method.uppercased()))]
        if let (body, contentType) = body(of: operation, document: document) {
            if let contentType { headers.append(["key": "Content-Type", "value": .string(contentType)]) }
            members.append(("body", body))
        }
        members.insert(("header", .array(headers)), at: 1)
        members.append(("url", .object(url)))
        if let description = operation["description"]?.text ?? operation["summary"]?.text {
            members.append(("description", .string(description)))
        }
        // An operation without security requirements (its own or the document's) is public: no
        // token is sent.
        let security = operation["security"] ?? document["security"]
        if case .array(let requirements)? = security, !requirements.isEmpty {} else { members.append(("auth", ["type": "noauth"])) }
        let name = operation["summary"]?.text ?? operation["operationId"]?.text ?? "\(method.uppercased()) \(path)"
        return .object([("name", .string(name)), ("request", .object(members))])
    }

    /// The request body Postman should send: JSON raw text from the document's example, or
    /// form fields for multipart (a file field per binary property). The content type to
    /// send goes with it (nil: Postman sets multipart's own).
    static func body(of operation: JSON, document: JSON) -> (JSON, String?)? {
        guard let requestBody = operation["requestBody"].map({ resolve($0, in: document) }),
              case .object(let contents)? = requestBody["content"], let (contentType, content) = contents.first else { return nil }
        if contentType == "multipart/form-data" {
            let schema = resolve(content["schema"] ?? [:], in: document)
            var fields: [JSON] = []
            if case .object(let properties)? = schema["properties"] {
                for (name, property) in properties {
                    let example = content["example"]?[name]?.text ?? ""
                    if property["format"]?.text == "binary" {
                        fields.append(["key": .string(name), "type": "file", "src": .string(example)])
                    } else {
                        fields.append(["key": .string(name), "type": "text", "value": .string(example)])
                    }
                }
            }
            return (["mode": "formdata", "formdata": .array(fields)], nil)
        }
        let example = content["example"] ?? firstExample(content) ?? [:]
        return (["mode": "raw", "raw": .string(pretty(example)), "options": ["raw": ["language": "json"]]], contentType)
    }

    static func firstExample(_ content: JSON) -> JSON? {
        guard case .object(let examples)? = content["examples"], let first = examples.first else { return nil }
        return first.1["value"]
    }

    /// Follows a local `$ref` (`#/components/...`), once.
    static func resolve(_ value: JSON, in document: JSON) -> JSON {
        guard let reference = value["$ref"]?.text, reference.hasPrefix("#/") else { return value }
        var node: JSON? = document
        for key in reference.dropFirst(2).split(separator: "/") { node = node?[String(key)] }
        return node ?? value
    }

    /// JSON indented by two spaces, for the bodies a person edits in Postman.
    public static func pretty(_ value: JSON, indent: String = "") -> String {
        let inner = indent + "  "
        switch value {
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { inner + pretty($0, indent: inner) }.joined(separator: ",\n") + "\n\(indent)]"
        case .object(let members) where !members.isEmpty:
            return "{\n" + members.map { inner + JSON.string($0.0).serializedText + ": " + pretty($0.1, indent: inner) }
                .joined(separator: ",\n") + "\n\(indent)}"
        default:
            return value.serializedText
        }
    }

    /// A UUID-shaped id that stays the same for the same document title and version, so a
    /// re-imported collection replaces the old one in Postman instead of adding a copy.
    static func stableID(_ text: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var bytes: [UInt8] = []
        for round in 0..<2 {
            for byte in Array(text.utf8) + [UInt8(round)] {
                hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
            }
            withUnsafeBytes(of: hash.bigEndian) { bytes += $0 }
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x50
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
        return parts.joined(separator: "-")
    }
}

extension JSON {
    /// The string, when this is one.
    var text: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}
