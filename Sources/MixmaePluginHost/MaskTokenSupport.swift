import MixKit

/// Whether a component can take part in `mask.mode: mask_token` (the SimMIM-style
/// baseline): a capability a plugin declares by conforming its built module to an
/// SDK protocol, one per slot, so it is known only once the component is built.
///
/// ```swift
/// let module = try component.descriptor.build(params, BuildContext())
/// MaskTokenSupport.requirement(for: .backbone)            // "MaskTokenBackbone"
/// MaskTokenSupport.isSupported(by: module, as: .backbone)  // true for swin and pvt
/// MaskTokenSupport.isSupported(by: catalog.component("swin")!, parameters: defaults)  // builds it: true
/// MaskTokenSupport.verdict(true, kind: .backbone)          // "supported (MaskTokenBackbone)"
/// ```
public enum MaskTokenSupport {
    /// The SDK protocol a component of `kind` must conform to, or nil for a kind that
    /// plays no part in pretraining (necks, heads, communicators, two-stage detection parts).
    public static func requirement(for kind: ComponentKind) -> String? {
        switch kind {
        case .backbone: "MaskTokenBackbone"
        case .decoder: "SingleImageDecoder"
        case .loss: "MaskedReconstructionLoss"
        case .neck, .head, .communicator, .rpn, .roiHead: nil
        }
    }

    /// Whether the built `module` of a `kind` component conforms to ``requirement(for:)``.
    public static func isSupported(by module: Module, as kind: ComponentKind) -> Bool {
        switch kind {
        case .backbone: module is MaskTokenBackbone
        case .decoder: module is SingleImageDecoder
        case .loss: module is MaskedReconstructionLoss
        case .neck, .head, .communicator, .rpn, .roiHead: false
        }
    }

    /// Whether `component`, built with `parameters` (what `plugins check` checked, or the
    /// defaults for `plugins inspect`), supports `mask.mode: mask_token`; nil when its kind
    /// plays no part in it or it does not build with them.
    public static func isSupported(by component: PluginComponent, parameters: Parameters) -> Bool? {
        guard requirement(for: component.kind) != nil,
            let module = try? component.descriptor.build(
                parameters, component.descriptor.exampleContext(parameters))
        else { return nil }
        return isSupported(by: module, as: component.kind)
    }

    /// The words `plugins check` and `plugins inspect` print after `mask.mode mask_token:`,
    /// or nil for a kind that plays no part in it.
    public static func verdict(_ supported: Bool, kind: ComponentKind) -> String? {
        requirement(for: kind).map {
            supported ? "supported (\($0))" : "not supported (not a \($0): refused at mask.mode)"
        }
    }
}
