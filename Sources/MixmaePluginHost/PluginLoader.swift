import CHostSupport
import Foundation
import MixKit

/// One component a loaded plugin library provides.
///
/// ```swift
/// let swin = catalog.component("swin")!
/// let module = try swin.descriptor.build(params, BuildContext())
/// ```
public struct PluginComponent {
    /// What the plugin registered: identity, schema, build and probe.
    public var descriptor: ComponentDescriptor
    /// The path of the library that provides it.
    public var library: String

    public init(descriptor: ComponentDescriptor, library: String) {
        self.descriptor = descriptor
        self.library = library
    }

    public var id: String { descriptor.id }
    public var kind: ComponentKind { descriptor.kind }
    public var version: String { descriptor.version }
}

/// A plugin library the host accepted.
public struct PluginLibrary {
    /// The path it was loaded from.
    public var path: String
    /// The ABI stamp it was built with.
    public var stamp: PluginStamp
    /// The components it registered, in registration order.
    public var components: [PluginComponent]
    /// The communicators it registered (kind `communicator`), in registration order.
    public var communicators: [CommunicatorDescriptor] = []
}

/// Loads plugin libraries and checks them before any of their components is used.
///
/// For each path: `dlopen(RTLD_NOW | RTLD_LOCAL)`; look up `mixmae_plugin_abi`
/// and read the stamp it writes; refuse another SDK major, a newer SDK minor,
/// another compiler, or a `Tensor` type that is not the host's (the plugin
/// linked its own copy of the SDK); only then call `mixmae_plugin_register`
/// with a fresh ``PluginRegistrar`` and check what it registered. Every
/// problem is a ``PluginRefusal`` naming the file and what to do.
///
/// A library stays mapped once opened, even when refused: Swift images
/// register their metadata with the runtime and cannot be unloaded safely.
/// Of a refused library, no code runs but its stamp function (and, for a
/// library refused after registration, its register function).
///
/// ```swift
/// let loader = PluginLoader()
/// if case .failure(let refusal) = loader.load("/opt/plugins/libMixPVT.so") { print(refusal) }
/// ```
public struct PluginLoader {
    /// The stamp plugins are checked against: the running SDK's.
    public var hostStamp: PluginStamp

    /// The oldest SDK minor whose `ComponentDescriptor` has this host's
    /// layout: 2.3 added a stored property (`validate`), so a 2.0, 2.1 or 2.2
    /// plugin would hand the host a descriptor of another size.
    public static let oldestLayoutCompatibleMinor: Int64 = 3

    public init(hostStamp: PluginStamp = PluginABI.hostStamp()) {
        self.hostStamp = hostStamp
    }

    /// Opens, checks and registers the library at `path`. `entry` says where the
    /// registry lists it (`registry.yaml:3:5`) for messages.
    public func load(_ path: String, entry: String? = nil) -> Result<PluginLibrary, PluginRefusal> {
        func refuse(_ reason: PluginRefusal.Reason, ids: [String] = []) -> Result<PluginLibrary, PluginRefusal> {
            .failure(PluginRefusal(library: path, entry: entry, reason: reason, componentIDs: ids))
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue
        else { return refuse(.notFound) }

        _ = dlerror()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return refuse(.cannotOpen(dlerror: dlerror().map { String(cString: $0) } ?? "unknown dlopen error"))
        }
        guard let stampFunction = dlsym(handle, PluginABI.stampSymbol) else {
            return refuse(.notAPlugin(missingSymbol: PluginABI.stampSymbol))
        }
        guard let stamp = readStamp(stampFunction) else { return refuse(.notAStamp) }
        if let reason = incompatibility(of: stamp) { return refuse(reason) }
        guard let registerFunction = dlsym(handle, PluginABI.registerSymbol) else {
            return refuse(.notAPlugin(missingSymbol: PluginABI.registerSymbol))
        }

        typealias Register = @convention(c) (UnsafeMutableRawPointer) -> Int32
        let registrar = PluginRegistrar()
        let status = withExtendedLifetime(registrar) {
            unsafeBitCast(registerFunction, to: Register.self)(registrar.opaquePointer)
        }
        let ids = registrar.components.map(\.id)
        if status != 0 || registrar.failure != nil {
            let why = registrar.failure ?? "its register function returned \(status) without giving a reason"
            return refuse(.registerFailed(reason: why), ids: ids)
        }
        var seen = Set<String>()
        for id in registrar.communicators.map(\.id) {
            guard seen.insert(id).inserted else { return refuse(.duplicateComponentInLibrary(id: id), ids: ids) }
        }
        for descriptor in registrar.components {
            guard seen.insert(descriptor.id).inserted else {
                return refuse(.duplicateComponentInLibrary(id: descriptor.id), ids: ids)
            }
            let problems = ComponentDescriptorCheck.problems(of: descriptor)
            if !problems.isEmpty { return refuse(.invalidComponent(id: descriptor.id, problems: problems), ids: ids) }
        }
        return .success(
            PluginLibrary(
                path: path, stamp: stamp,
                components: registrar.components.map { PluginComponent(descriptor: $0, library: path) },
                communicators: registrar.communicators))
    }

    /// Why a plugin with `stamp` cannot run in this host, or nil when it can.
    public func incompatibility(of stamp: PluginStamp) -> PluginRefusal.Reason? {
        if stamp.sdkMajor != hostStamp.sdkMajor { return .otherSDKMajor(plugin: stamp, host: hostStamp) }
        if stamp.sdkMinor > hostStamp.sdkMinor { return .newerSDKMinor(plugin: stamp, host: hostStamp) }
        if stamp.sdkMinor < PluginLoader.oldestLayoutCompatibleMinor && hostStamp.sdkMinor >= 2 {
            return .olderSDKLayout(plugin: stamp, host: hostStamp)
        }
        if stamp.compiler != hostStamp.compiler { return .otherCompiler(plugin: stamp, host: hostStamp) }
        if stamp.tensorMetadata != hostStamp.tensorMetadata {
            return .ownCopyOfSDK(
                pluginCopy: PluginLoader.objectPath(containing: stamp.tensorMetadata),
                hostCopy: PluginLoader.objectPath(containing: hostStamp.tensorMetadata))
        }
        return nil
    }

    /// Calls a stamp function on a zeroed buffer much larger than today's stamp,
    /// so that a plugin from a future SDK with a longer stamp cannot overrun it.
    private func readStamp(_ function: UnsafeMutableRawPointer) -> PluginStamp? {
        typealias WriteStamp = @convention(c) (UnsafeMutableRawPointer) -> Void
        let size = max(4096, PluginStamp.byteCount)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        unsafeBitCast(function, to: WriteStamp.self)(buffer)
        return PluginStamp.read(from: buffer)
    }

    /// The file of the loaded object that contains `address` (via `dladdr`).
    static func objectPath(containing address: UInt) -> String {
        guard let pointer = UnsafeRawPointer(bitPattern: address), let path = mixmae_object_path_of(pointer)
        else { return "an unknown object at 0x" + String(address, radix: 16) }
        return String(cString: path)
    }
}
