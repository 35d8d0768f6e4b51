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
        .library(name: "MixFPN", type: .dynamic, targets: ["MixFPN"]),
        .library(name: "MixFCOS", type: .dynamic, targets: ["MixFCOS"]),
        .library(name: "MixUperNet", type: .dynamic, targets: ["MixUperNet"]),
    ] + testPluginProducts,
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
        .executableTarget(
            name: "mixmae",
            dependencies: ["Host", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            path: "Sources/mixmae"),
        .target(name: "MixSwin", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/Swin"),
        .target(
            name: "MixViTDecoder", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/ViTDecoder"),
        .target(
            name: "MixReconstruction", dependencies: [.product(name: "MixKit", package: "Kit")],
            path: "Plugins/MixReconstruction"),
        .target(
            name: "MixLinearCls", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/LinearCls"),
        .target(name: "MixFPN", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/FPN"),
        .target(name: "MixFCOS", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/FCOS"),
        .target(name: "MixUperNet", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/UperNet"),
        .testTarget(
            name: "PluginTests",
            dependencies: ["Host", "TestSupport", .product(name: "MixKit", package: "Kit")],
            path: "Tests/PluginTests"
        ),
        .target(name: "TestSupport", path: "Tests/Support"),
        .testTarget(
            name: "ParityTests", dependencies: [.product(name: "MixKit", package: "Kit"), "TestSupport"],
            path: "Tests/ParityTests"),
        // Kit's own tests (Kit/Tests), run by the root package's `swift test` too.
        .testTarget(
            name: "KitTests", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Kit/Tests/MixKitTests"),
        // The FCOS plugin's own logic (target assignment), linked into the tests directly.
        .testTarget(
            name: "FCOSTests", dependencies: ["MixFCOS", .product(name: "MixKit", package: "Kit")],
            path: "Tests/FCOSTests"),
        .testTarget(name: "RecipeTests", dependencies: ["Host", "TestSupport"], path: "Tests/RecipeTests"),
        .testTarget(name: "ImagingTests", dependencies: ["Host", "TestSupport"], path: "Tests/ImagingTests"),
        .testTarget(name: "EvaluationTests", dependencies: ["Host", "TestSupport"], path: "Tests/EvaluationTests"),
        .testTarget(
            name: "RegistryTests", dependencies: ["Host", "TestSupport", .product(name: "MixKit", package: "Kit")],
            path: "Tests/RegistryTests"),
        .testTarget(name: "DataTests", dependencies: ["Host", "TestSupport"], path: "Tests/DataTests"),
        .testTarget(name: "ReportTests", dependencies: ["Host", "TestSupport"], path: "Tests/ReportTests"),
        .testTarget(
            name: "DenseTaskTests", dependencies: ["Host", "TestSupport", .product(name: "MixKit", package: "Kit")],
            path: "Tests/DenseTaskTests"),
        .testTarget(
            name: "TrainingTests", dependencies: ["Host", "TestSupport", .product(name: "MixKit", package: "Kit")],
            path: "Tests/TrainingTests"),
    ] + testPluginTargets,
    swiftLanguageModes: [.v5]
)

// Test-only plugin libraries (Tests/FixturePlugins/<Name>, product TestPlugin<Name>):
// one good plugin, one for each way the host refuses a library, and one whose
// custom op has a wrong backward (which `plugins check` must catch). They are
// built with every `swift build` / `swift test` and found next to the binaries.
var testPluginProducts: [Product] {
    [
        "Good", "OtherMajor", "NewerMinor", "OtherCompiler", "OwnSDK", "RegisterFails", "DuplicateA", "DuplicateB",
        "NotAPlugin", "BadStamp", "WrongBackward",
    ].map { .library(name: "TestPlugin\($0)", type: .dynamic, targets: ["TestPlugin\($0)"]) }
}

var testPluginTargets: [Target] {
    let sdk: Target.Dependency = .product(name: "MixKit", package: "Kit")
    let ownCopyOfSDK: Target.Dependency = .product(name: "MixKitStatic", package: "Kit")
    let swiftPlugins: [(String, Target.Dependency)] = [
        ("Good", sdk), ("OtherMajor", sdk), ("NewerMinor", sdk), ("OtherCompiler", sdk), ("OwnSDK", ownCopyOfSDK),
        ("RegisterFails", sdk), ("DuplicateA", sdk), ("DuplicateB", sdk), ("WrongBackward", sdk),
    ]
    return swiftPlugins.map { name, dependency in
        .target(name: "TestPlugin\(name)", dependencies: [dependency], path: "Tests/FixturePlugins/\(name)")
    }
        + ["NotAPlugin", "BadStamp"].map { .target(name: "TestPlugin\($0)", path: "Tests/FixturePlugins/\($0)") }
}
