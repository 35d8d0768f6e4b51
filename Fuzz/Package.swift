// swift-tools-version:6.0
// libFuzzer targets for mixmae's file readers. Each target is an executable
// `fuzz-<name>` built from `Targets/<name>/` with one function,
// `LLVMFuzzerTestOneInput`, that hands the input to the reader's entry point
// (for the SDK: `ReaderFuzzing` in MixKit, which the test suite also uses to
// replay `Corpus/<name>/` and `Crashers/<name>/`). Build and run with
// `scripts/fuzz <name> <seconds>` (it builds with
// `--sanitize fuzzer -Xswiftc -sanitize=fuzzer,address`); see README.md.
import PackageDescription

/// Targets over the SDK (MixKit). Host readers (recipes, PNG/JPEG, COCO JSON)
/// will add their own list depending on the host's library product.
let kitTargets = ["safetensors", "pytorch", "pickle"]

let package = Package(
    name: "Fuzz",
    dependencies: [.package(path: "../Kit")],
    targets: kitTargets.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: [.product(name: "MixKit", package: "Kit")],
            path: "Targets/\(name)",
            // libFuzzer provides main(); the Swift file only defines the entry point.
            swiftSettings: [.unsafeFlags(["-parse-as-library"])]
        )
    },
    swiftLanguageModes: [.v5]
)
