import MixKit
import MixKitTesting

/// What `mixmae plugins check ID` does: MixKitTesting's ``ComponentCheck``
/// (build with the default parameters, probe forward and backward, feature
/// maps against the declared capabilities, finite differences that tell
/// float32 noise from a wrong gradient), run on a loaded plugin component. A
/// plugin's own tests run the same check on its descriptor.
///
/// ```swift
/// let report = ComponentCheck().run(catalog.component("pvt")!) { print($0) }
/// print(report.passed)
/// ```
public typealias ComponentCheck = MixKitTesting.ComponentCheck

extension ComponentCheck {
    /// Runs the check on `component` with its default parameters; `progress`
    /// receives a line before each slow step.
    public func run(_ component: PluginComponent, progress: (String) -> Void = { _ in }) -> Report {
        run(component.descriptor, library: component.library, progress: progress)
    }
}
