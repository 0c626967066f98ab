// swift-tools-version:6.1
import PackageDescription

/// Hot numeric loops must be compiled for the vector width of the machine that runs them
/// (AVX-512 here); by default swiftc targets SSE2 and SIMD16 FMAs become scalar calls.
/// The binary is built where it runs (README, CI), so `native` is right and safe.
let nativeCPU: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "native"]),
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "FuRA",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "FuRA", targets: ["FuRA", "FuRATrain", "FuRAEval", "FuRAVision", "FuRAModels", "FuRANN", "FuRAFormats", "FuRATensor"]),
        .executable(name: "fura", targets: ["fura"]),
        .executable(name: "fura-bench", targets: ["fura-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // ONNX model files (the vision tower); the message code is generated once: scripts/onnx/generate.sh.
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        // Open MPI (Debian libopenmpi-dev): ranks and broadcasts of data-parallel training; a shim names its macros.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        // JPEG decoding through Debian's libjpeg-turbo; a C shim because libjpeg reports errors with longjmp.
        .target(name: "CJPEG", path: "Sources/CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
        // C only where Swift cannot reach the instruction (AVX512-BF16 dot products); portable fallback inside.
        .target(name: "CKernels", path: "Sources/CKernels"),
        .target(name: "FuRATensor", dependencies: ["CBLAS", "CKernels"], swiftSettings: nativeCPU),
        .target(name: "FuRAFormats", dependencies: ["FuRATensor", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                swiftSettings: nativeCPU),
        .target(name: "FuRANN", dependencies: ["FuRATensor"], swiftSettings: nativeCPU),
        .target(name: "FuRAModels", dependencies: ["FuRANN", "FuRAFormats", "FuRATensor"], swiftSettings: nativeCPU),
        .target(name: "FuRA", dependencies: ["FuRAModels", "FuRANN", "FuRAFormats", "FuRATensor"], swiftSettings: nativeCPU),
        .target(name: "FuRATrain", dependencies: ["FuRA", "FuRAVision", "FuRAModels", "FuRANN", "FuRAFormats", "FuRATensor"], swiftSettings: nativeCPU),
        // The vision track's data room: gzip and IDX, PNG, Fashion-MNIST as LLaVA visual-instruction data.
        .target(name: "FuRAVision", dependencies: ["FuRAModels", "FuRANN", "FuRAFormats", "FuRATensor", "CZlib", "CJPEG"], swiftSettings: nativeCPU),
        // Open MPI's Collective for FuRATrain's data-parallel seam (the CLI picks it under mpirun).
        .target(name: "FuRAMPI", dependencies: ["CMPI", "FuRATrain"], swiftSettings: nativeCPU),
        .target(name: "FuRAEval", dependencies: ["FuRATrain", "FuRA", "FuRAVision", "FuRAModels", "FuRAFormats", "FuRATensor"], swiftSettings: nativeCPU),
        .executableTarget(
            name: "fura",
            dependencies: [
                "FuRAEval", "FuRATrain", "FuRAMPI", "FuRA", "FuRAModels", "FuRAFormats", "FuRATensor", "FuRAVision",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: nativeCPU),
        .executableTarget(
            name: "fura-bench",
            dependencies: ["FuRAEval", "FuRATrain", "FuRA", "FuRAModels", "FuRANN", "FuRAFormats", "FuRATensor", "CBLAS"],
            swiftSettings: nativeCPU),
        .target(name: "FuRATestSupport", dependencies: ["FuRATensor"], swiftSettings: nativeCPU),
        // Seeds, mutations and loader checks of every input format (the suite's fuzz test and scripts/fuzz.sh).
        .target(name: "FuRAFuzz", dependencies: ["FuRATrain", "FuRAVision", "FuRA", "FuRAModels", "FuRAFormats", "FuRATensor"], swiftSettings: nativeCPU),
        .executableTarget(name: "fura-fuzz", dependencies: ["FuRAFuzz"], swiftSettings: nativeCPU),
        .testTarget(
            name: "FuRATests",
            dependencies: ["FuRAEval", "FuRATrain", "FuRA", "FuRAModels", "FuRANN", "FuRAFormats", "FuRATensor", "FuRATestSupport", "FuRAFuzz", "FuRAVision"],
            swiftSettings: nativeCPU),
    ],
    // Swift 5 mode: the numeric rooms share raw buffers across `concurrentPerform` workers by design.
    swiftLanguageModes: [.v5]
)
