import Foundation
import MixKit
import MixmaeSupport

/// Why the host did not take a plugin library, with the file and what to do.
///
/// Refusals are values: the catalog keeps them next to the loaded components,
/// `mixmae plugins list` shows them, and nothing of a refused library is used.
/// ``summary`` is a short phrase for a table; ``description`` is the whole
/// message: the file, where registry.yaml lists it, what is wrong, and the fix.
///
/// ```swift
/// switch PluginLoader().load(path) {
/// case .success(let library): print(library.components.map(\.id))
/// case .failure(let refusal): print("refused: \(refusal)")
/// }
/// ```
public struct PluginRefusal: UserFacingError, Sendable {
    /// What is wrong with the library.
    public enum Reason: Sendable, Equatable {
        /// No file at the path.
        case notFound
        /// `dlopen` failed; the text is `dlerror()`'s.
        case cannotOpen(dlerror: String)
        /// The library exports no `mixmae_plugin_abi` (or no `mixmae_plugin_register`).
        case notAPlugin(missingSymbol: String)
        /// `mixmae_plugin_abi` wrote something without the stamp's magic word.
        case notAStamp
        /// Built against another SDK major version.
        case otherSDKMajor(plugin: PluginStamp, host: PluginStamp)
        /// Built against a newer SDK minor version than the host's.
        case newerSDKMinor(plugin: PluginStamp, host: PluginStamp)
        /// Built against an older SDK minor whose component descriptor has another layout.
        case olderSDKLayout(plugin: PluginStamp, host: PluginStamp)
        /// Built by another Swift compiler.
        case otherCompiler(plugin: PluginStamp, host: PluginStamp)
        /// Linked its own copy of the SDK: its `Tensor` metadata lives in
        /// `pluginCopy`, the host's in `hostCopy` (paths of the loaded objects).
        case ownCopyOfSDK(pluginCopy: String, hostCopy: String)
        /// `mixmae_plugin_register` failed, with the plugin's reason.
        case registerFailed(reason: String)
        /// A component the library registers is malformed (a plugin bug).
        case invalidComponent(id: String, problems: [String])
        /// The library registers `id`, which `firstLibrary` (loaded earlier) already provides.
        case duplicateComponent(id: String, firstLibrary: String)
        /// The library registers `id` more than once itself.
        case duplicateComponentInLibrary(id: String)
        /// registry.yaml lists the same file again (`first` is the earlier entry).
        case listedTwice(first: String)
        /// The plugin scanner could not load it: it crashed, hung or exited.
        /// `cached` when the verdict was remembered from an earlier scan of the same file.
        case scanFailed(PluginScanVerdict, cached: Bool)
    }

    /// The library's path as the host resolved it.
    public var library: String
    /// Where registry.yaml lists the library (`registry.yaml:4:5`), if it came from there.
    public var entry: String?
    public var reason: Reason
    /// The ids of the components the library registered, when registration ran.
    public var componentIDs: [String]

    public init(library: String, entry: String? = nil, reason: Reason, componentIDs: [String] = []) {
        self.library = library
        self.entry = entry
        self.reason = reason
        self.componentIDs = componentIDs
    }

    /// A few words for the status column of `mixmae plugins list`.
    public var summary: String {
        switch reason {
        case .notFound: return "not found"
        case .cannotOpen: return "cannot be loaded (dlopen failed)"
        case .notAPlugin(let symbol): return "not a mixmae plugin (no \(symbol))"
        case .notAStamp: return "not a mixmae plugin (bad ABI stamp)"
        case .otherSDKMajor(let p, let h): return "built for SDK \(p.sdkVersion), host has \(h.sdkVersion)"
        case .newerSDKMinor(let p, let h): return "built for newer SDK \(p.sdkVersion), host has \(h.sdkVersion)"
        case .olderSDKLayout(let p, let h): return "built for older SDK \(p.sdkVersion), host has \(h.sdkVersion)"
        case .otherCompiler(let p, let h):
            return "built by Swift \(p.compilerDescription), host by \(h.compilerDescription)"
        case .ownCopyOfSDK: return "linked its own copy of the SDK"
        case .registerFailed: return "register failed"
        case .invalidComponent(let id, _): return "invalid component '\(id)'"
        case .duplicateComponent(let id, _): return "duplicate component id '\(id)'"
        case .duplicateComponentInLibrary(let id): return "registers '\(id)' twice"
        case .listedTwice: return "listed twice in the registry"
        case .scanFailed(let verdict, _): return verdict.summary
        }
    }

    /// The whole message: the file, where the registry lists it, what is wrong and the fix.
    public var what: String {
        let file = library
        let listed = entry.map { " (listed at \($0))" } ?? ""
        switch reason {
        case .notFound:
            return "plugin library \(file)\(listed) not found: build it, or correct or remove its entry in the registry"
        case .cannotOpen(let text):
            return "cannot load plugin library \(file)\(listed): \(text); check that the file is a shared library "
                + "for this machine and that `ldd \(file)` finds every library it needs"
        case .notAPlugin(let symbol):
            return "\(file)\(listed) is not a mixmae plugin: it exports no `\(symbol)` symbol; a plugin defines "
                + "`@_cdecl(\"mixmae_plugin_abi\")` and `@_cdecl(\"mixmae_plugin_register\")` "
                + "(see Plugins/Examples/PVT/README.md), otherwise remove the entry from the registry"
        case .notAStamp:
            return "\(file)\(listed) is not a mixmae plugin: its `mixmae_plugin_abi` did not write a mixmae ABI "
                + "stamp (no magic word); write it with `PluginABI.writeStamp(to:)`"
        case .otherSDKMajor(let plugin, let host):
            return "\(file)\(listed) was built against MixKit SDK \(plugin.sdkVersion), but this host has SDK "
                + "\(host.sdkVersion) (another major version, not compatible): rebuild the plugin against "
                + "SDK \(host.sdkVersion)"
        case .newerSDKMinor(let plugin, let host):
            return "\(file)\(listed) was built against MixKit SDK \(plugin.sdkVersion), newer than this host's SDK "
                + "\(host.sdkVersion): update mixmae, or rebuild the plugin against SDK \(host.sdkVersion)"
        case .olderSDKLayout(let plugin, let host):
            return "\(file)\(listed) was built against MixKit SDK \(plugin.sdkVersion), whose component descriptor "
                + "has another layout than this host's SDK \(host.sdkVersion) (2.3 added `validate`): rebuild the "
                + "plugin against SDK \(host.sdkVersion)"
        case .otherCompiler(let plugin, let host):
            return "\(file)\(listed) was built by Swift \(plugin.compilerDescription), but this host by Swift "
                + "\(host.compilerDescription); the SDK's types have no stable layout across compilers: rebuild "
                + "the plugin with Swift \(host.compilerDescription)"
        case .ownCopyOfSDK(let pluginCopy, let hostCopy):
            return "\(file)\(listed) linked its own copy of the SDK (found in \(pluginCopy), the host's is "
                + "\(hostCopy)): depend on the MixKit product of the Kit package, dynamically "
                + "(`.product(name: \"MixKit\", package: \"Kit\")`, not a static copy), and rebuild"
        case .registerFailed(let why):
            return "\(file)\(listed) failed to register its components: \(why); fix what the plugin reports, "
                + "or remove its entry from the registry"
        case .invalidComponent(let id, let problems):
            return "\(file)\(listed) registers an invalid component '\(id)': "
                + problems.joined(separator: "; ") + "; this is a bug in the plugin: fix its descriptor and rebuild"
        case .duplicateComponent(let id, let first):
            return "\(file)\(listed) registers component '\(id)', which \(first) (loaded first) already provides; "
                + "the whole library \(file) is refused: remove one of the two from the registry, or rename the "
                + "component in one of them"
        case .duplicateComponentInLibrary(let id):
            return "\(file)\(listed) registers component '\(id)' more than once; fix the plugin's register "
                + "function and rebuild"
        case .listedTwice(let first):
            return "\(file)\(listed) is listed twice in the registry (first at \(first)); this entry is "
                + "ignored: remove it"
        case .scanFailed(let verdict, let cached):
            return "\(file)\(listed) \(verdict.scanDescription) in the plugin scanner (a separate process), "
                + "so the host did not load it: the file may be truncated or damaged, or the plugin's "
                + "initialiser or register function crashes or blocks; rebuild or reinstall it, or remove its "
                + "entry from the registry"
                + (cached ? " (remembered from an earlier scan; it is scanned again when the file changes)" : "")
        }
    }
}

extension PluginScanVerdict {
    /// What happened, as the middle of a sentence.
    var scanDescription: String {
        switch self {
        case .loadable: return "loaded"
        case .crashed(let signal): return "crashed with \(SignalName.of(signal)) while being loaded"
        case .hung(let seconds):
            return "did not finish loading within \(SignalName.seconds(seconds)) s (set "
                + "\(PluginScanner.timeoutVariable) to wait longer)"
        case .failed(let status, let output):
            let said = output.trimmingCharacters(in: .whitespacesAndNewlines)
            return "ended the scanner with exit status \(status) while being loaded"
                + (said.isEmpty ? "" : " (it printed: \(said))")
        }
    }
}

extension PluginStamp {
    /// The SDK version as text, e.g. "1.0".
    public var sdkVersion: String { "\(sdkMajor).\(sdkMinor)" }
}
