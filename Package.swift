// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let testSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

// Release builds on Linux link with lld, packing the relative relocations (DT_RELR, which needs glibc 2.36: Debian
// bookworm, the image's base), and export no dynamic symbols (the static Swift runtime's link arguments export every
// symbol of the executable's own objects, and nothing looks them up). A start from disk then leaves about 6 MiB of
// relocations and symbol tables unread: idle RSS 43.0 → 36.7 MiB (docs/benchmarks.md, "Idle RSS: the link").
let releaseLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(
        ["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs", "-Xlinker", "--no-export-dynamic"],
        .when(platforms: [.linux], configuration: .release)
    )
]

let package = Package(
    name: "trellis",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "trellis", targets: ["trellis"]),
        .executable(name: "trellis-bench-upstream", targets: ["BenchUpstream"]),
        .executable(name: "trellis-usage-bench", targets: ["UsageBench"]),
        .library(name: "TrellisServer", targets: ["TrellisServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        .target(
            name: "OpenAIWire",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisCore",
            dependencies: [
                "OpenAIWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisStore",
            dependencies: [
                "OpenAIWire",
                "TrellisCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // SQLite's C API, for binding the usage insert's values directly (StatementBindings.swift).
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisUpstream",
            dependencies: [
                "OpenAIWire",
                "TrellisCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TrellisServer",
            dependencies: [
                .product(name: "MultipartKit", package: "multipart-kit"),
                "OpenAIWire",
                "TrellisCore",
                "TrellisStore",
                "TrellisUpstream",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdHTTP2", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            // The operator console, compiled into the binary (see ARCHITECTURE.md, "The console").
            resources: [
                .embedInCode("Resources/console/index.html"),
                .embedInCode("Resources/console/console.css"),
                .embedInCode("Resources/console/app.js"),
                .embedInCode("Resources/console/lib.js"),
                .embedInCode("Resources/console/i18n.js"),
                .embedInCode("Resources/console/strings-en.js"),
                .embedInCode("Resources/console/strings-zh.js"),
                .embedInCode("Resources/console/page-overview.js"),
                .embedInCode("Resources/console/page-overview-231.js"),
                .embedInCode("Resources/console/page-models.js"),
                .embedInCode("Resources/console/page-playground.js"),
                .embedInCode("Resources/console/page-knowledge.js"),
                .embedInCode("Resources/console/page-evaluations.js"),
                .embedInCode("Resources/console/page-evaluation-run.js"),
                .embedInCode("Resources/console/page-keys.js"),
                .embedInCode("Resources/console/page-audit.js"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "trellis",
            dependencies: [
                "TrellisServer",
                "TrellisStore",
                "OpenAIWire",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            linkerSettings: releaseLinkerSettings
        ),
        // A canned, cheap OpenAI-compatible upstream for bench/run.sh (SwiftNIO only, no Hummingbird).
        .executableTarget(
            name: "BenchUpstream",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // The usage report at a million rows, written through the store (bench/usage/run.sh, docs/benchmarks.md).
        .executableTarget(
            name: "UsageBench",
            dependencies: [
                "TrellisCore",
                "TrellisStore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "OpenAIWireTests", dependencies: ["OpenAIWire", "TrellisCore"], swiftSettings: testSettings),
        .testTarget(name: "TrellisCoreTests", dependencies: ["TrellisCore", "OpenAIWire"], swiftSettings: testSettings),
        // For test targets only: reads of what a store wrote that the product never reads back (usage rows,
        // counts), and the engines the store's integration tests run against (`StoreEngines.all`).
        .target(
            name: "TrellisStoreTestSupport",
            dependencies: [
                "TrellisStore", "TrellisCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TrellisStoreTestSupport",
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TrellisStoreTests",
            // GRDB: the tests reopen the database file to check what the store wrote; PostgresNIO: they hold locks
            // on a connection of their own.
            dependencies: [
                "TrellisStore", "TrellisStoreTestSupport", "TrellisCore", "OpenAIWire", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"), .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TrellisUpstreamTests",
            dependencies: [
                "TrellisUpstream",
                "TrellisCore",
                "OpenAIWire",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),
        .testTarget(
            name: "TrellisServerTests",
            dependencies: [
                "TrellisServer",
                "TrellisCore",
                "TrellisStore",
                "TrellisStoreTestSupport",
                "TrellisUpstream",
                "OpenAIWire",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: testSettings
        ),
    ]
)
