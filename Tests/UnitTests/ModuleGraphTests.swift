import Foundation
import XCTest

/// The README's module graph is `Package.swift`'s: a target added, or a dependency between
/// Assay's own modules, fails here until the README says so.
final class ModuleGraphTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testTheReadmeGraphIsThePackageGraph() throws {
        let package = try ModuleGraphTests.packageGraph()
        let readme = try ModuleGraphTests.readmeGraph()
        XCTAssertFalse(package.isEmpty)
        XCTAssertEqual(Set(readme.keys), Set(package.keys), "modules in the README graph vs Package.swift")
        for (module, dependencies) in package {
            XCTAssertEqual(readme[module], dependencies, "\(module)'s dependencies: README vs Package.swift")
        }
    }

    func testHandlersImportNoCModule() throws {
        let handlers = ModuleGraphTests.root.appendingPathComponent("Sources/Handlers")
        let files = FileManager.default.enumerator(atPath: handlers.path)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix(".swift") } ?? []
        XCTAssertFalse(files.isEmpty)
        for file in files {
            let text = try String(contentsOf: handlers.appendingPathComponent(file), encoding: .utf8)
            for line in text.split(separator: "\n") where line.hasPrefix("import C") {
                let module = line.dropFirst("import ".count)
                XCTAssertFalse(module.count > 1 && module.dropFirst().first!.isUppercase, "Sources/Handlers/\(file): \(line)")
            }
        }
    }

    /// Assay's own modules (not C system libraries, not the test target) and the modules of
    /// Assay each depends on.
    static func packageGraph() throws -> [String: Set<String>] {
        var text = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        // Products of other packages are not Assay's modules.
        text = text.replacingOccurrences(of: #"\.product\([^)]*\)"#, with: "", options: .regularExpression)
        let target = try NSRegularExpression(pattern: #"\.(target|executableTarget)\(\s*name:\s*"(\w+)"(?:,\s*dependencies:\s*\[([^\]]*)\])?"#)
        var graph: [String: Set<String>] = [:]
        for match in target.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let name = String(text[Range(match.range(at: 2), in: text)!])
            guard !isCModule(name) else { continue }
            let list = Range(match.range(at: 3), in: text).map { String(text[$0]) } ?? ""
            let names = list.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \n\"")) }
            graph[name] = Set(names.filter { !$0.isEmpty && !isCModule($0) })
        }
        return graph
    }

    /// The fenced block after "The modules and what each may import" in the README:
    /// `Name ──> A, B (a remark)` lines and one `X, Y: only C modules` line.
    static func readmeGraph() throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        guard let heading = text.range(of: "The modules and what each may import"),
              let open = text.range(of: "```\n", range: heading.upperBound..<text.endIndex),
              let close = text.range(of: "```", range: open.upperBound..<text.endIndex) else {
            XCTFail("README has no module graph")
            return [:]
        }
        var graph: [String: Set<String>] = [:]
        func names(_ list: Substring) -> [String] {
            let plain = list.replacingOccurrences(of: #"\([^)]*\)"#, with: "", options: .regularExpression)
            return plain.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        for line in text[open.upperBound..<close.lowerBound].split(separator: "\n") {
            if let arrow = line.firstIndex(of: ">") {
                let module = line[..<arrow].trimmingCharacters(in: CharacterSet(charactersIn: " ─-"))
                graph[module] = Set(names(line[line.index(after: arrow)...]))
            } else if let colon = line.firstIndex(of: ":") {
                for module in names(line[..<colon]) { graph[module] = [] }
            }
        }
        return graph
    }

    static func isCModule(_ name: String) -> Bool {
        // `CLibpq`, `CShims`: a C followed by a capital (`Connectors` is Assay's).
        name.count > 1 && name.first == "C" && name.dropFirst().first!.isUppercase
    }
}
