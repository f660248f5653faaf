/// Handles one request; dependencies are captured when the router is built.
public typealias Handler = (Request) throws -> Response

/// Matches method + path templates such as `/api/documents/{id}/status`.
///
/// Templates are stored in a tree of path segments, so matching costs one
/// dictionary lookup per segment whatever the number of routes.
public final class Router {
    public struct Route: Hashable, Sendable {
        public let method: String
        public let template: String
    }

    public enum Match {
        case found(Handler, parameters: [String: String], route: Route)
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    private final class Node {
        var literals: [Substring: Node] = [:]
        var parameter: (name: String, node: Node)?
        var handlers: [String: (Handler, Route)] = [:]
    }

    private let root = Node()
    public private(set) var routes: [Route] = []

    public init() {}

    /// Registers `handler` for `method` at `template`. A segment in braces is a
    /// parameter; registering the same method and template twice is a programming error.
    public func add(_ method: String, _ template: String, _ handler: @escaping Handler) {
        var node = root
        for segment in template.split(separator: "/") {
            if segment.hasPrefix("{"), segment.hasSuffix("}") {
                let name = String(segment.dropFirst().dropLast())
                if let existing = node.parameter {
                    precondition(existing.name == name, "conflicting parameter names at \(template)")
                    node = existing.node
                } else {
                    let child = Node()
                    node.parameter = (name, child)
                    node = child
                }
            } else {
                if let child = node.literals[segment] {
                    node = child
                } else {
                    let child = Node()
                    node.literals[segment] = child
                    node = child
                }
            }
        }
        precondition(node.handlers[method] == nil, "duplicate route \(method) \(template)")
        let route = Route(method: method, template: template)
        node.handlers[method] = (handler, route)
        routes.append(route)
    }

    public func get(_ template: String, _ handler: @escaping Handler) { add("GET", template, handler) }
    public func post(_ template: String, _ handler: @escaping Handler) { add("POST", template, handler) }
    public func put(_ template: String, _ handler: @escaping Handler) { add("PUT", template, handler) }
    public func patch(_ template: String, _ handler: @escaping Handler) { add("PATCH", template, handler) }
    public func delete(_ template: String, _ handler: @escaping Handler) { add("DELETE", template, handler) }

    /// Finds the handler for `method` and `path`. Literal segments win over
    /// parameters; a trailing slash is ignored; `HEAD` falls back to `GET`.
    public func match(method: String, path: String) -> Match {
        var parameters: [String: String] = [:]
        guard let node = find(root, path.split(separator: "/")[...], &parameters), !node.handlers.isEmpty else {
            return .notFound
        }
        if let (handler, route) = node.handlers[method] ?? (method == "HEAD" ? node.handlers["GET"] : nil) {
            return .found(handler, parameters: parameters, route: route)
        }
        var allowed = Set(node.handlers.keys)
        if allowed.contains("GET") { allowed.insert("HEAD") }
        return .methodNotAllowed(allowed: allowed.sorted())
    }

    private func find(_ node: Node, _ segments: ArraySlice<Substring>, _ parameters: inout [String: String]) -> Node? {
        guard let segment = segments.first else { return node }
        let rest = segments.dropFirst()
        if let child = node.literals[segment], let found = find(child, rest, &parameters), !found.handlers.isEmpty {
            return found
        }
        if let (name, child) = node.parameter, let found = find(child, rest, &parameters), !found.handlers.isEmpty {
            parameters[name] = String(segment)
            return found
        }
        return nil
    }
}
