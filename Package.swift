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
        // Streaming multipart/form-data parsing for uploads.
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.1"),
        // The logging API; Assay supplies a JSON-lines handler.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // JWT signing and verification (HS256 access and refresh tokens).
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        // SHA-256, HMAC, secure random bytes (API keys, invite tokens); AES-GCM later.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
    ],
    targets: [
        // C libraries, one system-library target each.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CPoppler", pkgConfig: "poppler-glib", providers: [.apt(["libpoppler-glib-dev"])]),
        .systemLibrary(name: "CTesseract", pkgConfig: "tesseract", providers: [.apt(["libtesseract-dev", "tesseract-ocr-eng"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CXlsxWriter", pkgConfig: "xlsxwriter", providers: [.apt(["libxlsxwriter-dev"])]),
        .systemLibrary(name: "CPangoCairo", pkgConfig: "pangocairo", providers: [.apt(["libpango1.0-dev"])]),
        .systemLibrary(name: "CZip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
        // Atomics on shared memory and other things Swift cannot express directly.
        .target(name: "CShims"),

        .target(
            name: "Data",
            dependencies: ["CLibpq", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Migrations")]
        ),
        // Reading documents: type detection, PDF text layers with word boxes (poppler),
        // rendering (cairo) and OCR (tesseract) for scans and images.
        .target(name: "Documents", dependencies: ["CPoppler", "CTesseract"]),
        // Customer databases Assay reads from: PostgreSQL (libpq) and MySQL/MariaDB (libmariadb).
        .target(name: "Connectors", dependencies: ["CLibpq", "CMariaDB"]),
        // Clients of outside services through libcurl (SMTP now; LLM and Superset later).
        .target(name: "Integrations", dependencies: ["CCurl"]),
        // Writing exports: .xlsx (libxlsxwriter, constant memory), PDF (cairo + pango), zip (libzip).
        .target(name: "Exporters", dependencies: ["CXlsxWriter", "CPangoCairo", "CZip"]),
        .target(
            name: "Handlers",
            dependencies: [
                "Data", "CArgon2", "Integrations", "Documents", "Connectors", "Exporters",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "MultipartKit", package: "multipart-kit"),
            ],
            resources: [.copy("Resources/openapi.json")]
        ),
        .executableTarget(
            name: "FCGIApp",
            dependencies: [
                "Handlers", "Data", "Documents", "Integrations", "CFastCGI", "CShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "UnitTests", dependencies: ["Handlers", "Data", "Documents", "Exporters"]),
    ],
    swiftLanguageModes: [.v6]
)
