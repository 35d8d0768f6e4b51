// swift-tools-version:6.0
// libFuzzer targets for mixmae's file readers. Each target is an executable
// `fuzz-<name>` built from `Targets/<name>/` with one function,
// `LLVMFuzzerTestOneInput`, that hands the input to the reader's entry point
// (for the SDK: `ReaderFuzzing` in MixKit; for the host: `RecipeFuzzing` in
// MixmaeRecipes and `DataReaderFuzzing` in MixmaeData), which the test suite
// also uses to replay `Corpus/<name>/` and `Crashers/<name>/`. Build and run
// with `scripts/fuzz <name> <seconds>` (it builds with
// `--sanitize fuzzer -Xswiftc -sanitize=fuzzer,address`); see README.md.
import Foundation
import PackageDescription

/// Targets over the SDK (MixKit).
let kitTargets = ["safetensors", "pytorch", "pickle"]
/// Targets over the host's readers (the `MixmaeReaders` product of the root package).
let hostTargets = ["recipe", "png", "jpeg", "coco"]

/// SwiftPM names a path dependency after its folder (`main`, a worktree's
/// name, ...), not after its manifest: the root package's folder.
let hostPackage = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .lastPathComponent.lowercased()

// libFuzzer provides main(); the Swift file only defines the entry point.
let entryPointOnly: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "Fuzz",
    dependencies: [.package(path: "../Kit"), .package(path: "..")],
    targets: kitTargets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [.product(name: "MixKit", package: "Kit")],
            path: "Targets/\(name)",
            swiftSettings: entryPointOnly
        )
    }
        + hostTargets.map { name in
            .executableTarget(
                name: "fuzz-\(name)",
                dependencies: [.product(name: "MixmaeReaders", package: hostPackage)],
                path: "Targets/\(name)",
                swiftSettings: entryPointOnly
            )
        },
    swiftLanguageModes: [.v5]
)
