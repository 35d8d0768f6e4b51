// swift-tools-version:6.0
// MixKit: the SDK that the host and every plugin share. It lives in its own
// package so that its `.dynamic` product is linked once (libMixKit.so) and
// every plugin sees the same type metadata (see DESIGN.md section 3).
import PackageDescription

let package = Package(
    name: "Kit",
    products: [
        .library(name: "MixKit", type: .dynamic, targets: ["MixKit"]),
        // Only for the host's test that a plugin which links its own copy of the
        // SDK is refused. Plugins must depend on the dynamic `MixKit` product.
        .library(name: "MixKitStatic", type: .static, targets: ["MixKit"]),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .target(
            name: "CKernels",
            path: "Sources/CKernels",
            cSettings: [.unsafeFlags(["-O3", "-mavx2", "-mfma"])]
        ),
        .target(
            name: "MixKit",
            dependencies: ["CBLAS", "CKernels"],
            path: "Sources/MixKit",
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        // The SDK's own tests. The root package builds the same folder as its
        // `KitTests` target, so `swift test` at the root runs them too.
        .testTarget(name: "MixKitTests", dependencies: ["MixKit"], path: "Tests/MixKitTests"),
    ],
    swiftLanguageModes: [.v5]
)
