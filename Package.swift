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
        // ByteBuffer for the streaming multipart/form-data parser of uploads (Sources/Multipart,
        // vapor/multipart-kit's parser with a crash fixed).
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // CSV/TSV uploads: quoting, quoted newlines and delimiters as RFC 4180 has them.
        .package(url: "https://github.com/swiftcsv/SwiftCSV", from: "0.10.0"),
        // The logging API; Assay supplies a JSON-lines handler.
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // JWT signing and verification (HS256 access and refresh tokens).
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        // SHA-256, HMAC, secure random bytes (API keys, invite tokens); AES-GCM later.
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        // Share and embed pages: logic-less templates that HTML-escape every value by default.
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
    ],
    targets: [
        // C libraries, one system-library target each.
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CLibpq", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CPoppler", pkgConfig: "poppler-glib", providers: [.apt(["libpoppler-glib-dev"])]),
        .systemLibrary(name: "CTesseract", pkgConfig: "tesseract", providers: [.apt(["libtesseract-dev", "tesseract-ocr-eng"])]),
        // Large PNG pages are decoded straight to grey (libpng's png_image API): a byte a pixel, not seven.
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CArgon2", pkgConfig: "libargon2", providers: [.apt(["libargon2-dev"])]),
        .systemLibrary(name: "CMariaDB", pkgConfig: "libmariadb", providers: [.apt(["libmariadb-dev"])]),
        .systemLibrary(name: "CXlsxWriter", pkgConfig: "xlsxwriter", providers: [.apt(["libxlsxwriter-dev"])]),
        .systemLibrary(name: "CPangoCairo", pkgConfig: "pangocairo", providers: [.apt(["libpango1.0-dev"])]),
        // Dashboard exports draw the charts' SVG onto cairo surfaces (PDF stays vector).
        .systemLibrary(name: "CRsvg", pkgConfig: "librsvg-2.0", providers: [.apt(["librsvg2-dev"])]),
        .systemLibrary(name: "CZip", pkgConfig: "libzip", providers: [.apt(["libzip-dev"])]),
        // libxml2's streaming reader (xmlTextReader) for the XML parts of uploaded .xlsx workbooks.
        .systemLibrary(name: "CXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        // Atomics on shared memory and other things Swift cannot express directly.
        .target(name: "CShims"),
        // Metrics shared by all the pool's processes (a table of atomic counters in a shared
        // mapping, `SharedTable`, which the quota ledger uses too) and their Prometheus text
        // exposition; domain modules count through it.
        .target(name: "Observability", dependencies: ["CShims"]),
        // Hourly quota counts of the pool's processes in shared memory, added to PostgreSQL
        // about once a second (no database round trip per request).
        .target(name: "Quotas", dependencies: ["CShims", "Data", "Observability"]),

        .target(
            name: "Data",
            dependencies: ["CLibpq", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Migrations")]
        ),
        // The JSON value, its strict parser and the field reader that names every bad field:
        // shared by the HTTP layer and the jobs, so domain modules never import Handlers.
        .target(name: "JSONValues"),
        // Password hashing (argon2id, libargon2) and sealing of stored credentials (AES-GCM).
        .target(name: "Credentials", dependencies: ["CArgon2", .product(name: "Crypto", package: "swift-crypto")]),
        // The job queue's programming model: a job's context, the registry of kinds, permanent failures.
        .target(name: "Jobs", dependencies: ["Data", "JSONValues", .product(name: "Logging", package: "swift-log")]),
        // Reading documents: type detection, PDF text layers with word boxes (poppler),
        // rendering (cairo) and OCR (tesseract) for scans and images; page models, tables, fields;
        // spreadsheets: delimited text (SwiftCSV) and .xlsx workbooks (libzip + libxml2).
        .target(name: "Documents", dependencies: ["CPoppler", "CTesseract", "CPNG", "CZip", "CXML2",
                                                  .product(name: "SwiftCSV", package: "SwiftCSV")]),
        // The one pipeline from an uploaded document to its stored pages, warehouse tables and
        // field results (rule-based or LLM), run by the jobs and by `assay extract --bench`.
        .target(
            name: "Extraction",
            dependencies: ["Data", "Documents", "Integrations", "Jobs", "JSONValues", "Observability",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Customer databases Assay reads from: PostgreSQL (libpq) and MySQL/MariaDB (libmariadb),
        // and the policy of which hosts may be reached. The engines are Data's `SourceEngine`, as stored.
        .target(name: "Connectors", dependencies: ["CLibpq", "CMariaDB", "Data"]),
        // Copying customer tables into the warehouse: the sync engine, its job and schedules.
        .target(
            name: "ETL",
            dependencies: ["Connectors", "Credentials", "Data", "Jobs", "JSONValues", "Observability",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Clients of outside services through libcurl (SMTP now; LLM and Superset later).
        .target(name: "Integrations", dependencies: ["CCurl", "JSONValues"]),
        // Exports: reading tables out of the warehouse (COPY) and writing .xlsx (libxlsxwriter,
        // constant memory), PDF (cairo + pango), zip (libzip); the export job. Dashboards are
        // exported too: their widgets' data and charts (SVG drawn through librsvg).
        .target(
            name: "Exporters",
            dependencies: ["CXlsxWriter", "CPangoCairo", "CRsvg", "CZip", "Data", "Jobs", "JSONValues", "Dashboards", "Charts", "Observability",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Query specs checked against a table's columns and run (analytics' one query layer).
        .target(
            name: "Query",
            dependencies: ["Data", "JSONValues"]
        ),
        // Server-side SVG charts, deterministic (no dependencies: text out).
        .target(name: "Charts"),
        // Dashboards: widgets chosen from column profiles, checked and run through Query.
        .target(
            name: "Dashboards",
            dependencies: ["Query", "Charts", "Data", "JSONValues"]
        ),
        // Questions in plain words answered from a table: a parser that reads them against the
        // table's own headers and values (no network), or an LLM's query spec; conversations.
        .target(
            name: "Chat",
            dependencies: ["Query", "Charts", "Dashboards", "Data", "Documents", "Integrations", "JSONValues"]
        ),
        // Share links and embeddable widgets: their rules, the pages viewers see (Mustache
        // templates, inline SVG charts, a strict CSP), signed cookies and embed tokens, views.
        .target(
            name: "Sharing",
            dependencies: ["Dashboards", "Charts", "Query", "Exporters", "Credentials", "Data", "JSONValues",
                           .product(name: "Mustache", package: "swift-mustache"),
                           .product(name: "Crypto", package: "swift-crypto")],
            resources: [.copy("Templates")]
        ),
        // The API described for its clients beyond the OpenAPI document: the Postman collection
        // made from it.
        .target(name: "APIDocs", dependencies: ["JSONValues"]),
        // Apache Superset through its REST API (libcurl via Integrations): databases for customer
        // connections and for a team's warehouse tables, datasets, dashboards pushed as charts.
        .target(
            name: "Superset",
            dependencies: ["ETL", "Connectors", "Integrations", "Data", "JSONValues"]
        ),
        // multipart/form-data parsing, streamed (vendored; see its header).
        .target(
            name: "Multipart",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")],
            exclude: ["LICENSE"]
        ),
        .target(
            name: "Handlers",
            dependencies: [
                "Data", "JSONValues", "Credentials", "Jobs", "Extraction", "ETL", "Integrations", "Documents",
                "Connectors", "Exporters", "Multipart", "Query", "Dashboards", "Charts", "Chat", "Sharing", "Superset", "APIDocs",
                "Observability", "Quotas",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("Resources/openapi.json")]
        ),
        .executableTarget(
            name: "FCGIApp",
            dependencies: [
                "Handlers", "Data", "JSONValues", "Jobs", "Documents", "Extraction", "ETL", "Exporters", "Integrations", "Sharing",
                "Observability", "Quotas", "Superset", "CFastCGI", "CShims",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The charts' tests parse SVG with FoundationXML. Foundation's ICU must not meet the
        // system ICU that libxml2's headers (CXML2, under Documents) bring into UnitTests.
        .testTarget(name: "ChartsTests", dependencies: ["Charts"]),
        .testTarget(
            name: "UnitTests",
            dependencies: ["Handlers", "Data", "JSONValues", "Credentials", "Jobs", "Documents", "Extraction", "ETL",
                           "Connectors", "Exporters", "Multipart", "Query", "Dashboards", "Charts", "Chat", "Sharing", "Integrations",
                           "APIDocs", "Observability", "Quotas", "Superset"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
