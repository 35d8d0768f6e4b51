import Foundation
import MixmaeRecipes

/// A temporary folder of recipe files, removed when the value is released.
final class RecipeFolder {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("recipe-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    /// Writes `text` to `name` (subfolders are created) and returns its path.
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    func path(_ name: String) -> String {
        url.appendingPathComponent(name).path
    }

    func load(_ name: String, set overrides: [String] = []) throws -> ResolvedRecipe {
        try RecipeLoader().load(path(name), overrides: RecipeOverride.parse(overrides))
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
