import MixKit
import MixmaeSupport

/// What a whole recipe may contain: a tree of typed sections and component slots.
///
/// ```swift
/// let schema = RecipeSchema([
///     .parameter(.int("seed", default: 0, doc: "Random seed.")),
///     .section("optim", [.float("base_lr", default: 1.5e-4, doc: "...")]),
///     .group("model", [
///         .component("backbone", kind: .backbone, required: true),
///         .component("decoder", kind: .decoder),
///     ]),
/// ])
/// ```
///
/// A component slot's mapping names the component with `name: <id>`; the rest
/// of its keys are that component's parameters, checked against the schema
/// the ``ComponentCatalog`` returns for the id.
public struct RecipeSchema: Sendable {
    public indirect enum Node: Sendable {
        /// A single typed key at this level (`seed: 0`).
        case parameter(ParameterSpec)
        /// A mapping of typed parameters (`optim: {base_lr: ..., betas: ...}`).
        case section([ParameterSpec])
        /// A mapping of further entries (`model: {backbone: ..., decoder: ...}`).
        case group([Entry])
        /// A mapping `{name: <component id>, <its parameters>...}` for a component of `kind`.
        case component(kind: ComponentKind, required: Bool)
    }

    public struct Entry: Sendable {
        public var name: String
        public var node: Node
        public var doc: String

        public init(name: String, node: Node, doc: String = "") {
            self.name = name
            self.node = node
            self.doc = doc
        }

        public static func parameter(_ spec: ParameterSpec) -> Entry {
            Entry(name: spec.name, node: .parameter(spec), doc: spec.doc)
        }

        public static func section(_ name: String, _ specs: [ParameterSpec], doc: String = "") -> Entry {
            Entry(name: name, node: .section(specs), doc: doc)
        }

        public static func group(_ name: String, _ entries: [Entry], doc: String = "") -> Entry {
            Entry(name: name, node: .group(entries), doc: doc)
        }

        public static func component(
            _ name: String, kind: ComponentKind, required: Bool = false, doc: String = ""
        ) -> Entry {
            Entry(name: name, node: .component(kind: kind, required: required), doc: doc)
        }
    }

    /// The top-level entries.
    public var entries: [Entry]

    public init(_ entries: [Entry]) {
        self.entries = entries
    }

    /// The component slots, with their paths (`model.backbone`) and kinds.
    public var componentSlots: [(path: RecipePath, kind: ComponentKind, required: Bool)] {
        var slots: [(path: RecipePath, kind: ComponentKind, required: Bool)] = []
        func visit(_ entries: [Entry], _ path: RecipePath) {
            for entry in entries {
                switch entry.node {
                case .component(let kind, let required):
                    slots.append((path.appending(entry.name), kind, required))
                case .group(let children): visit(children, path.appending(entry.name))
                default: break
                }
            }
        }
        visit(entries, .root)
        return slots
    }
}

/// Where component schemas come from: the plugin system fills it from the
/// loaded plugins.
///
/// ```swift
/// let catalog = ComponentCatalog([.backbone: ["swin": swinSchema], .decoder: ["mixmae": decoderSchema]])
/// let fromPlugins = ComponentCatalog(descriptors: registrar.components)
/// ```
public struct ComponentCatalog: Sendable {
    /// The ids of the components of a kind, for listing and did-you-mean.
    public var ids: @Sendable (_ kind: ComponentKind) -> [String]
    /// The parameter schema of component `id` of `kind`, or nil if there is none.
    public var schema: @Sendable (_ kind: ComponentKind, _ id: String) -> [ParameterSpec]?
    /// Appended to an unknown component's message: libraries that could not
    /// be loaded, one of which may provide it ("" when none).
    public var unavailableNote = ""
    /// Runs component `id`'s own cross-parameter checks on validated
    /// parameters without building it (``ComponentDescriptor/validate``);
    /// returns nil when the component has none. Nil when unknown (a fixed table).
    public var plan:
        (
            @Sendable (_ kind: ComponentKind, _ id: String, _ parameters: Parameters, _ context: BuildContext) throws
                -> ComponentPlan?
        )?

    public init(
        ids: @escaping @Sendable (_ kind: ComponentKind) -> [String],
        schema: @escaping @Sendable (_ kind: ComponentKind, _ id: String) -> [ParameterSpec]?
    ) {
        self.ids = ids
        self.schema = schema
    }

    /// A catalog from a fixed table, kind -> id -> schema.
    public init(_ table: [ComponentKind: [String: [ParameterSpec]]]) {
        self.init(
            ids: { kind in (table[kind] ?? [:]).keys.sorted() },
            schema: { kind, id in table[kind]?[id] })
    }

    /// A catalog of the components that plugins registered.
    public init(descriptors: [ComponentDescriptor]) {
        var table: [ComponentKind: [String: [ParameterSpec]]] = [:]
        for descriptor in descriptors {
            table[descriptor.kind, default: [:]][descriptor.id] = descriptor.parameters
        }
        self.init(table)
        let validators = ValidatorTable(descriptors)
        plan = { kind, id, parameters, context in
            try validators.table[kind]?[id]?(parameters, context)
        }
    }
}

/// The descriptors' `validate` functions by kind and id. Plugins' closures
/// are not marked Sendable; they only read their parameters.
private final class ValidatorTable: @unchecked Sendable {
    let table: [ComponentKind: [String: (Parameters, BuildContext) throws -> ComponentPlan]]

    init(_ descriptors: [ComponentDescriptor]) {
        var table: [ComponentKind: [String: (Parameters, BuildContext) throws -> ComponentPlan]] = [:]
        for descriptor in descriptors {
            if let validate = descriptor.validate {
                table[descriptor.kind, default: [:]][descriptor.id] = validate
            } else if let capabilities = descriptor.capabilities {
                // A backbone without `validate` (SDK < 2.3) still says what it emits:
                // its consumers (decoder, neck, head) are checked against that.
                table[descriptor.kind, default: [:]][descriptor.id] = { parameters, _ in
                    ComponentPlan(outputs: capabilities(parameters).outputs)
                }
            }
        }
        self.table = table
    }
}

/// The component a recipe chose for one slot.
public struct ComponentChoice: Sendable {
    public var kind: ComponentKind
    public var id: String
    /// Validated parameters with defaults; nil when no catalog was available to check them.
    public var parameters: Parameters?
    /// Where the slot's `name:` is written.
    public var mark: SourceMark
}

/// The outcome of ``RecipeChecker/check(_:)``.
public struct CheckedRecipe: Sendable {
    /// Validated parameters of each section, and of each group's own
    /// parameters (the root's under ``RecipePath/root``), defaults filled in.
    public var sections: [RecipePath: Parameters] = [:]
    /// The component chosen in each slot that the recipe fills.
    public var components: [RecipePath: ComponentChoice] = [:]
    /// Every issue found, in file order (see ``ResolvedRecipe/precedes(_:_:)``).
    public var issues: [RecipeIssue] = []
    /// False when component parameters could not be checked (no catalog).
    public var checkedComponentParameters: Bool = true
}

/// Checks a resolved recipe against a ``RecipeSchema`` and component schemas,
/// collecting every issue across the whole recipe.
///
/// ```swift
/// let checked = RecipeChecker(schema: .host, components: catalog).check(recipe)
/// for issue in checked.issues { print(issue) }
/// ```
public struct RecipeChecker: Sendable {
    public var schema: RecipeSchema
    /// nil when no plugins are loaded: slots are then checked for `name:` only.
    public var components: ComponentCatalog?

    public init(schema: RecipeSchema, components: ComponentCatalog?) {
        self.schema = schema
        self.components = components
    }

    public func check(_ recipe: ResolvedRecipe) -> CheckedRecipe {
        var result = CheckedRecipe()
        result.checkedComponentParameters = components != nil
        checkGroup(recipe.root, schema.entries, at: .root, absentMark: recipe.root.mark, into: &result)
        result.issues = recipe.inFileOrder(result.issues)
        return result
    }

    private func checkGroup(
        _ node: YAMLNode?, _ entries: [RecipeSchema.Entry], at path: RecipePath,
        absentMark: SourceMark, into result: inout CheckedRecipe
    ) {
        var mapping = YAMLMapping()
        if let node {
            switch node.content {
            case .mapping(let m): mapping = m
            case .null: break
            default:
                result.issues.append(
                    RecipeIssue(
                        .wrongType, at: node.mark, path: path,
                        message: "expected a mapping, found \(node.kindDescription)"))
                return
            }
        }
        let mark = node?.mark ?? absentMark
        let names = entries.map(\.name)
        var ownSpecs: [ParameterSpec] = []
        var own = Parameters()
        for entry in entries {
            if case .parameter(let spec) = entry.node {
                ownSpecs.append(spec)
                if let value = spec.defaultValue { own[spec.name] = value }
            }
        }
        for item in mapping.entries where !names.contains(item.key) {
            let label = path.isRoot ? "the recipe" : "'\(path)'"
            result.issues.append(
                ParameterValidator.unknownKey(
                    item, path: path.appending(item.key), known: names, in: label,
                    kind: path.isRoot ? .unknownSection : .unknownKey,
                    noun: path.isRoot ? "section" : "key"))
        }
        for entry in entries {
            let childPath = path.appending(entry.name)
            let child = mapping[entry.name]
            switch entry.node {
            case .parameter(let spec):
                if let child {
                    switch ParameterValidator.check(child, against: spec, at: childPath) {
                    case .success(let value): own[spec.name] = value
                    case .failure(let found): result.issues += found.issues
                    }
                } else if spec.isRequired {
                    result.issues.append(
                        RecipeIssue(
                            .missingKey, at: mark, path: childPath,
                            message: "missing required key '\(spec.name)' (\(spec.type)): \(spec.doc)"))
                }
            case .section(let specs):
                let checked = ParameterValidator.validate(
                    child, against: specs, at: childPath, absentMark: mark)
                result.sections[childPath] = checked.parameters
                result.issues += checked.issues
            case .group(let children):
                checkGroup(child, children, at: childPath, absentMark: mark, into: &result)
            case .component(let kind, let required):
                if let child {
                    checkComponent(child, kind: kind, at: childPath, into: &result)
                } else if required {
                    result.issues.append(
                        RecipeIssue(
                            .missingKey, at: mark, path: childPath,
                            message: "missing required \(kind) ('\(entry.name): {name: <id>, ...}')"
                                + availableText(kind)))
                }
            }
        }
        if !ownSpecs.isEmpty { result.sections[path] = own }
    }

    private func checkComponent(
        _ node: YAMLNode, kind: ComponentKind, at path: RecipePath, into result: inout CheckedRecipe
    ) {
        guard case .mapping(let mapping) = node.content else {
            result.issues.append(
                RecipeIssue(
                    .wrongType, at: node.mark, path: path,
                    message: "expected a mapping with 'name: <\(kind) id>' and its parameters, "
                        + "found \(node.kindDescription)"))
            return
        }
        guard let nameNode = mapping["name"] else {
            result.issues.append(
                RecipeIssue(
                    .missingKey, at: node.mark, path: path.appending("name"),
                    message: "missing required key 'name': which \(kind) to use" + availableText(kind)))
            return
        }
        guard case .scalar(let scalar) = nameNode.content, case .string(let id) = scalar.value else {
            result.issues.append(
                RecipeIssue(
                    .wrongType, at: nameNode.mark, path: path.appending("name"),
                    message: "expected string (a \(kind) id), found \(nameNode.kindDescription)"))
            return
        }
        guard let components else {
            result.components[path] = ComponentChoice(
                kind: kind, id: id, parameters: nil, mark: nameNode.mark)
            return
        }
        guard let specs = components.schema(kind, id) else {
            let ids = components.ids(kind)
            let close = Suggestions.closest(to: id, among: ids)
            result.issues.append(
                RecipeIssue(
                    .unknownComponent, at: nameNode.mark, path: path.appending("name"),
                    message: "unknown \(kind) '\(id)' (" + availableText(kind).dropFirst(2) + ")"
                        + Suggestions.didYouMean(close) + components.unavailableNote,
                    suggestions: close))
            return
        }
        let checked = ParameterValidator.validate(
            node, against: specs, at: path, ignoring: ["name"], label: "\(kind) '\(id)'")
        result.components[path] = ComponentChoice(
            kind: kind, id: id, parameters: checked.parameters, mark: nameNode.mark)
        result.issues += checked.issues
    }

    private func availableText(_ kind: ComponentKind) -> String {
        guard let components else { return "" }
        let ids = components.ids(kind)
        return ids.isEmpty
            ? "; no \(kind) plugins are registered"
            : "; available \(kind)s: " + ids.joined(separator: ", ")
    }
}
