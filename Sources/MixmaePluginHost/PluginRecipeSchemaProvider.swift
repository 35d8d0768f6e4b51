import Foundation
import MixmaeRecipes

/// The recipe schema with the components of the plugins in the registry, for
/// `mixmae recipe check` and every command that validates a recipe.
///
/// Installed at start-up by ``PluginRecipeSchemaProvider/install()``. When no
/// registry can be read, it says why on standard error and the recipe checker
/// falls back to checking component names only.
///
/// ```swift
/// PluginRecipeSchemaProvider.install()
/// let provider = RecipeSchemaProviders.makeCurrent()   // plugins' schemas included
/// ```
public struct PluginRecipeSchemaProvider: RecipeSchemaProvider {
    public var catalog: PluginCatalog?

    public init(catalog: PluginCatalog?) {
        self.catalog = catalog
    }

    public var recipeSchema: RecipeSchema { .host }
    public var componentCatalog: ComponentCatalog? { catalog?.componentCatalog }

    /// Makes ``RecipeSchemaProviders/makeCurrent`` load the process's plugin catalog.
    public static func install() {
        RecipeSchemaProviders.makeCurrent = {
            do {
                return PluginRecipeSchemaProvider(catalog: try PluginCatalog.shared())
            } catch {
                FileHandle.standardError.write(Data("warning: plugins not loaded: \(error)\n".utf8))
                return PluginRecipeSchemaProvider(catalog: nil)
            }
        }
    }
}
