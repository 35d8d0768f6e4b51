import Foundation
import MixKit
import MixmaePluginHost
import MixmaeRecipes
import TestSupport
import Testing

@Suite struct RegistryTests {
    @Test func pathsAreRelativeToTheFileAndVariablesExpand() throws {
        let dir = try TemporaryFolder()
        let file = try dir.write(
            "conf/registry.yaml",
            """
            # comment
            plugins:
              - libA.so
              - ../lib/libB.so
              - ${MIXMAE_PLUGIN_DIR}/libC.so
              - "${TOY_ROOT}/libD.so"
              - /opt/mixmae/libE.so

            """)
        let registry = try PluginRegistry.load(
            from: file, environment: ["MIXMAE_PLUGIN_DIR": "/built", "TOY_ROOT": "/toys"])
        #expect(
            registry.entries.map(\.path) == [
                dir.path + "/conf/libA.so", dir.path + "/lib/libB.so", "/built/libC.so", "/toys/libD.so",
                "/opt/mixmae/libE.so",
            ])
        #expect(registry.entries.map(\.text)[2] == "${MIXMAE_PLUGIN_DIR}/libC.so")
        #expect(registry.entries.map(\.mark.description)[1] == file + ":4:5")
        // Without the variable, the plugin directory is the running executable's.
        let defaulted = try PluginRegistry.load(from: file, environment: ["TOY_ROOT": "/toys"])
        #expect(defaulted.entries[2].path == buildDirectory + "/libC.so")
    }

    @Test func emptyFilesAndListsRegisterNothing() throws {
        let dir = try TemporaryFolder()
        for text in ["", "# nothing yet\n", "plugins:\n", "plugins: []\n", "plugins: ~  # none\n"] {
            let registry = try PluginRegistry.load(from: try dir.write("r.yaml", text))
            #expect(registry.entries.isEmpty, "\(text)")
        }
    }

    @Test func mistakesAreReportedAtFileLineAndColumn() throws {
        let dir = try TemporaryFolder()
        func failure(_ text: String, environment: [String: String] = [:]) throws -> String {
            let file = try dir.write("registry.yaml", text)
            do {
                _ = try PluginRegistry.load(from: file, environment: environment)
                return "no error"
            } catch let error as YAMLError {
                return error.description.replacingOccurrences(of: file, with: "R")
            }
        }
        #expect(
            try failure("plugin:\n  - a.so\n")
                == "R:1:1: error: unknown key 'plugin'; the registry has one key, 'plugins' (a list of library "
                + "paths); did you mean 'plugins'?")
        #expect(
            try failure("plugins:\n  - a.so\n  - 3\n")
                == "R:3:5: error: expected a library path (a string), found int 3")
        #expect(
            try failure("plugins:\n  - a.so\n  - {path: b.so}\n")
                == "R:3:5: error: expected a library path (a string), found a mapping")
        #expect(
            try failure("plugins: a.so\n")
                == "R:1:10: error: 'plugins' must be a list of library paths, found string 'a.so'")
        #expect(
            try failure("- a.so\n")
                == "R:1:1: error: expected a mapping with the key 'plugins' (a list of library paths), found a list")
        #expect(
            try failure("plugins:\n  - ${NOPE}/a.so\n")
                == "R:2:5: error: the environment variable NOPE in '${NOPE}/a.so' is not set; set it, or write the "
                + "path without it")
        #expect(
            try failure("plugins:\n  - ${OOPS/a.so\n")
                == "R:2:5: error: unterminated '${' in '${OOPS/a.so'; write ${NAME}")
        // libyaml's own syntax errors keep their marks too.
        #expect(try failure("plugins:\n  - a.so\n - b.so\n").hasPrefix("R:3:2: error: "))
        let missing = dir.path + "/absent.yaml"
        #expect(throws: YAMLError.self) { try PluginRegistry.load(from: missing) }
    }

    @Test func theRegistryIsFoundFromTheOptionTheVariableOrTheDirectories() throws {
        let dir = try TemporaryFolder()
        try dir.write("registry.yaml", "plugins: []\n")
        try FileManager.default.createDirectory(atPath: dir.path + "/a/b", withIntermediateDirectories: true)
        let nested = dir.path + "/a/b"
        #expect(PluginRegistry.locate(environment: [:], currentDirectory: nested) == dir.path + "/registry.yaml")
        #expect(
            PluginRegistry.locate(environment: ["MIXMAE_REGISTRY": "other.yaml"], currentDirectory: nested)
                == nested + "/other.yaml")
        #expect(
            PluginRegistry.locate(
                explicit: "/x/r.yaml", environment: ["MIXMAE_REGISTRY": "other.yaml"], currentDirectory: nested)
                == "/x/r.yaml")
        let empty = try TemporaryFolder()
        #expect(PluginRegistry.locate(environment: [:], currentDirectory: empty.path) == empty.path + "/registry.yaml")
    }

    @Test func entriesAreWrittenRelativeToTheRegistry() throws {
        let registry = try PluginRegistry.parse("", path: "/repo/registry.yaml")
        #expect(
            registry.entryText(for: "/repo/Plugins/PVT/.build/release/libMixPVT.so")
                == "Plugins/PVT/.build/release/libMixPVT.so")
        #expect(registry.entryText(for: "/repo2/lib/libX.so") == "/repo2/lib/libX.so")
        let nested = try PluginRegistry.parse("", path: "/home/me/conf/registry.yaml")
        #expect(nested.entryText(for: "/home/me/lib/libX.so") == "../lib/libX.so")
    }

    /// (registry text before, text after appending "new/libN.so")
    static let appendCases: [(String, String)] = [
        ("", PluginRegistry.header + "\nplugins:\n  - new/libN.so\n"),
        ("# mine\n", "# mine\nplugins:\n  - new/libN.so\n"),
        ("plugins:\n", "plugins:\n  - new/libN.so\n"),
        ("plugins: []   # none yet\n# end\n", "plugins:  # none yet\n  - new/libN.so\n# end\n"),
        ("plugins: ~\n", "plugins:\n  - new/libN.so\n"),
        (
            "# top\nplugins:\n  # the first\n  - a.so   # why\n  - b.so\n\n# trailing\n",
            "# top\nplugins:\n  # the first\n  - a.so   # why\n  - b.so\n  - new/libN.so\n\n# trailing\n"
        ),
        ("plugins:\n- a.so\n", "plugins:\n- a.so\n- new/libN.so\n"),
        ("plugins:\n    -   a.so", "plugins:\n    -   a.so\n    - new/libN.so\n"),
    ]

    @Test(arguments: appendCases)
    func appendingKeepsTheFileAsWritten(_ before: String, _ after: String) throws {
        let registry = try PluginRegistry.parse(before, path: "/r/registry.yaml")
        let edited = try registry.appending("new/libN.so")
        #expect(edited == after)
        let reparsed = try PluginRegistry.parse(edited, path: "/r/registry.yaml")
        #expect(reparsed.entries.last?.path == "/r/new/libN.so")
    }

    @Test func pathsThatYAMLWouldMisreadAreQuoted() throws {
        let registry = try PluginRegistry.parse("plugins:\n  - a.so\n", path: "/r/registry.yaml")
        let edited = try registry.appending("odd #1/true: lib.so")
        #expect(edited == "plugins:\n  - a.so\n  - \"odd #1/true: lib.so\"\n")
        #expect(try PluginRegistry.parse(edited, path: "/r/registry.yaml").entries.last?.text == "odd #1/true: lib.so")
    }

    @Test func aFlowListIsLeftForTheUserToEdit() throws {
        let registry = try PluginRegistry.parse("plugins: [a.so]\n", path: "/r/registry.yaml")
        let error = #expect(throws: YAMLError.self) { try registry.appending("b.so") }
        #expect(error?.description.contains("flow list") == true)
    }
}

@Suite struct RepositoryRegistryTests {
    @Test func theRootRegistryDocumentsItsFormatAndLoadsEveryInTreePlugin() throws {
        let file = packageRoot + "/registry.yaml"
        let registry = try PluginRegistry.load(from: file)
        #expect(registry.text.hasPrefix(PluginRegistry.header))
        #expect(
            registry.entries.map(\.text) == [
                "${MIXMAE_PLUGIN_DIR}/libMixSwin.so", "${MIXMAE_PLUGIN_DIR}/libMixViTDecoder.so",
                "${MIXMAE_PLUGIN_DIR}/libMixReconstruction.so", "${MIXMAE_PLUGIN_DIR}/libMixLinearCls.so",
                "${MIXMAE_PLUGIN_DIR}/libMixFPN.so", "${MIXMAE_PLUGIN_DIR}/libMixFCOS.so",
                "${MIXMAE_PLUGIN_DIR}/libMixUperNet.so", "${MIXMAE_PLUGIN_DIR}/libMixRPN.so",
                "${MIXMAE_PLUGIN_DIR}/libMixRoIBox.so", "${MIXMAE_PLUGIN_DIR}/libMixRoIMask.so",
                "${MIXMAE_PLUGIN_DIR}/libMixMPI.so",
            ])
        let catalog = PluginCatalog(registry: registry)
        #expect(catalog.refusals.isEmpty, "\(catalog.refusals)")
        for (id, kind) in [
            ("swin", ComponentKind.backbone), ("vit-decoder", .decoder), ("mix-reconstruction", .loss),
            ("linear-cls", .head), ("fpn", .neck), ("fcos", .head), ("upernet", .head),
            ("rpn", .rpn), ("roi-box", .roiHead), ("roi-mask", .roiHead),
        ] {
            #expect(throws: Never.self) { try catalog.component(id, kind: kind) }
        }
        // The MPI plugin offers a communicator, not a model component.
        #expect(catalog.communicators.map(\.descriptor.id) == ["mpi"])
    }
}
