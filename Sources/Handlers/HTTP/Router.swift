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
        /// Any single segment; routes may name it differently (`{id}`, `{token}`).
        var parameter: Node?
        var handlers: [String: (handler: Handler, route: Route, names: [String])] = [:]
    }

    private let root = Node()
    /// The nodes of templates without parameters by their exact path (`/api/version`): most
    /// requests' paths are found with one lookup instead of a walk over their segments.
    private var literalPaths: [String: Node] = [:]
    public private(set) var routes: [Route] = []
    /// Answers requests no route matched (404/405), e.g. to add quota headers under `/api/`.
    public var unmatched: ((Request, APIError) -> Response)?

    public init() {}

    /// Registers `handler` for `method` at `template`. A segment in braces is a
    /// parameter; registering the same method and template twice is a programming error.
    public func add(_ method: String, _ template: String, _ handler: @escaping Handler) {
        var node = root
        var names: [String] = []
        for segment in template.split(separator: "/") {
            if segment.hasPrefix("{"), segment.hasSuffix("}") {
                names.append(String(segment.dropFirst().dropLast()))
                if let existing = node.parameter {
                    node = existing
                } else {
                    let child = Node()
                    node.parameter = child
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
        node.handlers[method] = (handler, route, names)
        if names.isEmpty { literalPaths["/" + template.split(separator: "/").joined(separator: "/")] = node }
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
        var values: [String] = []
        // A path spelled exactly as a literal template needs no walk: literal segments win anyway.
        guard let node = literalPaths[path] ?? find(root, path.split(separator: "/")[...], &values),
              !node.handlers.isEmpty else {
            return .notFound
        }
        if let entry = node.handlers[method] ?? (method == "HEAD" ? node.handlers["GET"] : nil) {
            let parameters = Dictionary(zip(entry.names, values), uniquingKeysWith: { $1 })
            return .found(entry.handler, parameters: parameters, route: entry.route)
        }
        var allowed = Set(node.handlers.keys)
        if allowed.contains("GET") { allowed.insert("HEAD") }
        return .methodNotAllowed(allowed: allowed.sorted())
    }

    /// Depth-first search preferring literal segments; `values` collects the
    /// parameter segments of the path that matched, in order.
    private func find(_ node: Node, _ segments: ArraySlice<Substring>, _ values: inout [String]) -> Node? {
        guard let segment = segments.first else { return node }
        let rest = segments.dropFirst()
        if let child = node.literals[segment], let found = find(child, rest, &values), !found.handlers.isEmpty {
            return found
        }
        if let child = node.parameter {
            values.append(String(segment))
            if let found = find(child, rest, &values), !found.handlers.isEmpty { return found }
            values.removeLast()
        }
        return nil
    }
}
