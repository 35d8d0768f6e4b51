import MixKit
import MixKitTesting
import Testing

@Suite struct ShapeTests {
    let check = GradientCheck()

    @Test func reductionsForward() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(x.sum().item() == 21)
        #expect(x.sum(axes: [0]).scalars == [5, 7, 9])
        #expect(x.sum(axes: [1], keepDims: true).shape == [2, 1])
        #expect(x.mean(axes: [1]).scalars == [2, 5])
        #expect(x.max(axis: 1).scalars == [3, 6])
        #expect(x.max(axis: 0).scalars == [4, 5, 6])
        #expect(abs(x.variance(axes: [1]).scalars[0] - 1) < 1e-6)
        #expect(abs(x.variance(axes: [1], unbiased: false).scalars[0] - 2.0 / 3) < 1e-6)
        let y = randn([3, 4, 5], seed: 3)
        // Non-adjacent axes reduce like two reductions in a row.
        let a = y.sum(axes: [0, 2]).scalars
        let b = y.sum(axes: [2]).sum(axes: [0]).scalars
        for i in 0..<4 { #expect(abs(a[i] - b[i]) < 1e-5) }
    }

    @Test func reductionGradients() {
        check.expect([randn([3, 4, 5], seed: 1)]) { $0[0].sum(axes: [1]) }
        check.expect([randn([3, 4, 5], seed: 1)]) { $0[0].sum(axes: [0, 2], keepDims: true) }
        check.expect([randn([3, 4, 5], seed: 1)]) { $0[0].mean(axes: [-1]) }
        check.expect([randn([3, 4, 5], seed: 1)]) { $0[0].mean() }
        check.expect([randn([3, 6], seed: 2)]) { $0[0].variance(axes: [1]) }
        check.expect([randn([3, 6], seed: 2)]) { $0[0].variance(axes: [0], unbiased: false) }
        check.expect([randn([3, 4, 5], seed: 4)]) { $0[0].max(axis: 1) }
        check.expect([randn([3, 4, 5], seed: 4)]) { $0[0].max(axis: -1, keepDims: true) }
    }

    @Test func permuteSliceConcatFlipForward() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        #expect(x.transposed().scalars == [1, 4, 2, 5, 3, 6])
        let y = Tensor.arange(0, 24).reshaped([2, 3, 4])
        let p = y.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        #expect(p.scalars[0..<6] == [0, 4, 8, 12, 16, 20])
        #expect(y.slice(axis: 1, 1..<3).scalars == [4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23])
        let view = y.slice(axis: 0, 1..<2)
        #expect(view.storage === y.storage)
        #expect(view.scalars.first == 12)
        #expect(concatenate([x, x * 10], axis: 1).scalars == [1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60])
        #expect(concatenate([x, x], axis: 0).shape == [4, 3])
        #expect(x.flipped(axis: 0).scalars == [4, 5, 6, 1, 2, 3])
        #expect(x.flipped(axis: 1).scalars == [3, 2, 1, 6, 5, 4])
        #expect(x.indexSelect(axis: 1, indices: [2, 0, 2]).scalars == [3, 1, 3, 6, 4, 6])
        #expect(
            Tensor([1, 2, 3]).indexScatterAdd(axis: 0, indices: [1, 1, 3], size: 4).scalars == [0, 3, 0, 3])
        // A permutation: each slice to its own place.
        #expect(
            Tensor(shape: [2, 3, 2], scalars: (0..<12).map(Float.init)).indexScatterAdd(
                axis: 1, indices: [2, 0, 1], size: 3
            ).scalars == [2, 3, 4, 5, 0, 1, 8, 9, 10, 11, 6, 7])
        #expect(Tensor([1, 2]).expanded(to: [2, 2]).scalars == [1, 2, 1, 2])
        #expect(x.reshaped([3, -1]).shape == [3, 2])
    }

    /// Permutes whose copies take every branch of the strided copy: innermost runs of 1 to 40 floats (under a
    /// vector, whole vectors, a vector and a remainder, the patch embedding's 4), runs past the short-run limit
    /// (300 floats), a strided innermost axis, and 17 axes that do not merge (more than the odometer holds), each
    /// against the element computed from its indices.
    @Test(arguments: [
        ([2, 3, 8, 4, 8, 4], [0, 2, 4, 1, 3, 5]),
        ([3, 5, 7], [1, 0, 2]),
        ([2, 6, 16], [1, 0, 2]),
        ([4, 3, 40], [1, 0, 2]),
        ([3, 2, 300], [1, 0, 2]),
        ([5, 7, 3], [2, 0, 1]),
        ([2, 3, 2, 2, 33], [3, 0, 2, 1, 4]),
        (Array(repeating: 2, count: 17), Array((0..<17).reversed())),
    ])
    func permuteMatchesItsIndexArithmetic(shape: [Int], axes: [Int]) {
        let count = shape.reduce(1, *)
        let x = Tensor(shape: shape, scalars: (0..<count).map { Float($0) })
        let y = x.permuted(axes)
        #expect(y.shape == axes.map { shape[$0] })
        var sourceStrides = Array(repeating: 1, count: shape.count)
        for k in stride(from: shape.count - 2, through: 0, by: -1) {
            sourceStrides[k] = sourceStrides[k + 1] * shape[k + 1]
        }
        var mismatches = 0
        for flat in 0..<count {
            var rest = flat
            var source = 0
            for k in stride(from: axes.count - 1, through: 0, by: -1) {
                source += rest % y.shape[k] * sourceStrides[axes[k]]
                rest /= y.shape[k]
            }
            if y.data[flat] != Float(source) { mismatches += 1 }
        }
        #expect(mismatches == 0, "\(shape) permuted by \(axes): \(mismatches) elements in the wrong place")
    }

    @Test func shapeGradients() {
        check.expect([randn([2, 3, 4], seed: 1)]) { $0[0].permuted([2, 0, 1]) }
        check.expect([randn([2, 3, 4], seed: 1)]) { $0[0].transposed(0, 2).reshaped([4, 6]) }
        check.expect([randn([4, 3], seed: 1)]) { $0[0].slice(axis: 0, 1..<3) }
        check.expect([randn([2, 5, 3], seed: 1)]) { $0[0].slice(axis: 1, 2..<5) }
        check.expect([randn([2, 3], seed: 1), randn([2, 2], seed: 2)]) { concatenate([$0[0], $0[1]], axis: 1) }
        check.expect([randn([2, 3], seed: 1), randn([1, 3], seed: 2)]) { concatenate([$0[0], $0[1]], axis: 0) }
        check.expect([randn([3, 4], seed: 3)]) { $0[0].flipped(axis: 0) * $0[0] }
        check.expect([randn([5, 2], seed: 3)]) { $0[0].indexSelect(axis: 0, indices: [4, 0, 0, 2]) }
        check.expect([randn([3, 2], seed: 3)]) { $0[0].indexScatterAdd(axis: 0, indices: [1, 1, 0], size: 2) }
        // A permutation along a middle axis (a window layout's order): its gradient is scattered without zeros.
        check.expect([randn([2, 4, 3], seed: 4)]) { $0[0].indexSelect(axis: 1, indices: [3, 1, 0, 2]) }
        check.expect([randn([3, 1], seed: 3)]) { $0[0].expanded(to: [2, 3, 4]) }
        check.expect([randn([2, 2], seed: 3)]) { stack([$0[0], $0[0] * 2]) }
    }

    /// `indexAdd` against its definition computed element by element: distinct indices on a middle axis (the
    /// parallel path, large enough to be split across threads), repeated indices (added in order), and single values.
    @Test func indexAddAddsScaledSlices() {
        func naive(_ x: Tensor, axis: Int, _ indices: [Int], _ source: Tensor, _ alpha: Float) -> [Float] {
            let inner = x.shape[(axis + 1)...].reduce(1, *)
            let outer = x.shape[..<axis].reduce(1, *)
            var out = x.scalars
            for o in 0..<outer {
                for (k, index) in indices.enumerated() {
                    for i in 0..<inner {
                        let scaled = alpha * source.scalars[(o * indices.count + k) * inner + i]
                        out[(o * x.shape[axis] + index) * inner + i] += scaled
                    }
                }
            }
            return out
        }
        let x = randn([6, 40, 300], seed: 1)
        let kept = [39, 0, 7, 12, 30]
        let source = randn([6, kept.count, 300], seed: 2)
        #expect(
            x.indexAdd(axis: 1, indices: kept, source: source, alpha: 1.25).scalars
                == naive(x, axis: 1, kept, source, 1.25))
        let small = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        #expect(
            small.indexAdd(axis: 0, indices: [1, 1], source: Tensor(shape: [2, 2], scalars: [10, 20, 30, 40])).scalars
                == [1, 2, 43, 64, 5, 6])
        #expect(
            Tensor([1, 2, 3, 4]).indexAdd(axis: 0, indices: [3, 1], source: Tensor([10, 20]), alpha: 2).scalars == [
                1, 42, 3, 24,
            ])
        // Every slice named once: a permutation.
        let all = x.indexAdd(axis: 0, indices: [5, 4, 3, 2, 1, 0], source: x, alpha: -1)
        #expect(all.scalars == naive(x, axis: 0, [5, 4, 3, 2, 1, 0], x, -1))
    }

    @Test func indexAddAndIndexSelectGradients() {
        check.expect([randn([2, 4, 3], seed: 1), randn([2, 2, 3], seed: 2)]) {
            $0[0].indexAdd(axis: 1, indices: [3, 0], source: $0[1], alpha: 0.5)
        }
        check.expect([randn([3, 2], seed: 1), randn([3, 2], seed: 2)]) {
            $0[0].indexAdd(axis: 0, indices: [1, 1, 0], source: $0[1], alpha: -2)
        }
        // A tensor both selected from and carried on (drop path's residual connection): the select's gradient is
        // added into the one the tensor already has, for distinct and for repeated indices.
        check.expect([randn([4, 2, 3], seed: 3)]) {
            $0[0].indexAdd(
                axis: 0, indices: [3, 1], source: $0[0].indexSelect(axis: 0, indices: [3, 1]).gelu(), alpha: 2)
        }
        check.expect([randn([4, 2, 3], seed: 3)]) {
            $0[0] * 3 + $0[0].indexSelect(axis: 0, indices: [1, 1, 2]).sum(axes: [0], keepDims: true)
        }
    }

    @Test func graphIsReusableAndAccumulates() {
        let w = Tensor([1, 2, 3]).asParameter()
        let loss = (w * w).sum()
        loss.backward()
        #expect(w.grad!.scalars == [2, 4, 6])
        loss.backward()
        #expect(w.grad!.scalars == [4, 8, 12])
        w.grad = nil
        let frozen = withNoGrad { (w * w).sum() }
        #expect(!frozen.needsGrad)
    }
}
