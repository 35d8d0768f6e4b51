// swift-tools-version:6.0
// MixKit: the SDK that the host and every plugin share. It lives in its own
// package so that its `.dynamic` product is linked once (libMixKit.so) and
// every plugin sees the same type metadata: a plugin that linked its own copy
// would have its own `Tensor` type, and the host could not use its modules
// (the stamp check in Sources/MixKit/Plugin/ABI.swift refuses such a plugin;
// ARCHITECTURE.md at the repository root shows where the SDK sits).
import PackageDescription

let package = Package(
    name: "Kit",
    products: [
        // The SDK (module MixKit) and its testing kit (module MixKitTesting: the
        // finite-difference gradient checker and the component probes that the
        // host's `plugins check` runs, for plugins' own tests; no test framework
        // inside, so the host uses it at run time too), in one libMixKit.so.
        // MixKitTesting is not a product of its own on purpose: SwiftPM links a
        // product's target dependencies statically, so a separate MixKitTesting
        // product would carry a second copy of MixKit (a second `Tensor` type)
        // into every process that also loads libMixKit.so.
        .library(name: "MixKit", type: .dynamic, targets: ["MixKit", "MixKitTesting"]),
        // Only for the host's test that a plugin which links its own copy of the
        // SDK is refused. Plugins must depend on the dynamic `MixKit` product.
        .library(name: "MixKitStatic", type: .static, targets: ["MixKit"]),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        // No -m flags: the binary must run on any x86-64 (or other) CPU. The
        // kernels are compiled for AVX2+FMA and AVX-512 too, and the fastest
        // path the CPU supports is chosen at run time (include/cpu_dispatch.h).
        // -fno-math-errno: libm's sqrtf sets errno for negative input, so with it the compiler keeps a scalar
        // call per element and AdamW's loop (a square root and two divisions) does not vectorise (8x slower).
        // Square root and division are correctly rounded either way: results do not change.
        .target(
            name: "CKernels",
            path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),
        // Built with Swift's checks on (-O): shape checks sit at op entry and
        // the hot loops run on unsafe pointers.
        .target(
            name: "MixKit",
            dependencies: ["CBLAS", "CKernels"],
            path: "Sources/MixKit"
        ),
        .target(name: "MixKitTesting", dependencies: ["MixKit"], path: "Sources/MixKitTesting"),
        // The SDK's own tests. The root package builds the same folder as its
        // `KitTests` target, so `swift test` at the root runs them too.
        .testTarget(name: "MixKitTests", dependencies: ["MixKit", "MixKitTesting"], path: "Tests/MixKitTests"),
    ],
    swiftLanguageModes: [.v5]
)
