import MixmaeSupport

/// One problem found while validating a recipe against its schemas.
///
/// Prints as `file:line:column: error: key.path: message`, e.g.
///
/// ```text
/// recipes/my.yaml:7:5: error: model.backbone.embed_dims: unknown key; did you mean 'embed_dim'?
/// ```
public struct RecipeIssue: UserFacingError, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// A key the schema does not declare (``suggestions`` holds close names).
        case unknownKey
        /// A top-level section the recipe schema does not declare.
        case unknownSection
        /// A component id that no loaded plugin provides.
        case unknownComponent
        /// A value of the wrong type (a float for an int, a string for a list, ...).
        case wrongType
        /// A number outside the declared range.
        case outOfRange
        /// A string that is not one of the declared values.
        case notAllowed
        /// A list with another length than declared.
        case wrongCount
        /// A required key that is not set.
        case missingKey
    }

    public var kind: Kind
    /// The offending node (for a missing key: the mapping that lacks it).
    public var mark: SourceMark
    /// The key path of the offending value (`model.backbone.depths[2]`).
    public var path: RecipePath
    public var message: String
    /// Close names for unknown keys, sections, components and values.
    public var suggestions: [String]

    public init(
        _ kind: Kind, at mark: SourceMark, path: RecipePath, message: String, suggestions: [String] = []
    ) {
        self.kind = kind
        self.mark = mark
        self.path = path
        self.message = message
        self.suggestions = suggestions
    }

    public var what: String { message }
    public var location: ErrorLocation? { .source(mark, keyPath: path.description) }
}

/// Every issue found in a recipe; thrown when there is at least one.
public struct RecipeValidationError: UserFacingError, Sendable {
    public var issues: [RecipeIssue]

    public init(issues: [RecipeIssue]) {
        self.issues = issues
    }

    /// The first issue; ``details`` holds the others and the count.
    public var what: String { issues.first?.what ?? "the recipe is not valid" }
    public var location: ErrorLocation? { issues.first?.location }
    public var details: [String] {
        issues.dropFirst().map(\.description) + ["\(issues.count) error\(issues.count == 1 ? "" : "s") in the recipe"]
    }
}
