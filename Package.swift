// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mixmae",
    products: [
        .executable(name: "mixmae", targets: ["mixmae"]),
        .library(name: "MixSwin", type: .dynamic, targets: ["MixSwin"]),
        .library(name: "MixViTDecoder", type: .dynamic, targets: ["MixViTDecoder"]),
        .library(name: "MixReconstruction", type: .dynamic, targets: ["MixReconstruction"]),
        .library(name: "MixLinearCls", type: .dynamic, targets: ["MixLinearCls"]),
    ],
    dependencies: [
        .package(path: "Kit"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CYAML", path: "Sources/CYAML"),
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CJPEG", path: "Sources/CJPEG"),
        .target(
            name: "CHostSupport",
            path: "Sources/CHostSupport",
            linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]
        ),
        .target(
            name: "Host",
            dependencies: [
                .product(name: "MixKit", package: "Kit"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                "CYAML", "CSQLite", "CPNG", "CJPEG", "CHostSupport",
            ],
            path: "Sources/Host"
        ),
        .executableTarget(name: "mixmae", dependencies: ["Host"], path: "Sources/mixmae"),
        .target(name: "MixSwin", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/Swin"),
        .target(
            name: "MixViTDecoder", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/ViTDecoder"),
        .target(
            name: "MixReconstruction", dependencies: [.product(name: "MixKit", package: "Kit")],
            path: "Plugins/MixReconstruction"),
        .target(
            name: "MixLinearCls", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/LinearCls"),
        .testTarget(
            name: "KitTests",
            dependencies: [.product(name: "MixKit", package: "Kit")],
            path: "Tests/KitTests"
        ),
        .testTarget(name: "RecipeTests", dependencies: ["Host"], path: "Tests/RecipeTests"),
        .testTarget(name: "ImagingTests", dependencies: ["Host"], path: "Tests/ImagingTests"),
        .testTarget(name: "EvaluationTests", dependencies: ["Host"], path: "Tests/EvaluationTests"),
        .testTarget(name: "DataTests", dependencies: ["Host"], path: "Tests/DataTests"),
    ],
    swiftLanguageModes: [.v5]
)
