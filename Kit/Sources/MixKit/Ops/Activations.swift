import CKernels

extension Tensor {
    /// GELU, exact form `x * Φ(x)` with the error function.
    public func gelu() -> Tensor {
        defineOp("gelu", self) { _ in
            let y = Tensor(uninitializedShape: shape)
            let px = data
            let py = y.data
            Parallel.forRanges(count, work: count * 8) { lo, hi in mk_gelu(px + lo, py + lo, hi - lo) }
            return OpResult(y) { g in
                let px = self.data
                let gx = Tensor(uninitializedShape: self.shape)
                let pg = g.data
                let pgx = gx.data
                Parallel.forRanges(self.count, work: self.count * 8) { lo, hi in
                    mk_gelu_backward(px + lo, pg + lo, pgx + lo, hi - lo)
                }
                return [gx]
            }
        }
    }

    /// `max(x, 0)`, element-wise.
    public func relu() -> Tensor {
        defineOp("relu", self) { _ in
            OpResult(unaryKernel(.relu, self)) { g in
                let gx = Tensor(uninitializedShape: self.shape)
                for i in 0..<self.count { gx.data[i] = self.data[i] > 0 ? g.data[i] : 0 }
                return [gx]
            }
        }
    }

    /// `1 / (1 + e^-x)`, element-wise.
    public func sigmoid() -> Tensor {
        defineOp("sigmoid", self) { _ in
            let y = unaryKernel(.sigmoid, self)
            let saved = y.detached()
            return OpResult(y) { g in
                let d = binaryKernel(.mul, saved, affineKernel(saved, scale: -1, shift: 1))
                return [binaryKernel(.mul, g, d)]
            }
        }
    }
}
