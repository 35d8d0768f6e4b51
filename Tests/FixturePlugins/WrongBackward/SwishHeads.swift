import MixKit

// A test plugin whose components define an op of their own with `defineOp`:
// SiLU (swish), `x * sigmoid(x)`. One component's backward is right; the
// other's forgets the second term of the product rule, the kind of mistake a
// hand-written backward makes. `mixmae plugins check` must pass the first and
// fail the second. A third component has a shape mistake (its second layer
// expects one input more than the first gives): the op it reaches must stop
// with the op's name and the shapes, not read past a buffer.

@_cdecl("mixmae_plugin_abi")
public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
    PluginABI.writeStamp(to: stamp)
}

@_cdecl("mixmae_plugin_register")
public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
    PluginRegistrar.register(into: registrar) { r in
        r.add(SwishHead.descriptor(id: "toy-swish-head", wrongBackward: false))
        r.add(SwishHead.descriptor(id: "toy-swish-head-wrong-backward", wrongBackward: true))
        r.add(MisshapenHead.descriptor)
    }
}

/// `x * sigmoid(x)`, whose derivative is `s + x * s * (1 - s)` with `s = sigmoid(x)`;
/// with `wrongBackward` the backward returns `s` alone.
func swish(_ x: Tensor, wrongBackward: Bool) -> Tensor {
    defineOp("swish", x) { _ in
        let s = withNoGrad { x.sigmoid() }
        let y = withNoGrad { x * s }
        return OpResult(y) { g in
            let derivative = wrongBackward ? s : s + x * s * (1 - s)
            return [g * derivative]
        }
    }
}

/// Two linear layers with the custom op between them, read out by a fixed weighting.
final class SwishHead: Module {
    let fc1: Linear
    let fc2: Linear
    let wrongBackward: Bool

    init(width: Int, hidden: Int, wrongBackward: Bool, rng: RandomSource) {
        fc1 = Linear(width, hidden, rng: rng)
        fc2 = Linear(hidden, 3, rng: rng)
        self.wrongBackward = wrongBackward
        super.init()
        Init.normal(fc1.weight, std: 1 / Float(width).squareRoot() * 2, using: rng)
    }

    func callAsFunction(_ x: Tensor) -> Tensor { fc2(swish(fc1(x), wrongBackward: wrongBackward)) }

    static func descriptor(id: String, wrongBackward: Bool) -> ComponentDescriptor {
        ComponentDescriptor(
            id: id, kind: .head, version: "1.0.0", license: "MIT",
            summary: wrongBackward
                ? "A head with a custom op whose backward misses a term, on purpose"
                : "A head with a custom op (swish) defined with defineOp",
            parameters: [
                .int("width", default: 8, range: 1...256, doc: "Input width."),
                .int("hidden", default: 16, range: 1...1024, doc: "Width of the swish layer."),
            ],
            build: { p, context in
                SwishHead(
                    width: p.int("width"), hidden: p.int("hidden"), wrongBackward: wrongBackward, rng: context.rng)
            },
            probe: { module, p, _ in
                let head = module as! SwishHead
                let n = p.int("width")
                let x = Tensor(shape: [4, n], scalars: (0..<(4 * n)).map { Float(($0 * 37) % 23) / 11 - 1 })
                let readOut = Tensor(shape: [4, 3], scalars: (0..<12).map { Float(($0 * 5) % 7) / 3 - 1 })
                return (head(x) * readOut).sum()
            })
    }
}

/// Two linear layers that do not fit: `fc2` takes `hidden + 1` inputs, `fc1` gives `hidden`.
final class MisshapenHead: Module {
    let fc1: Linear
    let fc2: Linear

    init(width: Int, hidden: Int, rng: RandomSource) {
        fc1 = Linear(width, hidden, rng: rng)
        fc2 = Linear(hidden + 1, 3, rng: rng)
        super.init()
    }

    func callAsFunction(_ x: Tensor) -> Tensor { fc2(fc1(x)) }

    static let descriptor = ComponentDescriptor(
        id: "toy-misshapen-head", kind: .head, version: "1.0.0", license: "MIT",
        summary: "A head whose second layer expects one input more than the first gives, on purpose",
        parameters: [
            .int("width", default: 8, range: 1...256, doc: "Input width."),
            .int("hidden", default: 16, range: 1...1024, doc: "Width of the first layer."),
        ],
        build: { p, context in MisshapenHead(width: p.int("width"), hidden: p.int("hidden"), rng: context.rng) },
        probe: { module, p, _ in
            let head = module as! MisshapenHead
            return head(Tensor.ones([4, p.int("width")])).sum()
        })
}
