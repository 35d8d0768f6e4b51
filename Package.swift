// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "mixmae",
    products: [
        .executable(name: "mixmae", targets: ["mixmae"])
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
        .testTarget(name: "ImagingTests", dependencies: ["Host"], path: "Tests/ImagingTests"),
        .testTarget(name: "EvaluationTests", dependencies: ["Host"], path: "Tests/EvaluationTests"),
    ],
    swiftLanguageModes: [.v5]
)
