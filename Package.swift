// swift-tools-version:6.0
// prunerd — streaming Density-Based Pruning of web-scale embedding data.
//
// Layout tells the architecture:
//   PrunerCore    pure algorithm (k-means, concepts, quotas, decisions), no I/O
//   PrunerEvaluation  fidelity and dedup measures against the offline recipe (not linked by the daemon)
//   PrunerIO      codecs: LZ4 frames (liblz4), PRN1 / JSON Lines records, .npy/.npz (zlib), log lines
//   PrunerDaemon  libuv event loop wiring inputs → engine → decision log
//   PrunerConfig  serve's option table, the config file, DaemonSettings (command line > file > defaults)
//   prunerd       the command line
import Foundation
import PackageDescription

// The algorithm's kernels are SIMD code that is ~50× slower unoptimised, so the
// core and the codecs are compiled with -O even in debug builds (tests run in
// minutes, not hours). They target the CPU of the building machine — prunerd is
// built where it runs (scripts/install) — so AVX-512 and FMA are used where present.
// PRUNERD_TARGET_CPU=<llvm cpu> builds for another CPU; `generic` also turns FMA off.
let targetCPU = ProcessInfo.processInfo.environment["PRUNERD_TARGET_CPU"] ?? "native"
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-O", "-target-cpu", targetCPU] + (targetCPU == "generic" ? [] : ["-DPRUNER_FMA"])),
]

let package = Package(
    name: "prunerd",
    products: [
        .executable(name: "prunerd", targets: ["prunerd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // FileDescriptor and Errno where prunerd calls the system itself, outside the libuv wrapper.
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibUV",
            pkgConfig: "libuv",
            providers: [.apt(["libuv1-dev"])]
        ),
        .systemLibrary(
            name: "CLZ4",
            pkgConfig: "liblz4",
            providers: [.apt(["liblz4-dev"])]
        ),
        // Deflated .npz members (numpy.savez_compressed).
        .systemLibrary(
            name: "CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // Redis (issue 18): hiredis 0.14's async API and its libuv adapter, on the daemon's loop.
        .systemLibrary(
            name: "CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        .target(name: "CAllocatorPolicy"),
        // AMX needs intrinsics Swift lacks; optimised in every configuration, like the core.
        .target(name: "CMatrixTiles", cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "PrunerCore",
            dependencies: ["CMatrixTiles", "CZlib", .product(name: "DequeModule", package: "swift-collections")],
            swiftSettings: kernelFlags
        ),
        .target(name: "PrunerEvaluation", dependencies: ["PrunerCore"], swiftSettings: kernelFlags),
        .target(
            name: "PrunerIO",
            dependencies: ["CLZ4", "CZlib", "PrunerCore"],
            swiftSettings: kernelFlags
        ),
        .target(
            name: "PrunerDaemon",
            dependencies: [
                "CLibUV", "CHiredis", "CAllocatorPolicy", "PrunerIO", "PrunerCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "PrunerConfig",
            dependencies: ["PrunerDaemon", "PrunerIO", "PrunerCore", .product(name: "Logging", package: "swift-log")]
        ),
        // The fuzz targets' entry points; the fuzz executables and the corpus replay test share them.
        .target(name: "PrunerFuzzing", dependencies: ["PrunerConfig", "PrunerDaemon", "PrunerIO", "PrunerCore"]),
        .executableTarget(
            name: "prunerd",
            dependencies: [
                "PrunerConfig", "PrunerDaemon", "PrunerEvaluation", "PrunerIO", "PrunerCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .testTarget(name: "PrunerCoreTests", dependencies: ["PrunerCore", "PrunerEvaluation"], exclude: ["Checkpoint/Fixtures"]),
        .testTarget(name: "PrunerIOTests", dependencies: ["PrunerIO", "PrunerCore"]),
        .testTarget(name: "PrunerDaemonTests", dependencies: [
            "PrunerConfig", "PrunerDaemon", "PrunerIO", "PrunerCore", .product(name: "Logging", package: "swift-log"),
        ], exclude: ["Fixtures", "Golden/digests.txt", "Golden/make_inputs.py"]),
        .testTarget(name: "PrunerFuzzingTests", dependencies: ["PrunerFuzzing", "PrunerConfig", "PrunerIO", "PrunerCore"]),
    ]
)

// libFuzzer executables, one per target (Fuzz/Targets/NAME/main.swift), only in
// the fuzz build (`scripts/fuzz`, PRUNERD_FUZZ=1, scratch path .build-fuzz): they
// need `-sanitize=fuzzer` to link, and the normal build has no use for them.
if ProcessInfo.processInfo.environment["PRUNERD_FUZZ"] == "1" {
    package.targets.append(.systemLibrary(name: "CLibFuzzer", path: "Fuzz/CLibFuzzer"))
    for name in ["lz4-stream", "prn1", "json-lines", "npy", "checkpoint", "config"] {
        package.targets.append(.executableTarget(
            name: "fuzz-\(name)", dependencies: ["CLibFuzzer", "PrunerFuzzing"], path: "Fuzz/Targets/\(name)"))
        package.products.append(.executable(name: "fuzz-\(name)", targets: ["fuzz-\(name)"]))
    }
}
