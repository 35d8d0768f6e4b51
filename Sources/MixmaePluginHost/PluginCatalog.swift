import Foundation
import MixKit
import MixmaeRecipes
import MixmaeSupport

/// Every plugin library in a registry, loaded once, with what was refused and why.
///
/// Libraries load in registry order. A library whose component id another
/// library loaded earlier already provides is refused as a whole (the first
/// one wins), so adding a library to the registry can never break components
/// that already worked. A file listed twice is loaded once.
///
/// ```swift
/// let catalog = try PluginCatalog.shared()
/// let backbone = try catalog.component("swin", kind: .backbone)
/// let schema = catalog.schema(of: "swin")       // for recipe validation
/// for refusal in catalog.refusals { print(refusal) }
/// ```
public final class PluginCatalog {
    /// The registry the catalog was loaded from.
    public let registry: PluginRegistry
    /// The accepted libraries, in registry order.
    public private(set) var libraries: [PluginLibrary] = []
    /// The refused libraries, in registry order.
    public private(set) var refusals: [PluginRefusal] = []
    /// What happened to each library, accepted or refused, in registry order.
    public private(set) var outcomes: [Result<PluginLibrary, PluginRefusal>] = []

    private var byID: [String: PluginComponent] = [:]
    /// Canonical path of each loaded file -> where the registry first lists it.
    private var seenFiles: [String: String] = [:]
    private let loader: PluginLoader
    /// Checks each library in a separate process before it is loaded here; nil loads without the check.
    public let scanner: PluginScanner?

    /// Loads every library the registry lists, each first checked by
    /// `scanner` (by default the `mixmae-plugin-scanner` next to the
    /// executable, with its cache in `MIXMAE_HOME`).
    public init(
        registry: PluginRegistry, loader: PluginLoader = PluginLoader(),
        scanner: PluginScanner? = PluginScanner.standard()
    ) {
        self.registry = registry
        self.loader = loader
        self.scanner = scanner
        for entry in registry.entries { _ = load(path: entry.path, entry: entry.mark.description) }
        scanner?.saveCache()
    }

    /// Loads one more library into the catalog (what `plugins add` checks):
    /// the scanner's check, the loader's checks, then the catalog's (listed twice, duplicate ids).
    @discardableResult
    public func add(path: String, entry: String? = nil) -> Result<PluginLibrary, PluginRefusal> {
        defer { scanner?.saveCache() }
        return load(path: path, entry: entry)
    }

    private func load(path: String, entry: String?) -> Result<PluginLibrary, PluginRefusal> {
        let canonical = PluginCatalog.canonicalPath(path)
        if let first = seenFiles[canonical] {
            return refuse(PluginRefusal(library: path, entry: entry, reason: .listedTwice(first: first)))
        }
        seenFiles[canonical] = entry ?? path
        if let scanner, FileManager.default.fileExists(atPath: path) {
            let scan = scanner.verdict(for: path)
            if scan.verdict != .loadable {
                return refuse(
                    PluginRefusal(library: path, entry: entry, reason: .scanFailed(scan.verdict, cached: scan.cached)))
            }
        }
        switch loader.load(path, entry: entry) {
        case .failure(let refusal):
            return refuse(refusal)
        case .success(let library):
            let ids = library.components.map(\.id)
            for component in library.components {
                if let existing = byID[component.id] {
                    return refuse(
                        PluginRefusal(
                            library: path, entry: entry,
                            reason: .duplicateComponent(id: component.id, firstLibrary: existing.library),
                            componentIDs: ids))
                }
            }
            for component in library.components { byID[component.id] = component }
            libraries.append(library)
            outcomes.append(.success(library))
            return .success(library)
        }
    }

    private func refuse(_ refusal: PluginRefusal) -> Result<PluginLibrary, PluginRefusal> {
        refusals.append(refusal)
        outcomes.append(.failure(refusal))
        return .failure(refusal)
    }

    /// Every loaded component, in registry and registration order.
    public var components: [PluginComponent] { libraries.flatMap(\.components) }

    /// Every loaded communicator (kind `communicator`) with its library, in registry order.
    public var communicators: [(descriptor: CommunicatorDescriptor, library: String)] {
        libraries.flatMap { library in library.communicators.map { ($0, library.path) } }
    }

    /// The component with this id, or nil.
    public func component(_ id: String) -> PluginComponent? { byID[id] }

    /// The component with this id and kind, or an error that says which ids exist,
    /// suggests a close one, and mentions refused libraries.
    public func component(_ id: String, kind: ComponentKind) throws -> PluginComponent {
        if let found = byID[id], found.kind == kind { return found }
        throw UnknownComponentError(
            id: id, kind: kind, foundKind: byID[id]?.kind,
            available: components.filter { $0.kind == kind }.map(\.id),
            registry: registry.path, refusedCount: refusals.count, refusal: refusal(ofComponent: id),
            unscannableNote: unscannableNote)
    }

    /// The component `id` of any kind, or an error that says where it went: a refused
    /// library, a close id, or the ids that exist.
    public func requireComponent(_ id: String) throws -> PluginComponent {
        if let component = component(id) { return component }
        if let refusal = refusal(ofComponent: id) {
            throw InputError("'\(id)' is registered by a library that was refused: \(refusal)")
        }
        let ids = components.map(\.id)
        var message = "no loaded plugin provides '\(id)'"
        message += ids.isEmpty ? "; no components are loaded" : "; loaded: " + ids.joined(separator: ", ")
        message += Suggestions.didYouMean(Suggestions.closest(to: id, among: ids))
        message += unscannableNote
        message += " (registry: \(registry.path)"
        if !refusals.isEmpty {
            message +=
                "; \(refusals.count) librar\(refusals.count == 1 ? "y" : "ies") refused, see `mixmae plugins list`"
        }
        throw InputError(message + ")")
    }

    /// The refusal of a library that registered `id` and was refused after registering.
    public func refusal(ofComponent id: String) -> PluginRefusal? {
        refusals.first { $0.componentIDs.contains(id) }
    }

    /// Libraries refused before they could register anything because the
    /// scanner saw them crash or hang: any of them may be the one that
    /// provides a missing component.
    public var unscannable: [PluginRefusal] {
        refusals.filter { if case .scanFailed = $0.reason { return true } else { return false } }
    }

    /// A clause naming the libraries that could not be scanned, or "".
    var unscannableNote: String {
        let libraries = unscannable
        guard !libraries.isEmpty else { return "" }
        return "; not loaded because they crash or hang when loaded, so their components are unknown: "
            + libraries.map { "\($0.library) (\($0.summary))" }.joined(separator: ", ")
    }

    /// The parameter schema of component `id`, or nil when no loaded plugin provides it.
    public func schema(of id: String) -> [ParameterSpec]? { byID[id]?.descriptor.parameters }

    /// The catalog as the recipe checker reads it (ids and schemas by kind).
    public var componentCatalog: ComponentCatalog {
        var catalog = ComponentCatalog(descriptors: components.map(\.descriptor))
        catalog.unavailableNote = unscannableNote
        return catalog
    }

    /// The path with symbolic links resolved, so one file listed twice is seen once.
    package static func canonicalPath(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().standardizedFileURL.path
    }

    // MARK: - Once per process

    private static let lock = NSLock()
    nonisolated(unsafe) private static var loaded: [String: PluginCatalog] = [:]

    /// The catalog of the registry at `path` (default: ``PluginRegistry/locate``),
    /// loaded on first use and kept for the life of the process.
    public static func shared(registry path: String? = nil) throws -> PluginCatalog {
        let file = path ?? PluginRegistry.locate()
        lock.lock()
        defer { lock.unlock() }
        if let catalog = loaded[file] { return catalog }
        let catalog = PluginCatalog(registry: try PluginRegistry.load(from: file))
        loaded[file] = catalog
        return catalog
    }
}

/// A recipe or command named a component no loaded plugin provides.
public struct UnknownComponentError: UserFacingError {
    public var id: String
    public var kind: ComponentKind
    /// The kind of the component with this id, when it exists but is not a `kind`.
    public var foundKind: ComponentKind?
    public var available: [String]
    public var registry: String
    public var refusedCount: Int
    /// The refusal of a library that registered `id` but was not accepted.
    public var refusal: PluginRefusal?
    /// Names the libraries refused by the scanner, whose components are unknown ("" when none).
    public var unscannableNote: String = ""

    public var what: String {
        if let refusal { return "the \(kind) '\(id)' is registered by a library that was refused: \(refusal)" }
        if let foundKind {
            return "'\(id)' is a \(foundKind), not a \(kind)"
                + (available.isEmpty ? "" : "; \(kind)s: " + available.joined(separator: ", "))
        }
        var text = "no loaded plugin provides the \(kind) '\(id)'"
        text += available.isEmpty ? "; no \(kind)s are loaded" : "; \(kind)s: " + available.joined(separator: ", ")
        text += Suggestions.didYouMean(Suggestions.closest(to: id, among: available))
        text += unscannableNote
        text += " (registry: \(registry)"
        if refusedCount > 0 { text += "; \(refusedCount) refused, see `mixmae plugins list`" }
        return text + ")"
    }
}

extension PluginCatalog: ComponentProvider {
    /// The descriptor of component `id` of `kind`, for ``ComponentBuilder``.
    public func descriptor(_ id: String, kind: ComponentKind) throws -> ComponentDescriptor {
        try component(id, kind: kind).descriptor
    }
}
