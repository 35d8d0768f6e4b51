// swift-tools-version:6.0
import PackageDescription

let kit: Target.Dependency = .product(name: "MixKit", package: "Kit")

let package = Package(
    name: "mixmae",
    products: [
        .executable(name: "mixmae", targets: ["mixmae"]),
        .executable(name: "mixmae-plugin-scanner", targets: ["mixmae-plugin-scanner"]),
        // The readers of user files (recipes, images, COCO JSON), for the fuzz targets in Fuzz/.
        .library(name: "MixmaeReaders", targets: ["MixmaeRecipes", "MixmaeData"]),
        .library(name: "MixSwin", type: .dynamic, targets: ["MixSwin"]),
        .library(name: "MixViTDecoder", type: .dynamic, targets: ["MixViTDecoder"]),
        .library(name: "MixReconstruction", type: .dynamic, targets: ["MixReconstruction"]),
        .library(name: "MixLinearCls", type: .dynamic, targets: ["MixLinearCls"]),
        .library(name: "MixFPN", type: .dynamic, targets: ["MixFPN"]),
        .library(name: "MixFCOS", type: .dynamic, targets: ["MixFCOS"]),
        .library(name: "MixUperNet", type: .dynamic, targets: ["MixUperNet"]),
        .library(name: "MixRPN", type: .dynamic, targets: ["MixRPN"]),
        .library(name: "MixRoIBox", type: .dynamic, targets: ["MixRoIBox"]),
        .library(name: "MixRoIMask", type: .dynamic, targets: ["MixRoIMask"]),
        .library(name: "MixMPI", type: .dynamic, targets: ["MixMPI"]),
    ] + testPluginProducts,
    dependencies: [
        .package(path: "Kit"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
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
        // The host, in layers; a target imports only the ones below it (ARCHITECTURE.md).
        .target(name: "MixmaeSupport", dependencies: [], path: "Sources/MixmaeSupport"),
        .target(
            name: "MixmaeRecipes", dependencies: ["MixmaeSupport", kit, "CYAML"], path: "Sources/MixmaeRecipes"),
        .target(
            name: "MixmaeRuns", dependencies: ["MixmaeSupport", "CSQLite"], path: "Sources/MixmaeRuns"),
        .target(
            name: "MixmaePluginHost", dependencies: ["MixmaeSupport", "MixmaeRecipes", kit, "CHostSupport"],
            path: "Sources/MixmaePluginHost"),
        .target(
            name: "MixmaeData", dependencies: ["MixmaeSupport", kit, "CPNG", "CJPEG", "CHostSupport"],
            path: "Sources/MixmaeData"),
        .target(
            name: "MixmaeEvaluation", dependencies: ["MixmaeSupport", "MixmaeData"], path: "Sources/MixmaeEvaluation"),
        .target(
            name: "MixmaeReports", dependencies: ["MixmaeSupport", "MixmaeRuns"], path: "Sources/MixmaeReports"),
        .target(
            name: "MixmaeUI",
            dependencies: [
                "MixmaeSupport", "MixmaeRuns", "MixmaeReports", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/MixmaeUI"),
        .target(
            name: "MixmaeTasks",
            dependencies: [
                "MixmaeSupport", "MixmaeRecipes", "MixmaeRuns", "MixmaePluginHost", "MixmaeData", "MixmaeEvaluation",
                kit, "CHostSupport",
            ],
            path: "Sources/MixmaeTasks"),
        .executableTarget(
            name: "mixmae",
            dependencies: [
                "MixmaeSupport", "MixmaeRecipes", "MixmaeRuns", "MixmaePluginHost", "MixmaeData", "MixmaeEvaluation",
                "MixmaeTasks", "MixmaeReports", "MixmaeUI", kit,
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Sources/mixmae"),
        // Loads one plugin library in a process of its own before the host maps it (PluginScanner).
        .executableTarget(
            name: "mixmae-plugin-scanner", dependencies: ["MixmaePluginHost"], path: "Sources/mixmae-plugin-scanner"),
        // The Swin plugin: its model (MixSwinModel, which tests link directly) and its entry points.
        .target(
            name: "MixSwinModel", dependencies: [.product(name: "MixKit", package: "Kit")], path: "Plugins/Swin",
            exclude: ["Plugin.swift"]),
        .target(
            name: "MixSwin", dependencies: ["MixSwinModel", .product(name: "MixKit", package: "Kit")],
            path: "Plugins/Swin",
            exclude: [
                "SwinBackbone.swift", "SwinBlocks.swift", "SwinConfig.swift", "SwinMaskToken.swift",
                "SwinPadding.swift", "WindowAttention.swift",
            ], sources: ["Plugin.swift"]),
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
        // Mask R-CNN's three plugins: each a model (Model/, which tests link directly) and its entry points.
        .target(name: "MixRPNModel", dependencies: [kit], path: "Plugins/RPN/Model"),
        .target(name: "MixRPN", dependencies: ["MixRPNModel", kit], path: "Plugins/RPN", exclude: ["Model"]),
        .target(name: "MixRoIBoxModel", dependencies: [kit], path: "Plugins/RoIBox/Model"),
        .target(name: "MixRoIBox", dependencies: ["MixRoIBoxModel", kit], path: "Plugins/RoIBox", exclude: ["Model"]),
        .target(name: "MixRoIMaskModel", dependencies: [kit], path: "Plugins/RoIMask/Model"),
        .target(
            name: "MixRoIMask", dependencies: ["MixRoIMaskModel", kit], path: "Plugins/RoIMask", exclude: ["Model"]),
        // The MPI communicator: Debian's Open MPI (libopenmpi-dev, scripts/install-deps).
        .systemLibrary(
            name: "CMPI", path: "Plugins/MPI/CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "MixMPIShim", dependencies: ["CMPI"], path: "Plugins/MPI/Shim"),
        .target(
            name: "MixMPI", dependencies: ["MixMPIShim", .product(name: "MixKit", package: "Kit")],
            path: "Plugins/MPI/Plugin"),
        .target(name: "TestSupport", path: "Tests/Support"),
        // One test target per host target (and Kit's own tests).
        .testTarget(name: "SupportTests", dependencies: ["MixmaeSupport", "TestSupport"], path: "Tests/SupportTests"),
        .testTarget(
            name: "RecipeTests", dependencies: ["MixmaeRecipes", "MixmaeSupport", "TestSupport"],
            path: "Tests/RecipeTests"),
        .testTarget(
            name: "RegistryTests",
            dependencies: ["MixmaeRuns", "MixmaeSupport", "TestSupport"], path: "Tests/RegistryTests"),
        .testTarget(
            name: "PluginTests",
            dependencies: ["MixmaePluginHost", "MixmaeRecipes", "MixmaeRuns", "TestSupport", kit],
            path: "Tests/PluginTests"),
        .testTarget(
            name: "ImagingTests", dependencies: ["MixmaeData", "TestSupport", kit], path: "Tests/ImagingTests"),
        .testTarget(name: "DataTests", dependencies: ["MixmaeData", "TestSupport"], path: "Tests/DataTests"),
        .testTarget(
            name: "EvaluationTests", dependencies: ["MixmaeEvaluation", "MixmaeData", "TestSupport"],
            path: "Tests/EvaluationTests"),
        .testTarget(
            name: "ReportTests", dependencies: ["MixmaeReports", "MixmaeRuns", "MixmaeData", "TestSupport"],
            path: "Tests/ReportTests"),
        .testTarget(
            name: "UITests", dependencies: ["MixmaeUI", "MixmaeRuns", "MixmaeReports", "MixmaeSupport", "TestSupport"],
            path: "Tests/UITests"),
        // The FCOS plugin's own logic (target assignment), linked into the tests directly.
        .testTarget(name: "FCOSTests", dependencies: ["MixFCOS", kit], path: "Tests/FCOSTests"),
        // The Swin plugin's padding path (package API), linked into the tests directly.
        .testTarget(name: "SwinTests", dependencies: ["MixSwinModel", kit], path: "Tests/SwinTests"),
        // Mask R-CNN's plugins (assigners, samplers, losses, gradients), linked into the tests directly.
        .testTarget(
            name: "MaskRCNNTests", dependencies: ["MixRPNModel", "MixRoIBoxModel", "MixRoIMaskModel", kit],
            path: "Tests/MaskRCNNTests"),
        .testTarget(
            name: "DenseTaskTests",
            dependencies: [
                "MixmaeTasks", "MixmaeRecipes", "MixmaePluginHost", "MixmaeData", "MixmaeEvaluation", "TestSupport",
                kit,
            ],
            path: "Tests/DenseTaskTests"),
        .testTarget(
            name: "TrainingTests", dependencies: ["MixmaeTasks", "MixmaeRuns", "MixmaeData", "TestSupport", kit],
            path: "Tests/TrainingTests"),
        .testTarget(name: "CommandLineTests", dependencies: ["TestSupport"], path: "Tests/CommandLineTests"),
        .testTarget(name: "ParityTests", dependencies: [kit, "TestSupport"], path: "Tests/ParityTests"),
        // Kit's own tests (Kit/Tests), run by the root package's `swift test` too.
        .testTarget(name: "KitTests", dependencies: [kit], path: "Kit/Tests/MixKitTests"),
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
        "NotAPlugin", "BadStamp", "WrongBackward", "CrashesOnLoad", "CrashesOnRegister", "HangsOnRegister",
        "FixedSize",
    ].map { .library(name: "TestPlugin\($0)", type: .dynamic, targets: ["TestPlugin\($0)"]) }
}

var testPluginTargets: [Target] {
    let sdk: Target.Dependency = .product(name: "MixKit", package: "Kit")
    let ownCopyOfSDK: Target.Dependency = .product(name: "MixKitStatic", package: "Kit")
    let swiftPlugins: [(String, Target.Dependency)] = [
        ("Good", sdk), ("OtherMajor", sdk), ("NewerMinor", sdk), ("OtherCompiler", sdk), ("OwnSDK", ownCopyOfSDK),
        ("RegisterFails", sdk), ("DuplicateA", sdk), ("DuplicateB", sdk), ("WrongBackward", sdk),
        ("CrashesOnRegister", sdk), ("HangsOnRegister", sdk), ("FixedSize", sdk),
    ]
    return swiftPlugins.map { name, dependency in
        .target(name: "TestPlugin\(name)", dependencies: [dependency], path: "Tests/FixturePlugins/\(name)")
    }
        + ["NotAPlugin", "BadStamp", "CrashesOnLoad"].map {
            .target(name: "TestPlugin\($0)", path: "Tests/FixturePlugins/\($0)")
        }
}
