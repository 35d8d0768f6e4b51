import MixKit
import MixmaeSupport

// The SDK's errors that a user can hit through the host (a damaged checkpoint, weights
// that do not fit, a component configuration that does not hold together) speak through
// the host's error model too.

extension SafeTensorsError: UserFacingError {
    public var what: String { problem }
    public var location: ErrorLocation? { .file(path) }
}

extension AtomicFile.WriteError: UserFacingError {
    public var what: String { "cannot write \(path): \(problem)" }
}

extension StateDictError: UserFacingError {
    public var what: String { description }
}

extension OptimizerStateError: UserFacingError {
    public var what: String { description }
}

extension ComponentConfigurationError: UserFacingError {
    public var what: String { problem }
    public var location: ErrorLocation? { .keyPath(parameter) }
}

extension PyTorchCheckpointError: UserFacingError {
    public var what: String { problem }
    public var location: ErrorLocation? { .file(path) }
}
