import Foundation
import MixmaeRecipes
import TestSupport

extension TemporaryFolder {
    /// Loads the recipe `name` of this folder with `--set` overrides.
    func load(_ name: String, set overrides: [String] = []) throws -> ResolvedRecipe {
        try RecipeLoader().load(file(name), overrides: RecipeOverride.parse(overrides))
    }
}

extension YAMLNode {
    /// The typed scalar value at a dotted path, for short assertions.
    func value(_ path: RecipePath) -> ScalarValue? {
        node(at: path)?.scalar?.value
    }

    /// The typed values of a list at a dotted path.
    func values(_ path: RecipePath) -> [ScalarValue]? {
        node(at: path)?.sequence?.compactMap { $0.scalar?.value }
    }
}

/// Runs `body` and returns the error it throws as `E`, or nil.
func error<E: Error>(as type: E.Type, _ body: () throws -> Void) -> E? {
    do {
        try body()
        return nil
    } catch let error as E {
        return error
    } catch {
        return nil
    }
}
