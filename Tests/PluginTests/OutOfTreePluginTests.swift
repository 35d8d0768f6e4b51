import Foundation
import MixKit
import MixmaePluginHost
import TestSupport
import Testing

extension InProcess {
    /// The out-of-tree example, Plugins/Examples/PVT: built with its own `swift build`
    /// as a third party would, then loaded into the host through a registry.yaml.
    @Suite struct OutOfTreePluginTests {
        static let package = packageRoot + "/Plugins/Examples/PVT"
        static let library = package + "/.build/release/libMixPVT.so"

        /// Serialises ``buildIfNeeded()``: tests of several suites call it at once, and a second
        /// `swift build` relinking the library while another test loads it made that load fail.
        private static let buildLock = NSLock()

        /// Builds the package unless its library is newer than every source it is made from.
        static func buildIfNeeded() throws {
            buildLock.lock()
            defer { buildLock.unlock() }
            let sources =
                [package + "/Package.swift", packageRoot + "/Kit/Package.swift"]
                + files(under: package + "/Sources") + files(under: packageRoot + "/Kit/Sources")
            if let built = modified(library), sources.allSatisfy({ (modified($0) ?? .distantFuture) < built }) {
                return
            }
            let build = try runProgram("/usr/bin/env", ["swift", "build", "-c", "release", "--package-path", package])
            guard build.status == 0 else {
                throw TestSetupError("swift build of \(package) failed:\n\(build.stdout)\(build.stderr)")
            }
            // SwiftPM does not relink when a touched source compiles to the same object;
            // the build just said the library is up to date, so mark it so.
            try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: library)
        }

        static func files(under directory: String) -> [String] {
            let enumerator = FileManager.default.enumerator(atPath: directory)
            return (enumerator?.allObjects as? [String] ?? []).map { directory + "/" + $0 }
        }

        static func modified(_ path: String) -> Date? {
            (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        }

        @Test(.timeLimit(.minutes(20))) func theExampleBuildsOnItsOwnAndLinksTheSharedSDK() throws {
            try OutOfTreePluginTests.buildIfNeeded()
            let text = try runProgram("/usr/bin/readelf", ["-d", OutOfTreePluginTests.library]).stdout
            #expect(text.contains("Shared library: [libMixKit.so]"))
        }

        @Test(.timeLimit(.minutes(20))) func theHostLoadsItAndItPassesCheck() throws {
            try OutOfTreePluginTests.buildIfNeeded()
            let dir = try TemporaryFolder()
            let file = try dir.registry([OutOfTreePluginTests.library])

            // In this process: the stamp matches, and the component is the host's Backbone.
            let catalog = PluginCatalog(registry: try PluginRegistry.load(from: file))
            #expect(catalog.refusals.isEmpty, "\(catalog.refusals)")
            let pvt = try catalog.component("pvt", kind: .backbone)
            #expect(
                pvt.descriptor.parameters.map(\.name) == [
                    "img_size", "in_chans", "embed_dims", "depths", "num_heads", "sr_ratios", "mlp_ratios",
                    "drop_path_rate", "out_indices", "mixing",
                ])
            var params = Parameters(defaultsOf: pvt.descriptor.parameters)
            params["img_size"] = .int(64)
            params["out_indices"] = .intList([1, 3])
            let module = try pvt.descriptor.build(params, BuildContext())
            let backbone = try #require(module as? Backbone)
            let maps = withNoGrad { backbone.features(Tensor.full([2, 3, 64, 64], 0.1), mixing: nil) }
            #expect(maps.map(\.tensor.shape) == [[2, 64, 64], [2, 4, 256]])
            #expect(maps.map(\.stride) == [8, 32])
            #expect(backbone.capabilities.supportsMixing)
            #expect(backbone.layerCount == 10)
            #expect(backbone.layerIndex(ofParameter: "patch_embed1.proj.weight") == 0)
            #expect(backbone.layerIndex(ofParameter: "block1.1.attn.q.weight") == 2)
            #expect(backbone.layerIndex(ofParameter: "patch_embed2.norm.bias") == 3)
            #expect(backbone.layerIndex(ofParameter: "block4.1.mlp.fc2.bias") == 8)
            #expect(backbone.layerIndex(ofParameter: "norm4.weight") == 9)
            let names = Set(module.namedParameters().map(\.0))
            for name in [
                "patch_embed1.proj.weight", "patch_embed4.norm.bias", "block1.0.attn.sr.weight",
                "block1.0.attn.norm.weight",
                "block2.1.attn.kv.bias", "block3.0.mlp.dwconv.dwconv.weight", "norm3.weight",
            ] {
                #expect(names.contains(name), "\(name)")
            }
            #expect(!names.contains("block4.0.attn.sr.weight"), "sr_ratio 1 has no reduction")
            // A configuration that does not fit is a build error, not a crash.
            params["img_size"] = .int(48)
            #expect(throws: ComponentConfigurationError.self) { try pvt.descriptor.build(params, BuildContext()) }

            // Through the executable.
            let list = try runMixmae(["plugins", "list", "--registry", file])
            #expect(list.stdout.contains("pvt "))
            #expect(list.stdout.contains("1 component from 1 library; 0 refused"))
            let inspect = try runMixmae(["plugins", "inspect", "pvt", "--registry", file])
            let rows = inspect.stdout.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
            for row in ["4 32 56x56", "8 64 28x28", "16 160 14x14", "32 256 7x7", "Supports mixing yes"] {
                #expect(rows.contains(row), "\(inspect.stdout)")
            }
            let check = try runMixmae(["plugins", "check", "pvt", "--registry", file])
            #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
            #expect(check.stdout.contains("176 of 176 tensors received a gradient"))
            #expect(check.stdout.hasSuffix("\nPASS\n"))
        }

        /// Built with `mixing: false`, the backbone declares no mixing support and stops
        /// with a clear message if it is handed a mask anyway.
        @Test(.timeLimit(.minutes(20))) func aMixingMaskIsRefusedClearlyWithoutMixing() async throws {
            try OutOfTreePluginTests.buildIfNeeded()
            let result = await #expect(processExitsWith: .failure, observing: [\.standardErrorContent]) {
                let dir = try TemporaryFolder()
                let catalog = PluginCatalog(
                    registry: try PluginRegistry.load(from: try dir.registry([OutOfTreePluginTests.library])))
                let pvt = try catalog.component("pvt", kind: .backbone)
                var params = Parameters(defaultsOf: pvt.descriptor.parameters)
                params["img_size"] = .int(64)
                params["mixing"] = .bool(false)
                let backbone = try pvt.descriptor.build(params, BuildContext()) as! Backbone
                guard !backbone.capabilities.supportsMixing else { return }
                let mask = MixingMask(height: 2, width: 2, values: [0, 1, 1, 0])
                _ = backbone.features(Tensor.zeros([2, 3, 64, 64]), mixing: mask)
            }
            let text = String(decoding: result?.standardErrorContent ?? [], as: UTF8.self)
            #expect(text.contains("pvt: this backbone was built with mixing: false"), "\(text)")
        }
    }
}
