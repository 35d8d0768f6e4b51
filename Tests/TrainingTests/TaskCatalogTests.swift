import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks
import TestSupport
import Testing

/// A task that exists only in these tests, added the way a new task is: one type, one list.
private struct Counting: TaskKind {
    var name: String { "count" }
    var summary: String { "counting shapes" }
    var sections: [RecipeSchema.Entry] {
        [.section("count", [.int("max_objects", default: 10, range: 1...100, doc: "At most this many.")])]
    }
    var validationMetrics: [TaskMetric] { [TaskMetric(name: "count_error", higherIsBetter: false)] }

    func makeTraining(_ recipe: TaskRecipe, builder: ComponentBuilder, initialWeights: String?) throws
        -> PreparedTraining
    {
        throw recipe.issue(at: "count.max_objects", "counting is not trained in these tests")
    }
}

/// No plugins: building any component fails.
private struct NoComponents: ComponentProvider {
    func descriptor(_ id: String, kind: ComponentKind) throws -> ComponentDescriptor {
        throw TestSetupError("no \(kind) '\(id)' in these tests")
    }
}

@Suite struct TaskCatalogTests {
    let recipes = TestPaths.packageRoot.appendingPathComponent("recipes").path

    @Test func theStandardCatalogListsEveryTaskAndItsSectionsOnce() throws {
        let catalog = TaskCatalog.standard
        #expect(catalog.names == ["pretrain", "classify", "detect", "segment"])
        let schema = catalog.recipeSchema
        let names = schema.entries.map(\.name)
        #expect(Set(names).count == names.count, "\(names)")
        for section in ["mask", "finetune", "init", "detect", "segment", "data", "optim", "schedule", "log"] {
            #expect(names.contains(section), "\(section)")
        }
        guard case .parameter(let task) = schema.entries.first(where: { $0.name == "task" })?.node else {
            Issue.record("no task key")
            return
        }
        #expect(task.allowedValues == catalog.names)
        #expect(task.defaultValue == .string("pretrain"))
        #expect(Pretraining().readsInitialWeights == false)
        #expect(Classification().readsInitialWeights && ObjectDetection().readsInitialWeights)
        #expect(Pretraining().checkpointEvaluator == nil && SemanticSegmentation().checkpointEvaluator != nil)
        #expect(ObjectDetection().selectionMetric?.name == "AP")
    }

    @Test func shippedRecipesPassTheirTasksSchema() throws {
        for file in [
            "pretrain/swin-tiny.yaml", "pretrain/swin-base.yaml", "pretrain/swin-small128.yaml",
            "quickstart/pretrain.yaml", "quickstart/classify.yaml", "quickstart/detect.yaml",
            "quickstart/segment.yaml", "quickstart/mask-rcnn.yaml",
        ] {
            let recipe = try RecipeLoader().load(recipes + "/" + file)
            let checked = TaskCatalog.standard.check(recipe, components: nil)
            #expect(checked.issues.isEmpty, "\(file): \(checked.issues)")
            #expect(checked.components["model.backbone"]?.id == "swin")
        }
        let base = try RecipeLoader().load(recipes + "/pretrain/swin-base.yaml")
        #expect(base.root.node(at: "mask.ratio")?.scalar?.value == .float(0.5))
    }

    @Test func aSectionOfAnotherTaskIsReportedAtItsPlace() throws {
        let folder = try TemporaryFolder("tasks")
        let file = try folder.write(
            "r.yaml", "task: classify\ndata: {root: x}\nmask: {ratio: 0.5}\nmodel:\n  backbone: {name: swin}\n")
        let checked = TaskCatalog.standard.check(try RecipeLoader().load(file), components: nil)
        #expect(
            checked.issues.map(\.description) == [
                "\(file):3:7: error: mask: section 'mask' is not used by task 'classify'; remove it "
                    + "(or `--set mask=!delete`)"
            ])
    }

    @Test func aNewTaskIsOneTypeInTheList() throws {
        let catalog = TaskCatalog([Pretraining(), Counting()])
        #expect(catalog.names == ["pretrain", "count"])
        let folder = try TemporaryFolder("tasks")
        let good = try folder.write(
            "good.yaml", "task: count\ndata: {root: x}\ncount: {max_objects: 5}\nmodel:\n  backbone: {name: swin}\n")
        let checked = catalog.check(try RecipeLoader().load(good), components: nil)
        #expect(checked.issues.isEmpty, "\(checked.issues)")
        #expect(checked.sections["count"]?.int("max_objects") == 5)

        let bad = try folder.write(
            "bad.yaml",
            "task: count\ndata: {root: x}\ncount: {max_objects: 500}\nmask: {}\nmodel:\n  backbone: {name: swin}\n")
        let issues = catalog.check(try RecipeLoader().load(bad), components: nil).issues.map(\.description)
        #expect(issues.count == 2, "\(issues)")
        #expect(issues.first?.contains("count.max_objects: 500 is out of range") == true, "\(issues)")
        #expect(issues.last?.contains("section 'mask' is not used by task 'count'") == true, "\(issues)")
        // The standard catalog does not know it.
        let unknown = TaskCatalog.standard.check(try RecipeLoader().load(good), components: nil).issues
        #expect(unknown.map(\.path.description).contains("task"), "\(unknown)")
        // Its recipe reaches its own builder.
        let recipe = try TaskRecipe(
            try RecipeLoader().load(good), components: ComponentCatalog([.backbone: ["swin": []]]), tasks: catalog)
        #expect(recipe.task.name == "count")
        let error = thrownError {
            _ = try recipe.task.makeTraining(
                recipe, builder: ComponentBuilder(provider: NoComponents(), rng: RandomSource(seed: 0)),
                initialWeights: nil)
        }
        #expect("\(String(describing: error))".contains("counting is not trained in these tests"))
    }
}
