import CKernels

// MARK: - Kernels without graph recording

enum BinaryKernel: Int32 {
    case add = 0, sub, mul, div, max, min
}

/// `a op b` with broadcasting, computed without recording the graph.
func binaryKernel(_ op: BinaryKernel, _ a: Tensor, _ b: Tensor) -> Tensor {
    let shape = a.shape == b.shape ? a.shape : broadcastShape(a.shape, b.shape)
    let out = Tensor(uninitializedShape: shape)
    if out.count == 0 { return out }
    let plan = BroadcastPlan(
        shape: shape, strides: [broadcastStrides(a.shape, to: shape), broadcastStrides(b.shape, to: shape)])
    let pa = a.data
    let pb = b.data
    let po = out.data
    let inner = plan.inner
    let sa = plan.innerStrides[0]
    let sb = plan.innerStrides[1]
    if plan.outerCount == 1 {
        Parallel.forRanges(inner, work: inner) { lo, hi in
            mk_binary(op.rawValue, pa + lo * sa, sa, pb + lo * sb, sb, po + lo, hi - lo)
        }
    } else {
        Parallel.forRanges(plan.outerCount, work: out.count) { lo, hi in
            var o = lo * inner
            plan.forEachRun(from: lo, to: hi) { offsets, n in
                mk_binary(op.rawValue, pa + offsets[0], sa, pb + offsets[1], sb, po + o, n)
                o += n
            }
        }
    }
    return out
}

enum UnaryKernel: Int32 {
    case exp = 0, log, sqrt, tanh, erf, neg, abs, relu, sigmoid, rsqrt, square, reciprocal
}

func unaryKernel(_ op: UnaryKernel, _ x: Tensor) -> Tensor {
    let out = Tensor(uninitializedShape: x.shape)
    let px = x.data
    let po = out.data
    Parallel.forRanges(x.count, work: x.count * 4) { lo, hi in
        mk_unary(op.rawValue, px + lo, po + lo, hi - lo)
    }
    return out
}

func affineKernel(_ x: Tensor, scale: Float, shift: Float) -> Tensor {
    let out = Tensor(uninitializedShape: x.shape)
    let px = x.data
    let po = out.data
    Parallel.forRanges(x.count, work: x.count) { lo, hi in
        mk_affine(px + lo, scale, shift, po + lo, hi - lo)
    }
    return out
}

extension Tensor {
    /// Adds `other` (same element count) into this tensor, in place, without recording.
    public func addInPlace(_ other: Tensor) {
        Profiler.measure("add_inplace") {
            if _slowPath(other.count != count) { fatalError("addInPlace: shape \(other.shape) does not fit \(shape)") }
            let po = data
            let pa = other.data
            Parallel.forRanges(count, work: count) { lo, hi in
                mk_accumulate(pa + lo, 1, po + lo, hi - lo)
            }
        }
    }

    /// Multiplies every element by `factor`, in place, without recording.
    public func scaleInPlace(_ factor: Float) {
        Profiler.measure("scale_inplace") {
            let p = data
            Parallel.forRanges(count, work: count) { lo, hi in
                mk_affine(p + lo, factor, 0, p + lo, hi - lo)
            }
        }
    }

    /// Sums this tensor (a gradient of a broadcast result) down to `shape`.
    func sumToShape(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        precondition(lead >= 0, "sumToShape: cannot reduce \(shape) to \(target)")
        var axes: [Int] = Array(0..<lead)
        for i in 0..<target.count where target[i] == 1 && shape[lead + i] != 1 {
            axes.append(lead + i)
        }
        return reduceSumKernel(self, axes: axes).reshapedView(target)
    }
}

// MARK: - Differentiable element-wise operations

/// Element-wise sum with broadcasting.
public func + (a: Tensor, b: Tensor) -> Tensor {
    defineOp("add", a, b) { op in
        op.requireBroadcastable(a, b)
        return OpResult(binaryKernel(.add, a, b)) { g in
            [a.needsGrad ? g.sumToShape(a.shape) : nil, b.needsGrad ? g.sumToShape(b.shape) : nil]
        }
    }
}

/// Element-wise difference with broadcasting.
public func - (a: Tensor, b: Tensor) -> Tensor {
    defineOp("sub", a, b) { op in
        op.requireBroadcastable(a, b)
        return OpResult(binaryKernel(.sub, a, b)) { g in
            [a.needsGrad ? g.sumToShape(a.shape) : nil, b.needsGrad ? (-g).sumToShape(b.shape) : nil]
        }
    }
}

/// Element-wise product with broadcasting.
public func * (a: Tensor, b: Tensor) -> Tensor {
    defineOp("mul", a, b) { op in
        op.requireBroadcastable(a, b)
        return OpResult(binaryKernel(.mul, a, b)) { g in
            [
                a.needsGrad ? binaryKernel(.mul, g, b).sumToShape(a.shape) : nil,
                b.needsGrad ? binaryKernel(.mul, g, a).sumToShape(b.shape) : nil,
            ]
        }
    }
}

/// Element-wise quotient with broadcasting.
public func / (a: Tensor, b: Tensor) -> Tensor {
    defineOp("div", a, b) { op in
        op.requireBroadcastable(a, b)
        let out = binaryKernel(.div, a, b)
        let saved = out.detached()
        return OpResult(out) { g in
            // d(a/b)/db = -out / b
            [
                a.needsGrad ? binaryKernel(.div, g, b).sumToShape(a.shape) : nil,
                b.needsGrad ? (-binaryKernel(.mul, g, binaryKernel(.div, saved, b))).sumToShape(b.shape) : nil,
            ]
        }
    }
}

public prefix func - (x: Tensor) -> Tensor {
    defineOp("neg", x) { _ in OpResult(unaryKernel(.neg, x)) { g in [unaryKernel(.neg, g)] } }
}

public func + (a: Tensor, s: Float) -> Tensor {
    defineOp("add_scalar", a) { _ in OpResult(affineKernel(a, scale: 1, shift: s)) { g in [g] } }
}

public func + (s: Float, a: Tensor) -> Tensor { a + s }

public func - (a: Tensor, s: Float) -> Tensor { a + (-s) }

public func - (s: Float, a: Tensor) -> Tensor {
    defineOp("rsub_scalar", a) { _ in OpResult(affineKernel(a, scale: -1, shift: s)) { g in [unaryKernel(.neg, g)] } }
}

public func * (a: Tensor, s: Float) -> Tensor {
    defineOp("mul_scalar", a) { _ in
        OpResult(affineKernel(a, scale: s, shift: 0)) { g in [affineKernel(g, scale: s, shift: 0)] }
    }
}

public func * (s: Float, a: Tensor) -> Tensor { a * s }

public func / (a: Tensor, s: Float) -> Tensor { a * (1 / s) }

/// Element-wise maximum with broadcasting; the gradient goes to `a` where `a >= b`.
public func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
    defineOp("maximum", a, b) { op in
        op.requireBroadcastable(a, b)
        return OpResult(binaryKernel(.max, a, b)) { g in
            let shape = g.shape
            let takeA = Tensor(uninitializedShape: shape)
            let pa = a.expandedKernel(shape).data
            let pb = b.expandedKernel(shape).data
            for i in 0..<g.count { takeA.data[i] = pa[i] >= pb[i] ? 1 : 0 }
            return [
                a.needsGrad ? binaryKernel(.mul, g, takeA).sumToShape(a.shape) : nil,
                b.needsGrad ? binaryKernel(.mul, g, 1 - takeA).sumToShape(b.shape) : nil,
            ]
        }
    }
}

/// Element-wise minimum with broadcasting; the gradient goes to `a` where `a <= b`.
public func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
    -maximum(-a, -b)
}

extension Tensor {
    /// `e^x`, element-wise.
    public func exp() -> Tensor {
        defineOp("exp", self) { _ in
            let y = unaryKernel(.exp, self)
            let saved = y.detached()
            return OpResult(y) { g in [binaryKernel(.mul, g, saved)] }
        }
    }

    /// Natural logarithm, element-wise.
    public func log() -> Tensor {
        defineOp("log", self) { _ in OpResult(unaryKernel(.log, self)) { g in [binaryKernel(.div, g, self)] } }
    }

    /// Square root, element-wise.
    public func sqrt() -> Tensor {
        defineOp("sqrt", self) { _ in
            let y = unaryKernel(.sqrt, self)
            let saved = y.detached()
            return OpResult(y) { g in [affineKernel(binaryKernel(.div, g, saved), scale: 0.5, shift: 0)] }
        }
    }

    /// Hyperbolic tangent, element-wise.
    public func tanh() -> Tensor {
        defineOp("tanh", self) { _ in
            let y = unaryKernel(.tanh, self)
            let saved = y.detached()
            return OpResult(y) { g in
                [binaryKernel(.mul, g, affineKernel(unaryKernel(.square, saved), scale: -1, shift: 1))]
            }
        }
    }

    /// The error function, element-wise.
    public func erf() -> Tensor {
        defineOp("erf", self) { _ in
            OpResult(unaryKernel(.erf, self)) { g in
                // d erf(x)/dx = 2/sqrt(pi) * exp(-x^2)
                let d = affineKernel(
                    unaryKernel(.exp, affineKernel(unaryKernel(.square, self), scale: -1, shift: 0)),
                    scale: 1.1283791670955126, shift: 0)
                return [binaryKernel(.mul, g, d)]
            }
        }
    }

    /// `x^p` for a constant exponent, element-wise.
    public func pow(_ p: Float) -> Tensor {
        defineOp("pow", self) { _ in
            let y = Tensor(uninitializedShape: shape)
            mk_pow_scalar(data, p, y.data, count)
            return OpResult(y) { g in
                let d = Tensor(uninitializedShape: self.shape)
                mk_pow_scalar(self.data, p - 1, d.data, self.count)
                return [binaryKernel(.mul, g, affineKernel(d, scale: p, shift: 0))]
            }
        }
    }

    /// `x * x`, element-wise.
    public func square() -> Tensor {
        defineOp("square", self) { _ in
            OpResult(unaryKernel(.square, self)) { g in [affineKernel(binaryKernel(.mul, g, self), scale: 2, shift: 0)]
            }
        }
    }

    /// `|x|`, element-wise (gradient 0 at 0).
    public func abs() -> Tensor {
        defineOp("abs", self) { _ in
            OpResult(unaryKernel(.abs, self)) { g in
                let sign = Tensor(uninitializedShape: self.shape)
                for i in 0..<self.count { sign.data[i] = self.data[i] > 0 ? 1 : (self.data[i] < 0 ? -1 : 0) }
                return [binaryKernel(.mul, g, sign)]
            }
        }
    }

    /// `x` clamped to `[low, high]`; the gradient passes where `x` is inside.
    public func clamped(min low: Float = -.infinity, max high: Float = .infinity) -> Tensor {
        defineOp("clamp", self) { _ in
            let y = Tensor(uninitializedShape: shape)
            for i in 0..<count { y.data[i] = Swift.min(Swift.max(data[i], low), high) }
            return OpResult(y) { g in
                let gx = Tensor(uninitializedShape: self.shape)
                for i in 0..<self.count {
                    let v = self.data[i]
                    gx.data[i] = v >= low && v <= high ? g.data[i] : 0
                }
                return [gx]
            }
        }
    }

    /// This tensor materialised at a broadcast shape, without recording.
    func expandedKernel(_ target: [Int]) -> Tensor {
        if shape == target { return self }
        return binaryKernel(.add, Tensor.zeros(target), self)
    }

    /// This tensor broadcast to `target`, materialised (the gradient sums back).
    public func expanded(to target: [Int]) -> Tensor {
        defineOp("expand", self) { op in
            if shape == target { return OpResult(self) }
            op.require(broadcastShapeIfCompatible(shape, target) == target, "\(shape) does not broadcast to \(target)")
            return OpResult(expandedKernel(target)) { g in [g.sumToShape(self.shape)] }
        }
    }
}
