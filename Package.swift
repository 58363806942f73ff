// swift-tools-version:6.0
// prunerd — streaming Density-Based Pruning of web-scale embedding data.
//
// Layout tells the architecture:
//   PrunerCore    pure algorithm (k-means, concepts, quotas, decisions), no I/O
//   PrunerIO      codecs: LZ4 frames (liblz4), PRN1 / JSON Lines records, .npy/.npz (zlib), log lines
//   PrunerDaemon  libuv event loop wiring inputs → engine → decision log
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
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
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
        .target(name: "CAllocatorPolicy"),
        // AMX needs intrinsics Swift lacks; optimised in every configuration, like the core.
        .target(name: "CMatrixTiles", cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "PrunerCore",
            dependencies: ["CMatrixTiles"],
            swiftSettings: kernelFlags
        ),
        .target(
            name: "PrunerIO",
            dependencies: ["CLZ4", "CZlib", "PrunerCore"],
            swiftSettings: kernelFlags
        ),
        .target(
            name: "PrunerDaemon",
            dependencies: [
                "CLibUV", "CAllocatorPolicy", "PrunerIO", "PrunerCore",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "prunerd",
            dependencies: [
                "PrunerDaemon", "PrunerIO", "PrunerCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]
        ),
        .testTarget(name: "PrunerCoreTests", dependencies: ["PrunerCore"]),
        .testTarget(name: "PrunerIOTests", dependencies: ["PrunerIO", "PrunerCore"]),
        .testTarget(name: "PrunerDaemonTests", dependencies: ["PrunerDaemon", "PrunerIO", "PrunerCore"]),
    ]
)
