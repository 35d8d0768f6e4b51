/// The base of every layer and model: finds its tensors and sub-modules by
/// reflection and names them with dotted PyTorch-style paths.
///
/// Stored properties of type `Tensor` are the module's own state: a tensor
/// with ``Tensor/requiresGrad`` is a trainable parameter, one without is a
/// buffer (saved in the state dict, never trained). Properties of type
/// `Module`, `[Module]` (named `name.0`, `name.1`, ...) and optionals of
/// either are children. Swift's lowerCamelCase property names become
/// snake_case names, as PyTorch models spell them: `relativePositionBiasTable`
/// is saved as `relative_position_bias_table`.
///
/// ```swift
/// final class Block: Module {
///     let norm1 = LayerNorm(64)
///     let attn: MultiHeadAttention
///     init(rng: RandomSource) {
///         attn = MultiHeadAttention(dim: 64, heads: 4, rng: rng)
///         super.init()
///     }
///     func callAsFunction(_ x: Tensor) -> Tensor { x + attn(norm1(x)) }
/// }
/// Block(rng: RandomSource(seed: 0)).namedParameters().map(\.0)
/// // ["norm1.weight", "norm1.bias", "attn.qkv.weight", ...]
/// ```
open class Module {
    /// Training mode (dropout, drop path active). Set for a whole tree with ``train(_:)``.
    public private(set) var isTraining = true

    public init() {}

    /// The direct children and own tensors, in declaration order, with their names.
    ///
    /// A composite that wants its children's names unprefixed (a model whose
    /// backbone and head tensors sit at the root, as the reference names them)
    /// overrides this and returns "" as their label.
    open func children() -> [(String, Any)] {
        var result: [(String, Any)] = []
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [[(String, Any)]] = []
        while let m = mirror {
            var level: [(String, Any)] = []
            for child in m.children {
                guard let label = child.label else { continue }
                level.append((snakeCase(label), child.value))
            }
            levels.append(level)
            mirror = m.superclassMirror
        }
        for level in levels.reversed() { result += level }
        return result
    }

    /// Every tensor of this module and its descendants (parameters and buffers), by dotted name.
    public func namedTensors() -> [(String, Tensor)] {
        var result: [(String, Tensor)] = []
        visit(prefix: "") { name, value in
            if let t = value as? Tensor { result.append((name, t)) }
        }
        return result
    }

    /// Every trainable parameter (``Tensor/requiresGrad``), by dotted name.
    public func namedParameters() -> [(String, Tensor)] {
        namedTensors().filter { $0.1.requiresGrad }
    }

    /// Every trainable parameter.
    public func parameters() -> [Tensor] { namedParameters().map(\.1) }

    /// This module and every descendant, by dotted name ("" for this one).
    public func namedModules() -> [(String, Module)] {
        var result: [(String, Module)] = [("", self)]
        visitModules(prefix: "") { name, m in result.append((name, m)) }
        return result
    }

    /// Sets training mode on this module and every descendant.
    public func train(_ on: Bool = true) {
        for (_, m) in namedModules() { m.isTraining = on }
    }

    /// Clears the gradient of every parameter.
    public func zeroGrad() {
        for (_, p) in namedParameters() { p.grad = nil }
    }

    /// Parameters and buffers by name, sharing storage with the module.
    public func stateDict() -> [String: Tensor] {
        Dictionary(namedTensors(), uniquingKeysWith: { a, _ in a })
    }

    /// Copies `state` into this module's tensors, in place.
    ///
    /// With `strict`, every tensor of the module must be present and every
    /// entry of `state` must be used. All problems are collected into one
    /// ``StateDictError`` (missing, unexpected and wrong-shape names together);
    /// nothing is copied unless there are none.
    ///
    /// ```swift
    /// try model.load(stateDict: try SafeTensors.read(url).tensors(), strict: true)
    /// ```
    public func load(stateDict state: [String: Tensor], strict: Bool = true) throws {
        let own = namedTensors()
        var missing: [String] = []
        var mismatched: [(String, [Int], [Int])] = []
        let ownNames = Set(own.map(\.0))
        for (name, t) in own {
            guard let src = state[name] else {
                missing.append(name)
                continue
            }
            if src.shape != t.shape { mismatched.append((name, t.shape, src.shape)) }
        }
        let unexpected = state.keys.filter { !ownNames.contains($0) }.sorted()
        if !mismatched.isEmpty || (strict && (!missing.isEmpty || !unexpected.isEmpty)) {
            throw StateDictError(missing: missing, unexpected: unexpected, mismatched: mismatched)
        }
        for (name, t) in own {
            if let src = state[name] { t.assign(src) }
        }
    }

    private func visit(prefix: String, _ body: (String, Any) -> Void) {
        for (label, value) in children() {
            let name = Module.join(prefix, label)
            Module.forEachItem(value, name: name) { itemName, item in
                if let m = item as? Module {
                    m.visit(prefix: itemName, body)
                } else {
                    body(itemName, item)
                }
            }
        }
    }

    private func visitModules(prefix: String, _ body: (String, Module) -> Void) {
        for (label, value) in children() {
            let name = Module.join(prefix, label)
            Module.forEachItem(value, name: name) { itemName, item in
                if let m = item as? Module {
                    body(itemName, m)
                    m.visitModules(prefix: itemName, body)
                }
            }
        }
    }

    private static func join(_ prefix: String, _ label: String) -> String {
        if label.isEmpty { return prefix }
        return prefix.isEmpty ? label : prefix + "." + label
    }

    /// Unwraps optionals and arrays of tensors or modules; ignores everything else.
    private static func forEachItem(_ value: Any, name: String, _ body: (String, Any) -> Void) {
        if let t = value as? Tensor {
            body(name, t)
        } else if let m = value as? Module {
            body(name, m)
        } else if let list = value as? [Module] {
            for (i, m) in list.enumerated() { body(join(name, "\(i)"), m) }
        } else if let list = value as? [Tensor] {
            for (i, t) in list.enumerated() { body(join(name, "\(i)"), t) }
        } else {
            let mirror = Mirror(reflecting: value)
            if mirror.displayStyle == .optional, let wrapped = mirror.children.first?.value {
                forEachItem(wrapped, name: name, body)
            }
        }
    }
}

/// What did not fit when loading a state dict, all at once.
public struct StateDictError: Error, CustomStringConvertible, Equatable {
    public var missing: [String]
    public var unexpected: [String]
    public var mismatched: [(String, [Int], [Int])]

    public static func == (a: StateDictError, b: StateDictError) -> Bool {
        a.missing == b.missing && a.unexpected == b.unexpected
            && a.mismatched.map { "\($0.0)\($0.1)\($0.2)" } == b.mismatched.map { "\($0.0)\($0.1)\($0.2)" }
    }

    public var description: String {
        var lines = ["the weights do not fit the model:"]
        if !mismatched.isEmpty {
            lines.append("  wrong shape (\(mismatched.count)):")
            for (n, want, got) in mismatched { lines.append("    \(n): model has \(want), file has \(got)") }
        }
        if !missing.isEmpty {
            lines.append("  missing from the file (\(missing.count)):")
            for n in missing.prefix(20) { lines.append("    \(n)") }
            if missing.count > 20 { lines.append("    ... and \(missing.count - 20) more") }
        }
        if !unexpected.isEmpty {
            lines.append("  in the file but not in the model (\(unexpected.count)):")
            for n in unexpected.prefix(20) { lines.append("    \(n)") }
            if unexpected.count > 20 { lines.append("    ... and \(unexpected.count - 20) more") }
        }
        lines.append("check that the model's configuration matches the one the weights were trained with")
        return lines.joined(separator: "\n")
    }
}

/// `relativePositionBiasTable` -> `relative_position_bias_table`; digits stay attached (`norm1`).
func snakeCase(_ name: String) -> String {
    var out = ""
    for ch in name {
        if ch.isUppercase {
            if !out.isEmpty { out.append("_") }
            out.append(contentsOf: ch.lowercased())
        } else {
            out.append(ch)
        }
    }
    return out
}
