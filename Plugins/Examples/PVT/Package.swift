// swift-tools-version:6.0
// A PVT backbone for mixmae, written as a third party would: its own package,
// depending only on the mixmae SDK (the Kit package) by path. See README.md.
import PackageDescription

let package = Package(
    name: "PVT",
    products: [
        // `.dynamic`: the host loads libMixPVT.so at run time.
        .library(name: "MixPVT", type: .dynamic, targets: ["MixPVT"])
    ],
    dependencies: [
        // The SDK. Its package name is its folder's name, "Kit".
        .package(path: "../../../Kit")
    ],
    targets: [
        .target(
            name: "MixPVT",
            // The dynamic MixKit product, so that the plugin uses the host's
            // libMixKit.so instead of linking its own copy of the SDK.
            dependencies: [.product(name: "MixKit", package: "Kit")],
            path: "Sources/MixPVT"
        ),
        // Unit tests of the plugin's own pieces and the host's `plugins check`, through
        // the SDK's testing kit (`swift test --package-path Plugins/Examples/PVT`). They
        // import MixPVT plainly (release builds have no `@testable`), so the pieces
        // they exercise are public; the host itself only sees the registered descriptor.
        .testTarget(
            name: "MixPVTTests",
            // The MixKit product holds both the SDK and its testing kit (import MixKitTesting).
            dependencies: ["MixPVT", .product(name: "MixKit", package: "Kit")],
            path: "Tests/MixPVTTests"
        ),
    ],
    swiftLanguageModes: [.v5]
)
