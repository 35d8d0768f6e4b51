import MixKit

/// Parameter groups with layer-wise learning-rate decay (BEiT/MAE style), on
/// the backbone's own depth numbering (``Backbone/layerIndex(ofParameter:)``;
/// for Swin, the official MixMIM `util/lr_decay.py`: patch embedding 0, block j
/// of stage i `sum(depths[..<i]) + j + 1`, the merging after stage i
/// `sum(depths[...i]) + 1`, the final norm `sum(depths)`).
/// A tensor at depth `d` trains at `decay^(layerCount - 1 - d)` times the
/// learning rate; weight decay only on tensors of rank >= 2 (the reference's
/// `p.ndim == 1` rule). Tensors outside the backbone (a head) are at depth
/// `layerCount - 1` (scale 1: mmdet/mmseg's rule for dense heads) unless
/// `headsLikeFinalNorm`, which puts them where the backbone puts names it does not
/// know (Swin: with the final norm, scale `decay`, as the reference classifier's head).
///
/// ```swift
/// let groups = LayerDecayGroups.make(model.namedParameters(), backbone: backbone,
///                                    backboneNames: Set(backbone.namedParameters().map(\.0)),
///                                    decay: 0.7, weightDecay: 0.05, headsLikeFinalNorm: true)
/// ```
public enum LayerDecayGroups {
    public static func make(
        _ named: [(String, Tensor)], backbone: Backbone, backboneNames: Set<String>, decay: Double,
        weightDecay: Double, headsLikeFinalNorm: Bool = false
    ) -> [ParameterGroup] {
        let top = backbone.layerCount - 1
        var groups: [String: ParameterGroup] = [:]
        var order: [String] = []
        for (name, p) in named where p.requiresGrad {
            let own = backboneNames.contains(name) || headsLikeFinalNorm
            let depth = own ? min(max(backbone.layerIndex(ofParameter: name), 0), top) : top
            let decays = p.rank >= 2
            let key = "layer_\(depth)_\(decays ? "decay" : "no_decay")"
            if groups[key] == nil {
                order.append(key)
                groups[key] = ParameterGroup(
                    name: key, parameters: [], lrScale: Float(pow(decay, Double(top - depth))),
                    weightDecay: decays ? Float(weightDecay) : 0)
            }
            groups[key]!.parameters.append((name, p))
        }
        return order.map { groups[$0]! }
    }

    private static func pow(_ x: Double, _ y: Double) -> Double {
        var r = 1.0
        for _ in 0..<Int(y) { r *= x }
        return r
    }
}
