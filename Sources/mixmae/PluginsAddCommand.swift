import ArgumentParser
import Foundation
import MixmaePluginHost
import MixmaeSupport

/// `mixmae plugins add PATH`: checks a library in this process, then lists it in the registry.
struct PluginsAddCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Load and check a plugin library, then append it to the registry.",
        discussion: """
            The library is loaded next to the ones already registered, with every check \
            `plugins list` applies (ABI stamp, own copy of the SDK, registration, duplicate \
            component ids). If it is refused, the registry is not changed. The entry is written \
            relative to the registry file, keeping the file's comments; the registry is created \
            if it does not exist.
            """
    )

    @OptionGroup var plugins: PluginRegistryOptions

    @Argument(help: "The plugin library (.so) to add.")
    var library: String

    func run() throws {
        print(try add())
    }

    private func add() throws -> String {
        let file = plugins.path
        let path = URL(fileURLWithPath: library).standardizedFileURL.path
        let existing =
            FileManager.default.fileExists(atPath: file)
            ? try PluginRegistry.load(from: file) : PluginRegistry(path: file, entries: [], text: "")
        let canonical = PluginCatalog.canonicalPath(path)
        if let entry = existing.entries.first(where: { PluginCatalog.canonicalPath($0.path) == canonical }) {
            throw InputError("\(path) is already in the registry, at \(entry.mark) ('\(entry.text)')")
        }
        let catalog = PluginCatalog(registry: existing)
        let loaded: PluginLibrary
        switch catalog.add(path: path) {
        case .failure(let refusal): throw InputError("not added: \(refusal)")
        case .success(let library): loaded = library
        }
        let entry = existing.entryText(for: path)
        try existing.write(try existing.appending(entry))
        let components = loaded.components.map { "\($0.id) \($0.version) (\($0.kind))" }.joined(separator: ", ")
        return "added \(entry) to \(file): \(components.isEmpty ? "no components" : components)"
    }
}
