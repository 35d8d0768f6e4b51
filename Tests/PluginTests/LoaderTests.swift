import Foundation
import MixKit
import MixmaePluginHost
import TestSupport
import Testing

extension InProcess {
    /// Loads the test plugin libraries through a real registry.yaml in this process.
    @Suite struct LoaderTests {
        /// A refused fixture, the reason the loader must give, and words its message must contain.
        struct Case: CustomStringConvertible, Sendable {
            var fixture: String
            var summary: String
            var words: [String]
            var description: String { fixture }
        }

        static let refusals: [Case] = [
            Case(
                fixture: "OtherMajor", summary: "built for SDK \(otherMajorSDK), host has \(hostSDK)",
                words: [
                    "built against MixKit SDK \(otherMajorSDK)", "this host has SDK \(hostSDK)",
                    "rebuild the plugin against SDK \(hostSDK)",
                ]),
            Case(
                fixture: "NewerMinor", summary: "built for newer SDK \(nextMinorSDK), host has \(hostSDK)",
                words: ["SDK \(nextMinorSDK), newer than this host's SDK \(hostSDK)", "update mixmae"]),
            Case(
                fixture: "OtherCompiler", summary: "built by Swift 5.9.0, host by 6.3.1",
                words: ["built by Swift 5.9.0", "this host by Swift 6.3.1", "rebuild the plugin with Swift 6.3.1"]),
            Case(
                fixture: "OwnSDK", summary: "linked its own copy of the SDK",
                words: [
                    "linked its own copy of the SDK (found in \(fixture("OwnSDK")), the host's is \(buildDirectory)/libMixKit.so)",
                    "depend on the MixKit product of the Kit package, dynamically",
                ]),
            Case(
                fixture: "RegisterFails", summary: "register failed",
                words: ["failed to register its components: the lookup table toy.bin is missing next to the library"]),
            Case(
                fixture: "BadStamp", summary: "not a mixmae plugin (bad ABI stamp)",
                words: ["its `mixmae_plugin_abi` did not write a mixmae ABI stamp (no magic word)"]),
            Case(
                fixture: "NotAPlugin", summary: "not a mixmae plugin (no mixmae_plugin_abi)",
                words: ["is not a mixmae plugin: it exports no `mixmae_plugin_abi` symbol"]),
        ]

        @Test(arguments: refusals)
        func everyRefusalNamesTheFileTheEntryAndTheReason(_ c: Case) throws {
            let dir = try TemporaryFolder()
            // The fixture after the good plugin, so the entry is on line 3.
            let catalog = try catalog([fixture("Good"), fixture(c.fixture)], in: dir)
            #expect(catalog.components.map(\.id) == ["toy-backbone", "toy-broken-gradient", "toy-neck"])
            let refusal = try #require(catalog.refusals.first)
            #expect(catalog.refusals.count == 1)
            #expect(refusal.library == fixture(c.fixture))
            #expect(refusal.entry == "\(dir.path)/registry.yaml:3:5")
            #expect(refusal.summary == c.summary)
            let message = refusal.description
            #expect(message.hasPrefix(fixture(c.fixture) + " (listed at \(dir.path)/registry.yaml:3:5)"))
            for word in c.words { #expect(message.contains(word), "\(message)") }
        }

        @Test func aMissingFileAndAFileThatIsNotALibraryAreRefused() throws {
            let dir = try TemporaryFolder()
            try dir.write("libText.so", "not an ELF file\n")
            let catalog = try catalog(["nowhere/libNothing.so", "libText.so"], in: dir)
            #expect(catalog.libraries.isEmpty)
            let (missing, text) = (catalog.refusals[0], catalog.refusals[1])
            #expect(missing.reason == .notFound)
            #expect(missing.library == dir.path + "/nowhere/libNothing.so")
            #expect(
                missing.description
                    == "plugin library \(dir.path)/nowhere/libNothing.so (listed at \(dir.path)/registry.yaml:2:5) "
                    + "not found: build it, or correct or remove its entry in the registry")
            guard case .cannotOpen(let dlerror) = text.reason else {
                Issue.record("expected a dlopen failure, got \(text.reason)")
                return
            }
            #expect(dlerror.contains(dir.path + "/libText.so"))
            #expect(text.description.contains("cannot load plugin library \(dir.path)/libText.so"))
            #expect(text.description.contains("ldd"))
        }

        @Test func theGoodPluginRegistersItsComponentsWithTheirSchemas() throws {
            let dir = try TemporaryFolder()
            let catalog = try catalog(["${MIXMAE_PLUGIN_DIR}/libTestPluginGood.so"], in: dir)
            #expect(catalog.refusals.isEmpty)
            let library = try #require(catalog.libraries.first)
            #expect(library.path == fixture("Good"))
            #expect(library.stamp == PluginABI.hostStamp())
            let backbone = try catalog.component("toy-backbone", kind: .backbone)
            #expect(backbone.version == "1.2.0")
            #expect(backbone.library == fixture("Good"))
            #expect(catalog.schema(of: "toy-backbone")?.map(\.name).first == "img_size")
            #expect(catalog.schema(of: "toy-neck")?.first?.isRequired == true)
            #expect(catalog.schema(of: "swin") == nil)
            // The components are the host's types: a built backbone casts to the host's protocol.
            let module = try backbone.descriptor.build(Parameters(defaultsOf: backbone.descriptor.parameters), .init())
            #expect(module is Backbone)
            let wrongKind = #expect(throws: UnknownComponentError.self) {
                try catalog.component("toy-neck", kind: .backbone)
            }
            #expect(wrongKind?.description == "'toy-neck' is a neck, not a backbone; backbones: toy-backbone")
            let typo = #expect(throws: UnknownComponentError.self) {
                try catalog.component("toy-bakbone", kind: .backbone)
            }
            #expect(typo?.description.contains("did you mean 'toy-backbone'?") == true)
        }

        @Test func theCatalogProvidesComponentsToTheModelBuilder() throws {
            let dir = try TemporaryFolder()
            let catalog = try catalog([fixture("Good"), fixture("DuplicateA"), fixture("DuplicateB")], in: dir)
            let builder = ComponentBuilder(provider: catalog, rng: RandomSource(seed: 0))
            let toy = try #require(catalog.component("toy-backbone"))
            let backbone = try builder.backbone("toy-backbone", Parameters(defaultsOf: toy.descriptor.parameters))
            #expect(backbone.capabilities.outputs.map(\.stride) == [8, 16])
            let refused = #expect(throws: UnknownComponentError.self) {
                _ = try builder.reconstructionLoss("toy-unique-b", Parameters())
            }
            #expect(
                refused?.description.hasPrefix(
                    "the loss 'toy-unique-b' is registered by a library that was refused: \(fixture("DuplicateB"))")
                    == true)
        }

        @Test func theFirstLibraryWithAnIdWinsAndTheSecondIsRefusedWhole() throws {
            let dir = try TemporaryFolder()
            let ab = try catalog([fixture("DuplicateA"), fixture("DuplicateB")], in: dir)
            #expect(ab.components.map(\.id) == ["toy-duplicate"])
            #expect(ab.component("toy-duplicate")?.library == fixture("DuplicateA"))
            #expect(ab.component("toy-unique-b") == nil)
            let refusal = try #require(ab.refusals.first)
            #expect(refusal.reason == .duplicateComponent(id: "toy-duplicate", firstLibrary: fixture("DuplicateA")))
            #expect(refusal.componentIDs == ["toy-duplicate", "toy-unique-b"])
            #expect(
                refusal.description.contains(
                    "\(fixture("DuplicateB")) (listed at \(dir.path)/registry.yaml:3:5) registers component "
                        + "'toy-duplicate', which \(fixture("DuplicateA")) (loaded first) already provides"))
            #expect(refusal.description.contains("the whole library \(fixture("DuplicateB")) is refused"))
            #expect(ab.refusal(ofComponent: "toy-unique-b")?.library == fixture("DuplicateB"))

            // Registry order decides.
            let ba = try catalog([fixture("DuplicateB"), fixture("DuplicateA")], in: dir)
            #expect(ba.components.map(\.id) == ["toy-duplicate", "toy-unique-b"])
            #expect(ba.component("toy-duplicate")?.library == fixture("DuplicateB"))
            #expect(ba.refusals.map(\.library) == [fixture("DuplicateA")])
        }

        @Test func aFileListedTwiceIsLoadedOnce() throws {
            let dir = try TemporaryFolder()
            try FileManager.default.createSymbolicLink(
                atPath: dir.path + "/libLink.so", withDestinationPath: fixture("Good"))
            let catalog = try catalog([fixture("Good"), "libLink.so"], in: dir)
            #expect(catalog.libraries.count == 1)
            #expect(catalog.refusals.first?.reason == .listedTwice(first: "\(dir.path)/registry.yaml:2:5"))
            #expect(catalog.refusals.first?.description.contains("is listed twice in the registry") == true)
        }

        @Test func theStampRulesCompareMajorMinorCompilerAndSDKIdentity() {
            let host = PluginABI.hostStamp()
            let loader = PluginLoader(hostStamp: host)
            // SDK 2.3 grew ComponentDescriptor (validate): a 2.2 plugin's descriptor has another layout.
            var older = host
            older.sdkMinor = PluginLoader.oldestLayoutCompatibleMinor - 1
            #expect(loader.incompatibility(of: older) == .olderSDKLayout(plugin: older, host: host))
            // 2.4 only added the communicator kind: a plugin built against the oldest
            // layout-compatible minor still loads.
            var oldestCompatible = host
            oldestCompatible.sdkMinor = PluginLoader.oldestLayoutCompatibleMinor
            #expect(oldestCompatible.sdkMinor < host.sdkMinor)
            #expect(loader.incompatibility(of: oldestCompatible) == nil)
            #expect(loader.incompatibility(of: host) == nil)
            var other = host
            other.tensorMetadata += 64
            guard case .ownCopyOfSDK(_, let hostCopy) = loader.incompatibility(of: other) else {
                Issue.record("a different Tensor metadata address must be refused")
                return
            }
            #expect(hostCopy == buildDirectory + "/libMixKit.so")
            // A host with a newer minor accepts today's plugins; one with another major refuses them.
            var newerHost = host
            newerHost.sdkMinor += 1
            #expect(PluginLoader(hostStamp: newerHost).load(fixture("Good")).isSuccess)
            var nextMajorHost = host
            nextMajorHost.sdkMajor += 1
            if case .failure(let refusal) = PluginLoader(hostStamp: nextMajorHost).load(fixture("Good")) {
                #expect(refusal.summary == "built for SDK \(hostSDK), host has \(host.sdkMajor + 1).\(host.sdkMinor)")
            } else {
                Issue.record("a plugin for another SDK major must be refused")
            }
        }

        @Test func refusedLibrariesLeaveTheHostWorking() throws {
            let dir = try TemporaryFolder()
            let all = ["OtherMajor", "NewerMinor", "OtherCompiler", "OwnSDK", "RegisterFails", "NotAPlugin", "Good"]
            let catalog = try catalog(all.map(fixture), in: dir)
            #expect(catalog.refusals.count == 6)
            let toy = try catalog.component("toy-backbone", kind: .backbone)
            let params = Parameters(defaultsOf: toy.descriptor.parameters)
            let module = try toy.descriptor.build(params, toy.descriptor.exampleContext(params))
            #expect(toy.descriptor.probe(module, params, .init()).item().isFinite)
        }

        @Test func fixturesAreLinkedAsTheirNamesSay() throws {
            func needed(_ library: String) throws -> [String] {
                let text = try runProgram("/usr/bin/readelf", ["-d", library]).stdout
                return text.split(separator: "\n").filter { $0.contains("(NEEDED)") }.map(String.init)
            }
            #expect(try needed(fixture("Good")).contains { $0.contains("[libMixKit.so]") })
            #expect(try !needed(fixture("OwnSDK")).contains { $0.contains("libMixKit") })
        }

        @Test func descriptorsThatContradictThemselvesAreFound() {
            let bad = ComponentDescriptor(
                id: "Bad Id", kind: .backbone, version: "", license: "MIT", summary: "",
                parameters: [
                    .int("depth", default: 99, range: 1...12, doc: ""),
                    .int("depth", default: 2, doc: ""),
                    .string("norm", default: "bn", allowed: ["ln"], doc: ""),
                    .intList("dims", default: [1, 2], count: 4, doc: ""),
                    ParameterSpec(name: "lr", type: .float, defaultValue: .string("x"), doc: ""),
                ],
                build: { _, _ in Module() }, probe: { _, _, _ in Tensor(scalar: 0) })
            let problems = ComponentDescriptorCheck.problems(of: bad)
            #expect(
                problems == [
                    "the id 'Bad Id' is not lowercase letters, digits, '-', '_' or '.', starting with a letter or digit",
                    "the version is empty",
                    "the summary is empty",
                    "a backbone must declare its capabilities (feature maps, mixing support)",
                    "parameter 'depth': the default 99 is outside the declared range 1.0...12.0 (99.0)",
                    "parameter 'depth' is declared twice",
                    "parameter 'norm': the default 'bn' is not one of the allowed values [\"ln\"]",
                    "parameter 'dims': the default [1, 2] has 2 elements, the length is 4",
                    "parameter 'lr': the default x is of type string, the parameter of type float",
                ])
            #expect(ComponentDescriptorCheck.isValidID("mix-reconstruction"))
            #expect(ComponentDescriptorCheck.isValidID("vit.decoder_2"))
            #expect(!ComponentDescriptorCheck.isValidID("-swin"))
        }
    }
}

extension Result {
    var isSuccess: Bool {
        if case .success = self { return true }
        return false
    }
}
