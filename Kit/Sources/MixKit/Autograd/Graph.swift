import Foundation

/// One recorded operation: the inputs it read and how to turn the gradient
/// of its output into gradients of those inputs.
final class GradNode {
    let op: String
    let inputs: [Tensor]
    /// Maps d(loss)/d(output) to d(loss)/d(input) for each input (nil where an
    /// input needs none). Closures check `inputs[i].needsGrad` to skip work.
    let backward: (Tensor) -> [Tensor?]

    init(op: String, inputs: [Tensor], backward: @escaping (Tensor) -> [Tensor?]) {
        self.op = op
        self.inputs = inputs
        self.backward = backward
    }
}

/// Whether operations record the graph, per thread. Turned off by ``withNoGrad(_:)``.
public enum GradMode {
    /// Per-thread nesting depth of ``withNoGrad(_:)``, stored in a pthread key.
    private static let depthKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    static var disabledDepth: Int {
        get { Int(bitPattern: pthread_getspecific(depthKey)) }
        set { pthread_setspecific(depthKey, UnsafeRawPointer(bitPattern: newValue)) }
    }

    /// True while operations on this thread record what they need for ``Tensor/backward(_:)``.
    public static var isEnabled: Bool { disabledDepth == 0 }
}

/// Runs `body` without recording the graph on this thread (evaluation, weight updates).
///
/// ```swift
/// let logits = withNoGrad { model(images) }
/// ```
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    GradMode.disabledDepth += 1
    defer { GradMode.disabledDepth -= 1 }
    return try body()
}

extension Tensor {
    /// Attaches a graph node to `self` when recording and any input needs a gradient.
    /// `backward` returns one gradient per entry of `inputs` (nil entries included).
    /// Returns `self` for chaining. Ops call it through ``defineOp(_:_:body:)``.
    @discardableResult
    func recording(_ op: String, _ inputs: [Tensor?], _ backward: @escaping (Tensor) -> [Tensor?]) -> Tensor {
        guard GradMode.isEnabled, inputs.contains(where: { $0?.needsGrad ?? false }) else { return self }
        let present = inputs.compactMap { $0 }
        if present.count == inputs.count {
            gradNode = GradNode(op: op, inputs: present, backward: backward)
        } else {
            let slots = inputs.indices.filter { inputs[$0] != nil }
            let count = inputs.count
            gradNode = GradNode(op: op, inputs: present) { g in
                let all = backward(g)
                if _slowPath(all.count != count) {
                    fatalError("backward of \(op) returned \(all.count) gradients for \(count) inputs")
                }
                return slots.map { all[$0] }
            }
        }
        return self
    }

    /// Accumulates d(self)/d(parameter) into every parameter's ``grad``.
    ///
    /// `self` must hold one element unless `seed` (the gradient of some
    /// outer loss with respect to `self`) is given. Gradients add to what
    /// earlier calls left in ``grad``; call `zeroGrad` on the module or
    /// optimizer between steps.
    ///
    /// The graph is kept as long as `self` is alive, so calling `backward`
    /// twice through the same graph is legal and adds the gradients twice
    /// (PyTorch's `retain_graph=True`). Drop the result to free the graph.
    public func backward(_ seed: Tensor? = nil) {
        if let seed {
            precondition(seed.shape == shape, "backward: seed shape \(seed.shape) differs from tensor shape \(shape)")
        } else {
            precondition(count == 1, "backward() without a seed needs a one-element tensor, got shape \(shape)")
        }
        withNoGrad { propagate(seed ?? Tensor.ones(shape)) }
        Profiler.backwardFinished()
    }

    private func propagate(_ seed: Tensor) {
        let order = Profiler.measure("autograd.order", .backward) { topologicalOrder() }
        let pending = PendingGradients([ObjectIdentifier(self): seed])
        pending.whileCurrent { propagate(order: order, pending: pending) }
    }

    private func propagate(order: [Tensor], pending: PendingGradients) {
        for tensor in order.reversed() {
            guard var g = pending.gradients.removeValue(forKey: ObjectIdentifier(tensor)) else { continue }
            if let node = tensor.gradNode {
                let inputGrads = Profiler.measure(node.op, .backward) { node.backward(g) }
                if _slowPath(inputGrads.count != node.inputs.count) {
                    fatalError(
                        "backward of \(node.op) returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
                }
                for (input, ig) in zip(node.inputs, inputGrads) {
                    guard let ig, input.needsGrad else { continue }
                    if _slowPath(ig.shape != input.shape) {
                        fatalError(
                            "backward of \(node.op): gradient shape \(ig.shape) differs from input shape \(input.shape)"
                        )
                    }
                    let key = ObjectIdentifier(input)
                    if var existing = pending.gradients.removeValue(forKey: key) {
                        // Into the first gradient's buffer when nothing else holds it, else into a new one.
                        let owned = isHeldOnlyHere(&existing)
                        pending.gradients[key] = Profiler.measure("autograd.accumulate", .backward) {
                            guard owned else { return existing + ig }
                            existing.addInPlace(ig)
                            return existing
                        }
                    } else {
                        pending.gradients[key] = ig
                    }
                }
            } else if tensor.requiresGrad {
                // A gradient nothing else holds becomes the parameter's as it is; any other is copied.
                let owned = isHeldOnlyHere(&g)
                Profiler.measure("autograd.parameter_grad", .backward) {
                    if let existing = tensor.grad {
                        existing.addInPlace(g)
                    } else {
                        tensor.grad = owned ? g : g.copy()
                    }
                }
            }
        }
    }

    /// Tensors reachable from `self` through graph nodes, inputs before users.
    private func topologicalOrder() -> [Tensor] {
        var order: [Tensor] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Tensor, Bool)] = [(self, false)]
        while let (tensor, expanded) = stack.popLast() {
            if expanded {
                order.append(tensor)
                continue
            }
            let id = ObjectIdentifier(tensor)
            if visited.contains(id) { continue }
            visited.insert(id)
            stack.append((tensor, true))
            if let node = tensor.gradNode {
                for input in node.inputs where input.needsGrad && !visited.contains(ObjectIdentifier(input)) {
                    stack.append((input, false))
                }
            }
        }
        return order
    }
}

/// The gradients a backward pass has summed so far for the tensors whose own backward has not run yet. An op's
/// backward may take its input's (``takeForAccumulation(_:)``), add its own gradient into it in the pass that
/// computes that gradient, and return it, instead of the pass adding the two in one of its own: `layerNorm`
/// takes the gradient a residual connection passed to its input (in small128's finetuning step, 24 such sums of
/// 4 MiB and less).
///
/// ```swift
/// let gx = PendingGradients.takeForAccumulation(x) ?? Tensor.zeros(x.shape)   // then gx += this op's gradient
/// ```
final class PendingGradients {
    /// Per tensor (by identity), the gradient summed so far.
    var gradients: [ObjectIdentifier: Tensor]

    init(_ gradients: [ObjectIdentifier: Tensor]) { self.gradients = gradients }

    /// The pass running on this thread, if any, stored in a pthread key.
    private static let currentKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()

    private static var current: PendingGradients? {
        pthread_getspecific(currentKey).map { Unmanaged<PendingGradients>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Runs `body` with this pass as the thread's current one (restoring the one before: a backward pass may run
    /// inside another's op).
    func whileCurrent(_ body: () -> Void) {
        let outer = pthread_getspecific(Self.currentKey)
        pthread_setspecific(Self.currentKey, Unmanaged.passUnretained(self).toOpaque())
        defer { pthread_setspecific(Self.currentKey, outer) }
        withExtendedLifetime(self) { body() }
    }

    /// The gradient summed so far for `tensor`, taken out of the current pass, when nothing else holds it: the
    /// caller adds its own gradient into it and returns it as `tensor`'s. nil outside a backward pass, when there is
    /// none yet, or when another tensor shares it.
    static func takeForAccumulation(_ tensor: Tensor) -> Tensor? {
        let key = ObjectIdentifier(tensor)
        guard let pass = current, var gradient = pass.gradients.removeValue(forKey: key) else { return nil }
        guard isHeldOnlyHere(&gradient), gradient.shape == tensor.shape else {
            pass.gradients[key] = gradient
            return nil
        }
        return gradient
    }
}

/// Whether nothing but the caller's variable holds `gradient`: no other reference to the tensor and no other
/// tensor (a view) over any of its buffer. Only such a gradient is written in place or handed to a parameter
/// as it is, so that a later write into it (accumulation, gradient clipping, an optimizer) reaches nothing else.
private func isHeldOnlyHere(_ gradient: inout Tensor) -> Bool {
    isKnownUniquelyReferenced(&gradient) && gradient.isSoleTensorOverItsStorage
}
