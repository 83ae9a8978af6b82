// swift-tools-version:5.9
import PackageDescription

/// One C system-library target per Debian -dev package; each has a module.modulemap and shim.h.
func cLibrary(_ name: String, pkgConfig: String?, apt: String) -> Target {
    .systemLibrary(name: name, path: "Sources/CLibs/\(name)", pkgConfig: pkgConfig, providers: [.apt([apt])])
}

let strict: [SwiftSetting] = [.enableUpcomingFeature("ExistentialAny")]

/// A command-line tool: SATool (options, exit statuses, logging) and argument-parser, plus `deps`.
func tool(_ name: String, _ deps: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["SATool", "SACommon", .product(name: "ArgumentParser", package: "swift-argument-parser")] + deps,
                      swiftSettings: strict)
}

let package = Package(
    name: "save_audio_stream",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "sa-record", targets: ["sa-record"]),
        .executable(name: "sa-serve", targets: ["sa-serve"]),
        .executable(name: "sa-pull", targets: ["sa-pull"]),
        .executable(name: "sa-export", targets: ["sa-export"]),
        .executable(name: "sa-prune", targets: ["sa-prune"]),
        .executable(name: "sa-push", targets: ["sa-push"]),
        .executable(name: "save_audio_stream", targets: ["save_audio_stream"]),
        .library(name: "SACommon", targets: ["SACommon"]),
        .library(name: "SAStore", targets: ["SAStore", "SAStorePostgres"]),
        .library(name: "SAAudio", targets: ["SAAudio"]),
        .library(name: "SARecorder", targets: ["SARecorder"]),
        .library(name: "SAPush", targets: ["SAPush"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        cLibrary("CSQLite", pkgConfig: "sqlite3", apt: "libsqlite3-dev"),
        cLibrary("CCurl", pkgConfig: "libcurl", apt: "libcurl4-openssl-dev"),
        cLibrary("CMpg123", pkgConfig: "libmpg123", apt: "libmpg123-dev"),
        cLibrary("CFaad", pkgConfig: nil, apt: "libfaad-dev"),
        cLibrary("CSoxr", pkgConfig: "soxr", apt: "libsoxr-dev"),
        cLibrary("COpus", pkgConfig: "opus", apt: "libopus-dev"),
        cLibrary("CFdkAac", pkgConfig: "fdk-aac", apt: "libfdk-aac-dev"),
        cLibrary("CPQ", pkgConfig: "libpq", apt: "libpq-dev"),
        cLibrary("COgg", pkgConfig: "ogg", apt: "libogg-dev"),
        cLibrary("CCrypto", pkgConfig: "libcrypto", apt: "libssl-dev"),
        cLibrary("CSSH2", pkgConfig: "libssh2", apt: "libssh2-1-dev"),

        // Config, credentials, paths, JSON lines, errors, schedules.
        .target(
            name: "SACommon",
            dependencies: [
                "CCrypto",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict
        ),
        // For the executables only: common options, the run-and-exit wrapper, logging setup.
        .target(
            name: "SATool",
            dependencies: ["SACommon", .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The show database: one ShowDB over SQLite (here) or PostgreSQL (SAStorePostgres), its
        // schema and migrations, records, locks, the receiver naming rule, the Opus framing.
        .target(name: "SAStore", dependencies: ["SACommon", "CSQLite"], swiftSettings: strict),
        // The libpq executor, and opening show databases by `db` string or receiver location.
        .target(name: "SAStorePostgres", dependencies: ["SAStore", "SACommon", "CPQ"], swiftSettings: strict),
        // Frame sync, decoders, resampler, encoders.
        .target(
            name: "SAAudio",
            dependencies: ["SACommon", "CMpg123", "CFaad", "CSoxr", "COpus", "CFdkAac"],
            swiftSettings: strict
        ),
        // The recording engine: stream client, ICY demuxing, playlists, sections and segments.
        .target(
            name: "SARecorder",
            dependencies: ["SACommon", "SAStore", "SAAudio", "CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),

        // One sync pass from a recorder's API into a receiver store (PostgreSQL or SQLite).
        .target(
            name: "SASync",
            dependencies: ["SACommon", "SAStore", "SAStorePostgres", "CCurl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Sections to playable files without re-encoding (Ogg Opus, ADTS), streaming.
        .target(
            name: "SAExport",
            dependencies: ["SACommon", "SAStore", "SAStorePostgres", "COgg"],
            // Millions of packets per long section: dynamic exclusivity checks cost ~15 % here.
            swiftSettings: strict + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // Files to SFTP (libssh2): host key check, upload, verify, rename.
        .target(
            name: "SAPush",
            dependencies: ["SACommon", "SAStore", "SAStorePostgres", "CSSH2"],
            swiftSettings: strict
        ),
        // HTTP: the recorder's sync API (and, later, the receiver's playback API and UI).
        .target(
            name: "SAServer",
            dependencies: ["SACommon", "SAStore", "SAStorePostgres", "SAExport", "SASync", .product(name: "Hummingbird", package: "hummingbird"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                           .product(name: "HTTPTypes", package: "swift-http-types")],
            // The OpenAPI document and the web UI, compiled into the binary (PackageResources).
            resources: [.embedInCode("Resources/openapi.json"), .embedInCode("Resources/web/index.html"),
                        .embedInCode("Resources/web/app.js"), .embedInCode("Resources/web/style.css")],
            swiftSettings: strict
        ),

        tool("sa-record", ["SARecorder", "SAStore"]),
        tool("sa-serve", ["SAServer", "SAStore", .product(name: "Hummingbird", package: "hummingbird")]),
        tool("sa-pull", ["SASync", "SAStore"]),
        tool("sa-export", ["SAExport", "SAStore", "SAStorePostgres"]),
        tool("sa-prune", ["SAStore", "SAStorePostgres"]),
        tool("sa-push", ["SAPush", "SAStore"]),
        tool("save_audio_stream", []),

        .testTarget(name: "SACommonTests", dependencies: ["SACommon"]),
        .testTarget(name: "SAStoreTests", dependencies: ["SAStore", "SAStorePostgres", "SACommon"]),
        .testTarget(name: "SAAudioTests", dependencies: ["SAAudio", "SARecorder", "SAStore", "SACommon"]),
        .testTarget(name: "SAServerTests", dependencies: [
            "SAServer", "SAStore", "SASync", "SACommon", .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "SASyncTests", dependencies: ["SASync", "SAStore", "SAStorePostgres", "SACommon", "SAExport"]),
    ]
)
