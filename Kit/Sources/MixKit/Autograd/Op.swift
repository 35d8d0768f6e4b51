/// Defines one differentiable op: its name, its inputs, how it computes its
/// value and how it turns the gradient of that value into gradients of its
/// inputs, in one place.
///
/// The name is given once and serves as the profiler row (``Profiler``,
/// forward and backward), the node of the recorded graph and the prefix of
/// every error the definition raises through its ``OpContext``. `body`
/// receives that context: check the shapes first (``OpContext/require(_:_:file:line:)``
/// stops with the op's name and its input shapes, in every build), compute the
/// value, and return it with its backward closure.
///
/// The backward closure receives `d loss / d value` and returns one gradient
/// per entry of `inputs`, in order, `nil` where an input needs none: a `nil`
/// input (an absent bias) or one whose `needsGrad` is false, which the
/// closure should test to skip work. The graph is recorded only when grad
/// mode is on and some input needs a gradient (``OpContext/isRecording``); the
/// closure may keep whatever forward computed (a saved output, a mask).
///
/// ```swift
/// /// `log(1 + e^x)`, element-wise.
/// func softplus(_ x: Tensor) -> Tensor {
///     defineOp("softplus", x) { op in
///         // The value, computed without recording the ops it is made of.
///         let y = withNoGrad { (x.exp() + 1).log() }
///         // Backward runs without recording too: d softplus / dx = sigmoid(x).
///         return OpResult(y) { g in [g * x.sigmoid()] }
///     }
/// }
/// ```
///
/// A *composite* op, made only of other ops whose graph already gives its
/// gradient, returns no backward: it gets its profiler row and its checks,
/// and the inner ops record themselves.
///
/// ```swift
/// public func mseLoss(_ prediction: Tensor, _ target: Tensor) -> Tensor {
///     defineOp("mse_loss", prediction, target) { op in
///         op.requireSameShape(prediction, target)
///         return OpResult((prediction - target).square().mean())
///     }
/// }
/// ```
@inline(__always)
public func defineOp(_ name: String, _ inputs: Tensor?..., body: (OpContext) throws -> OpResult) rethrows -> Tensor {
    try defineOp(name, inputs: inputs, body: body)
}

/// ``defineOp(_:_:body:)`` with the inputs as an array (an op over a list of tensors).
public func defineOp(_ name: String, inputs: [Tensor?], body: (OpContext) throws -> OpResult) rethrows -> Tensor {
    try Profiler.measure(name) {
        let op = OpContext(name: name, inputs: inputs)
        let result = try body(op)
        guard let backward = result.backward else { return result.value }
        for case let input? in inputs where input === result.value {
            op.fail("its value is one of its inputs; return a new tensor (a view: reshapedView) when it has a backward")
        }
        return result.value.recording(name, inputs, backward)
    }
}

/// What an op's definition returns: its value and, unless the op is a
/// composite of other ops, its backward closure (see ``defineOp(_:_:body:)``).
public struct OpResult {
    public var value: Tensor
    /// `d loss / d value` to one gradient per input of the op, in order.
    public var backward: ((Tensor) -> [Tensor?])?

    public init(_ value: Tensor, backward: ((Tensor) -> [Tensor?])? = nil) {
        self.value = value
        self.backward = backward
    }
}

/// What an op's definition knows at its entry: its name and inputs, whether
/// the graph is being recorded, and checks that stop with a clear message.
///
/// The checks call `fatalError`, which every build keeps (even `-Ounchecked`,
/// which drops `precondition`): a shape mistake stops with
/// `linear: weight [4, 7] does not fit ... (input shapes [6, 5, 8], [4, 7], [4])`,
/// never with a wrong result or a stray memory access.
public struct OpContext {
    /// The op's name: profiler row, graph node and error prefix.
    public let name: String
    /// The inputs as given to ``defineOp(_:_:body:)``.
    public let inputs: [Tensor?]

    /// True when the value will be recorded for backward: grad mode is on and
    /// an input needs a gradient. Work that only backward needs can be skipped otherwise.
    public var isRecording: Bool {
        GradMode.isEnabled && inputs.contains { $0?.needsGrad ?? false }
    }

    /// Stops with "`name`: `message` (input shapes ...)" unless `condition` holds.
    ///
    /// ```swift
    /// op.require(weight.rank == 2, "weight must be [out, in], got \(weight.shape)")
    /// ```
    @inline(__always)
    public func require(
        _ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line
    ) {
        if _slowPath(!condition) { fail(message(), file: file, line: line) }
    }

    /// Stops unless `tensor` has `rank` dimensions; `layout` names them (`"[B, C, H, W]"`).
    @inline(__always)
    public func requireRank(
        _ tensor: Tensor, _ rank: Int, _ role: @autoclosure () -> String, layout: @autoclosure () -> String,
        file: StaticString = #fileID, line: UInt = #line
    ) {
        if _slowPath(tensor.rank != rank) {
            fail("\(role()) must be \(layout()), got \(tensor.shape)", file: file, line: line)
        }
    }

    /// Stops unless `tensor` has exactly `shape`.
    @inline(__always)
    public func requireShape(
        _ tensor: Tensor, _ shape: [Int], _ role: @autoclosure () -> String, file: StaticString = #fileID,
        line: UInt = #line
    ) {
        if _slowPath(tensor.shape != shape) {
            fail("\(role()) has shape \(tensor.shape), expected \(shape)", file: file, line: line)
        }
    }

    /// Stops unless `a` and `b` have the same shape.
    @inline(__always)
    public func requireSameShape(_ a: Tensor, _ b: Tensor, file: StaticString = #fileID, line: UInt = #line) {
        if _slowPath(a.shape != b.shape) { fail("shapes \(a.shape) and \(b.shape) differ", file: file, line: line) }
    }

    /// Stops with "`name`: `message` (input shapes ...)".
    public func fail(_ message: String, file: StaticString = #fileID, line: UInt = #line) -> Never {
        let shapes = inputs.map { $0.map { "\($0.shape)" } ?? "none" }.joined(separator: ", ")
        fatalError("\(name): \(message) (input shapes \(shapes))", file: file, line: line)
    }
}
