import CKernels
import Foundation

/// Parameters that share a learning-rate scale and a weight decay.
///
/// ```swift
/// let decay = ParameterGroup(name: "decay", parameters: matrices, weightDecay: 0.05)
/// let noDecay = ParameterGroup(name: "no_decay", parameters: vectors, weightDecay: 0)
/// ```
public struct ParameterGroup {
    public var name: String
    /// The parameters with their state-dict names (used to save optimizer state).
    public var parameters: [(String, Tensor)]
    /// Multiplies the schedule's learning rate for this group (layer-wise decay).
    public var lrScale: Float
    public var weightDecay: Float

    public init(name: String, parameters: [(String, Tensor)], lrScale: Float = 1, weightDecay: Float) {
        self.name = name
        self.parameters = parameters
        self.lrScale = lrScale
        self.weightDecay = weightDecay
    }

    /// The reference recipe's two groups: weight decay on tensors of rank >= 2,
    /// none on biases, norms and other vectors (and on names in `skip`).
    public static func decayAndNoDecay(
        _ named: [(String, Tensor)], weightDecay: Float, skip: Set<String> = []
    ) -> [ParameterGroup] {
        var decay: [(String, Tensor)] = []
        var noDecay: [(String, Tensor)] = []
        for (name, p) in named where p.requiresGrad {
            if p.rank < 2 || skip.contains(name) { noDecay.append((name, p)) } else { decay.append((name, p)) }
        }
        return [
            ParameterGroup(name: "decay", parameters: decay, weightDecay: weightDecay),
            ParameterGroup(name: "no_decay", parameters: noDecay, weightDecay: 0),
        ]
    }
}

/// An optimizer that updates parameter groups from their gradients.
public protocol Optimizer: AnyObject {
    var groups: [ParameterGroup] { get }
    /// The learning rate before group scales; schedules set it every iteration.
    var learningRate: Float { get set }
    /// The number of steps taken.
    var stepCount: Int { get }
    /// Applies one update from the parameters' current gradients (no-op for a parameter without one).
    func step()
    /// Optimizer state (moments, step count) by name, for checkpoints.
    func stateDict() -> [String: Tensor]
    /// Restores what ``stateDict()`` returned; throws on missing or wrong-shape entries.
    func load(stateDict: [String: Tensor]) throws
}

extension Optimizer {
    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for g in groups { for (_, p) in g.parameters { p.grad = nil } }
    }
}

/// Optimizer state that does not fit the parameters.
public struct OptimizerStateError: Error, CustomStringConvertible {
    public var problems: [String]
    public var description: String {
        "the optimizer state does not fit the model's parameters:\n  " + problems.joined(separator: "\n  ")
            + "\nresume with the optimizer state written with the same model, or start without --resume"
    }
}

/// AdamW with decoupled weight decay, PyTorch's `torch.optim.AdamW` update.
///
/// ```swift
/// let opt = AdamW(groups: ParameterGroup.decayAndNoDecay(model.namedParameters(), weightDecay: 0.05),
///                 learningRate: 1.5e-4, betas: (0.9, 0.95))
/// loss.backward(); opt.step(); opt.zeroGrad()
/// ```
public final class AdamW: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let eps: Float
    public private(set) var stepCount = 0
    private var firstMoments: [ObjectIdentifier: Tensor] = [:]
    private var secondMoments: [ObjectIdentifier: Tensor] = [:]

    public init(groups: [ParameterGroup], learningRate: Float, betas: (Float, Float) = (0.9, 0.999), eps: Float = 1e-8)
    {
        self.groups = groups
        self.learningRate = learningRate
        self.beta1 = betas.0
        self.beta2 = betas.1
        self.eps = eps
    }

    public func step() {
        Profiler.measure("adamw", .optimizer) { update() }
        Profiler.optimizerStepFinished()
        BufferPool.shared.stepFinished()
    }

    private func update() {
        stepCount += 1
        let bc1 = 1 - Foundation.pow(beta1, Float(stepCount))
        let bc2 = 1 - Foundation.pow(beta2, Float(stepCount))
        // Every parameter's elements in one index space, split evenly over the
        // threads in one parallel region (not one region per parameter).
        var slices: [AdamWSlice] = []
        var total = 0
        for group in groups {
            let lr = learningRate * group.lrScale
            for (_, p) in group.parameters {
                guard let g = p.grad else { continue }
                let id = ObjectIdentifier(p)
                let m = firstMoments[id] ?? Tensor.zeros(p.shape)
                let v = secondMoments[id] ?? Tensor.zeros(p.shape)
                firstMoments[id] = m
                secondMoments[id] = v
                slices.append(
                    AdamWSlice(
                        start: total, count: p.count, p: p.data, g: g.data, m: m.data, v: v.data, lr: lr,
                        weightDecay: group.weightDecay))
                total += p.count
            }
        }
        let (b1, b2, e) = (beta1, beta2, eps)
        slices.withUnsafeBufferPointer { list in
            Parallel.forRanges(total, work: total * 4) { lo, hi in
                // The first slice that ends after `lo`, then every slice overlapping [lo, hi).
                var k = 0
                var a = 0
                var b = list.count
                while a < b {
                    let mid = (a + b) / 2
                    if list[mid].start + list[mid].count <= lo { a = mid + 1 } else { b = mid }
                }
                k = a
                while k < list.count && list[k].start < hi {
                    let s = list[k]
                    let from = Swift.max(lo, s.start) - s.start
                    let to = Swift.min(hi, s.start + s.count) - s.start
                    mk_adamw(
                        s.p + from, s.g + from, s.m + from, s.v + from, to - from, s.lr, b1, b2, e, s.weightDecay,
                        bc1, bc2)
                    k += 1
                }
            }
        }
    }

    public func stateDict() -> [String: Tensor] {
        var state: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for group in groups {
            for (name, p) in group.parameters {
                let id = ObjectIdentifier(p)
                if let m = firstMoments[id] { state["exp_avg." + name] = m }
                if let v = secondMoments[id] { state["exp_avg_sq." + name] = v }
            }
        }
        return state
    }

    public func load(stateDict state: [String: Tensor]) throws {
        var problems: [String] = []
        guard let step = state["step"], step.count == 1 else {
            throw OptimizerStateError(problems: ["no 'step' entry"])
        }
        var m: [ObjectIdentifier: Tensor] = [:]
        var v: [ObjectIdentifier: Tensor] = [:]
        for group in groups {
            for (name, p) in group.parameters {
                for (prefix, isFirst) in [("exp_avg.", true), ("exp_avg_sq.", false)] {
                    guard let t = state[prefix + name] else { continue }
                    if t.shape != p.shape {
                        problems.append("\(prefix)\(name): state has shape \(t.shape), parameter has \(p.shape)")
                        continue
                    }
                    if isFirst { m[ObjectIdentifier(p)] = t.copy() } else { v[ObjectIdentifier(p)] = t.copy() }
                }
            }
        }
        if !problems.isEmpty { throw OptimizerStateError(problems: problems) }
        stepCount = Int(step.item())
        firstMoments = m
        secondMoments = v
    }
}

/// SGD with momentum, PyTorch's `torch.optim.SGD` update (dampening 0).
public final class SGD: Optimizer {
    public let groups: [ParameterGroup]
    public var learningRate: Float
    public let momentum: Float
    public let nesterov: Bool
    public private(set) var stepCount = 0
    private var buffers: [ObjectIdentifier: Tensor] = [:]

    public init(groups: [ParameterGroup], learningRate: Float, momentum: Float = 0.9, nesterov: Bool = false) {
        self.groups = groups
        self.learningRate = learningRate
        self.momentum = momentum
        self.nesterov = nesterov
    }

    public func step() {
        Profiler.measure("sgd", .optimizer) { update() }
        Profiler.optimizerStepFinished()
        BufferPool.shared.stepFinished()
    }

    private func update() {
        stepCount += 1
        for group in groups {
            let lr = learningRate * group.lrScale
            for (_, p) in group.parameters {
                guard let g = p.grad else { continue }
                let id = ObjectIdentifier(p)
                let first = buffers[id] == nil
                let buf = buffers[id] ?? Tensor.zeros(p.shape)
                buffers[id] = buf
                mk_sgd(
                    p.data, g.data, buf.data, p.count, lr, momentum, group.weightDecay, nesterov ? 1 : 0, first ? 1 : 0)
            }
        }
    }

    public func stateDict() -> [String: Tensor] {
        var state: [String: Tensor] = ["step": Tensor(scalar: Float(stepCount))]
        for group in groups {
            for (name, p) in group.parameters {
                if let b = buffers[ObjectIdentifier(p)] { state["momentum_buffer." + name] = b }
            }
        }
        return state
    }

    public func load(stateDict state: [String: Tensor]) throws {
        guard let step = state["step"], step.count == 1 else {
            throw OptimizerStateError(problems: ["no 'step' entry"])
        }
        var problems: [String] = []
        var b: [ObjectIdentifier: Tensor] = [:]
        for group in groups {
            for (name, p) in group.parameters {
                guard let t = state["momentum_buffer." + name] else { continue }
                if t.shape != p.shape {
                    problems.append("momentum_buffer.\(name): state has shape \(t.shape), parameter has \(p.shape)")
                } else {
                    b[ObjectIdentifier(p)] = t.copy()
                }
            }
        }
        if !problems.isEmpty { throw OptimizerStateError(problems: problems) }
        stepCount = Int(step.item())
        buffers = b
    }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`
/// (PyTorch's `clip_grad_norm_`, with its 1e-6); returns the norm before clipping.
@discardableResult
public func clipGradientNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var total = 0.0
    for p in parameters { if let g = p.grad { total += mk_sum_squares_double(g.data, g.count) } }
    let norm = Float(total.squareRoot())
    let coef = maxNorm / (norm + 1e-6)
    if coef < 1 {
        for p in parameters { p.grad?.scaleInPlace(coef) }
    }
    return norm
}

/// One parameter's share of an AdamW update: its elements `start ..< start + count`
/// in the optimizer's joint index space.
private struct AdamWSlice {
    var start: Int
    var count: Int
    var p: UnsafeMutablePointer<Float>
    var g: UnsafeMutablePointer<Float>
    var m: UnsafeMutablePointer<Float>
    var v: UnsafeMutablePointer<Float>
    var lr: Float
    var weightDecay: Float
}
