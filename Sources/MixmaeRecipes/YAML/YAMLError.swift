import MixmaeSupport

/// A problem in a YAML file (a recipe, registry.yaml) at the place it was written: bad
/// syntax from libyaml or this parser, or a document that is not what its reader expects.
///
/// Prints as `file:line:column: error: message`.
///
/// ```swift
/// throw YAMLError(mark: entry.keyMark, message: "unknown key 'plugin'; did you mean 'plugins'?")
/// ```
public struct YAMLError: UserFacingError, Equatable {
    public var mark: SourceMark
    public var message: String

    public init(mark: SourceMark, message: String) {
        self.mark = mark
        self.message = message
    }

    public var what: String { message }
    public var location: ErrorLocation? { .source(mark) }
}
