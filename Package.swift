// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "assay",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "assay", targets: ["FCGIApp"]),
    ],
    dependencies: [
        // Command line parsing and `--help` for `assay serve | migrate | version`.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // The logging API; Assay supplies a JSON-lines handler.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C libraries, one system-library target each.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        // Atomics on shared memory and other things Swift cannot express directly.
        .target(name: "CShims"),

        .target(
            name: "Data",
            dependencies: ["CLibpq", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Migrations")]
        ),
        .target(
            name: "Handlers",
            dependencies: ["Data", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Resources/openapi.json")]
        ),
        .executableTarget(
            name: "FCGIApp",
            dependencies: [
                "Handlers", "Data", "CFastCGI", "CShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "UnitTests", dependencies: ["Handlers", "Data"]),
    ],
    swiftLanguageModes: [.v6]
)
