import MixKit

/// Parameter groups with layer-wise learning-rate decay (BEiT/MAE style), on
/// the backbone's own depth numbering (``Backbone/layerIndex(ofParameter:)``;
/// for Swin, SimMIM's: patch embedding 0, block j of stage i
/// `sum(depths[..<i]) + j + 1`, the merging after stage i `sum(depths[...i])`,
/// the final norm and every head tensor `layerCount - 1`).
/// A tensor at depth `d` trains at `decay^(layerCount - 1 - d)` times the
/// learning rate; weight decay only on tensors of rank >= 2.
///
/// ```swift
/// let groups = LayerDecayGroups.make(model.namedParameters(), backbone: backbone,
///                                    backboneNames: Set(backbone.namedParameters().map(\.0)),
///                                    decay: 0.7, weightDecay: 0.05)
/// ```
public enum LayerDecayGroups {
    public static func make(
        _ named: [(String, Tensor)], backbone: Backbone, backboneNames: Set<String>, decay: Double,
        weightDecay: Double
    ) -> [ParameterGroup] {
        let top = backbone.layerCount - 1
        var groups: [String: ParameterGroup] = [:]
        var order: [String] = []
        for (name, p) in named where p.requiresGrad {
            let depth = backboneNames.contains(name) ? min(max(backbone.layerIndex(ofParameter: name), 0), top) : top
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
