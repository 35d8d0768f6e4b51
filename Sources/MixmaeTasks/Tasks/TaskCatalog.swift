import MixKit
import MixmaeRecipes

/// The tasks a recipe can name, in one list: the recipe schema, validation, `train`,
/// `eval` and the help texts all read it.
///
/// ```swift
/// let catalog = TaskCatalog.standard
/// catalog.names                                   // ["pretrain", "classify", "detect", "segment"]
/// let checked = catalog.check(resolved, components: plugins.componentCatalog)
/// ```
public struct TaskCatalog: Sendable {
    /// The tasks, the default (`task:` left out) first.
    public let tasks: [any TaskKind]

    /// Every task mixmae trains. A new task is added here.
    public static let standard = TaskCatalog([
        Pretraining(), Classification(), ObjectDetection(), SemanticSegmentation(),
    ])

    /// A catalog of `tasks`; names must be unique, and a section two tasks read must have
    /// one schema.
    public init(_ tasks: [any TaskKind]) {
        precondition(!tasks.isEmpty, "a task catalog needs a task")
        precondition(Set(tasks.map(\.name)).count == tasks.count, "two tasks share a name: \(tasks.map(\.name))")
        self.tasks = tasks
        var seen: [String: RecipeSchema.Entry] = [:]
        for entry in tasks.flatMap(\.sections) {
            if let other = seen[entry.name] {
                precondition(
                    Self.specs(other) == Self.specs(entry), "tasks declare section '\(entry.name)' differently")
            }
            seen[entry.name] = entry
        }
    }

    /// The task names, in catalog order.
    public var names: [String] { tasks.map(\.name) }

    /// The task called `name`, or nil.
    public func task(named name: String) -> (any TaskKind)? {
        tasks.first { $0.name == name }
    }

    /// The recipe schema: the common sections and every task's own sections (a section
    /// several tasks read appears once).
    public var recipeSchema: RecipeSchema {
        var sections: [RecipeSchema.Entry] = []
        for entry in tasks.flatMap(\.sections) where !sections.contains(where: { $0.name == entry.name }) {
            sections.append(entry)
        }
        return .recipe(tasks: tasks.map { ($0.name, $0.summary) }, taskSections: sections)
    }

    /// Checks `resolved` against the recipe schema and the components' schemas, and reports
    /// the sections its task does not read. Every issue is collected, in file order.
    public func check(_ resolved: ResolvedRecipe, components: ComponentCatalog?) -> CheckedRecipe {
        var checked = RecipeChecker(schema: recipeSchema, components: components).check(resolved)
        let name = checked.sections[.root]?.string("task") ?? names[0]
        guard let task = task(named: name) else { return checked }
        let own = Set(task.sections.map(\.name))
        let others = Set(tasks.flatMap(\.sections).map(\.name)).subtracting(own)
        for section in others.sorted() {
            guard let node = resolved.root[section] else { continue }
            checked.issues.append(
                RecipeIssue(
                    .unknownSection, at: node.mark, path: RecipePath([.key(section)]),
                    message:
                        "section '\(section)' is not used by task '\(task.name)'; remove it (or `--set \(section)=!delete`)"
                ))
        }
        // The components' own cross-parameter checks, only once every value is valid on its own.
        if checked.issues.isEmpty, let plan = components?.plan {
            checked.issues = ComponentPlanCheck.issues(checked, resolved: resolved, plan: plan)
        }
        checked.issues = resolved.inFileOrder(checked.issues)
        return checked
    }

    private static func specs(_ entry: RecipeSchema.Entry) -> [ParameterSpec]? {
        if case .section(let specs) = entry.node { return specs }
        return nil
    }
}
