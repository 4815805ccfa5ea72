// swift-tools-version:6.1
import PackageDescription

// The module graph is one-way (see README "Architecture"):
//   CLibvirt → Libvirt → VirtHost ← GuestConfig
//   CMicroHTTPD → HTTPServer
//   VirtHost, HTTPServer → VirtHostAPI → virthostd
let package = Package(
    name: "virthost",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "virthostd", targets: ["virthostd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.1.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // Child processes (genisoimage for first-boot disks); no traits, so without Foundation.
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2", traits: []),
    ],
    targets: [
        // C interop only.
        .systemLibrary(
            name: "CLibvirt",
            pkgConfig: "libvirt",
            providers: [.apt(["libvirt-dev"])]
        ),
        .systemLibrary(
            name: "CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        .systemLibrary(
            name: "CLibXML2",
            pkgConfig: "libxml-2.0",
            providers: [.apt(["libxml2-dev"])]
        ),

        // Synchronization.Mutex's API on a pthread mutex, which ThreadSanitizer understands; and
        // waiting on sockets without a thread each (one poll thread for reads, ordered writers).
        .target(name: "Locking"),
        // Thin, safe libvirt binding: no policy.
        .target(name: "Libvirt", dependencies: ["CLibvirt", "Locking"]),
        // Pure Swift guest spec → domain XML: no libvirt, no HTTP. libyaml (C, Debian's) only
        // checks `#cloud-config` user data for first-boot disks.
        .target(name: "GuestConfig", dependencies: ["CYAML"]),
        // The Host actor, Guest, firewall and VIF.
        .target(
            name: "VirtHost",
            dependencies: [
                "Libvirt", "GuestConfig", "Locking", "CZlib",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
        // Generic HTTP server on libmicrohttpd: knows nothing of libvirt.
        .target(
            name: "HTTPServer",
            dependencies: [
                "CMicroHTTPD", "Locking",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Routes, JSON, problem documents, Prometheus exposition.
        .target(
            name: "VirtHostAPI",
            dependencies: [
                "VirtHost", "HTTPServer", "GuestConfig", "Locking",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.embedInCode("openapi.yaml")]
        ),
        .executableTarget(
            name: "virthostd",
            dependencies: [
                "VirtHostAPI", "VirtHost", "HTTPServer", "Locking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // The fuzzing oracle over request JSON → guest spec → validation → XML, checked with
        // libxml2's strict parser; the fuzzer runs it (scripts/fuzz.sh), and so do the tests.
        .target(name: "GuestSpecOracle", dependencies: ["GuestConfig", "CLibXML2"], path: "Fuzz/GuestSpecOracle"),
        // libFuzzer's target with `--sanitize=fuzzer -Xswiftc -DFUZZING`; a corpus replayer otherwise.
        .systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"),
        .executableTarget(name: "GuestSpecFuzzer", dependencies: ["GuestSpecOracle", "CLibFuzzer"], path: "Fuzz/GuestSpecFuzzer"),

        // In-process rendering speed, for scripts/bench.sh.
        .executableTarget(name: "RenderBenchmark", dependencies: ["GuestConfig"], path: "Benchmarks/RenderBenchmark"),
        // JSON writing speed: JSONWriter against Foundation's JSONEncoder.
        .executableTarget(name: "JSONBenchmark", dependencies: ["HTTPServer", "VirtHost"], path: "Benchmarks/JSONBenchmark"),

        // Test helpers shared by the test targets (a raw-socket HTTP client, a tree of disk paths).
        .target(name: "TestSupport", dependencies: ["Locking", .product(name: "Logging", package: "swift-log")], path: "Tests/TestSupport"),
        .testTarget(name: "LibvirtTests", dependencies: ["Libvirt", "Locking", "TestSupport"]),
        .testTarget(name: "GuestConfigTests", dependencies: ["GuestConfig", "GuestSpecOracle", "TestSupport"], exclude: ["Golden"]),
        .testTarget(name: "VirtHostTests", dependencies: ["VirtHost", "Libvirt", "GuestConfig", "Locking", "TestSupport", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer", "Locking", "TestSupport"]),
        .testTarget(name: "VirtHostAPITests", dependencies: ["VirtHostAPI", "VirtHost", "HTTPServer", "Libvirt", "GuestConfig", "Locking", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
