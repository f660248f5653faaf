import ArgumentParser
import Documents
import Extraction
import Foundation
import JSONValues

/// `assay extract`: the extraction pipeline without a server or database, for
/// measurement. With `--bench IN OUT` every file of IN becomes `OUT/<file name>.json` in
/// the neutral format of the benchmark scorers; with one FILE the JSON goes to stdout.
struct Extract: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the extraction pipeline on files (no server or database needed).",
        discussion: """
            Writes {"tables": [{"page", "rows"}], "fields": {amount, date, invoice_number,
            issuer, currency}, "text": "...", "meta": {"seconds", "pages"}} per document.
            """
    )
    @Flag(help: "Read every file of IN_DIR and write OUT_DIR/<file name>.json.") var bench = false
    @Argument(help: "A file, or with --bench the input and output folders.") var paths: [String]

    func validate() throws {
        if bench, paths.count != 2 { throw ValidationError("--bench takes IN_DIR OUT_DIR") }
        if !bench, paths.count != 1 { throw ValidationError("give one file (or --bench IN_DIR OUT_DIR)") }
    }

    func run() throws {
        defer { OCREngine.endForThisProcess() }
        guard bench else {
            FileHandle.standardOutput.write(Data(BenchExtraction.run(path: paths[0]).serialized() + [0x0A]))
            return
        }
        let (input, output) = (paths[0], paths[1])
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let names = try FileManager.default.contentsOfDirectory(atPath: input).sorted().filter { name in
            var directory: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: "\(input)/\(name)", isDirectory: &directory)
                && !directory.boolValue
        }
        var failed = 0
        for (index, name) in names.enumerated() {
            let result = BenchExtraction.run(path: "\(input)/\(name)")
            if result["error"] != nil { failed += 1 }
            try Data(result.serialized()).write(to: URL(fileURLWithPath: "\(output)/\(name).json"))
            FileHandle.standardError.write(Data("[\(index + 1)/\(names.count)] \(name)\n".utf8))
        }
        print("extracted \(names.count - failed) of \(names.count) file(s) into \(output)")
    }
}
