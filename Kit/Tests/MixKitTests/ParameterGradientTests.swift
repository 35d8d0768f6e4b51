import MixKit
import MixKitTesting
import Testing

/// A parameter's gradient takes over the buffer the backward pass computed when nothing else holds it (no
/// other reference, no view of the buffer), and is a copy otherwise: a gradient that two parameters receive,
/// views of one buffer, the caller's seed. Each parameter's gradient must hold the right values and be its own:
/// writing into one leaves every other gradient, and the seed, as they were.
@Suite struct ParameterGradientTests {
    /// The gradient of `sum(y * w)` with respect to `y` is `w`: the tests read expected values from it.
    private func backward(_ y: Tensor, weights w: Tensor) { (y * w).sum().backward() }

    @Test func aLinearLayersWeightGradientIsTakenWithItsValues() throws {
        let x = randn([5, 3], seed: 1)
        let weight = randn([4, 3], seed: 2).asParameter()
        let w = randn([5, 4], seed: 3)
        backward(linear(x, weight: weight, bias: nil), weights: w)
        let grad = try #require(weight.grad)
        // dW = wᵀ x.
        let want = matmul(w, x, transposeA: true)
        #expect(maxAbsDiff(grad, want) < 1e-5)
        #expect(grad.storage !== weight.storage && grad.storage !== w.storage && grad.storage !== x.storage)
    }

    @Test func twoParametersAddedGetTheirOwnGradients() throws {
        let a = randn([6], seed: 4).asParameter()
        let b = randn([6], seed: 5).asParameter()
        let w = randn([6], seed: 6)
        backward(a + b, weights: w)
        let (ga, gb) = (try #require(a.grad), try #require(b.grad))
        #expect(ga.scalars == w.scalars && gb.scalars == w.scalars)
        #expect(ga !== gb && ga.storage !== gb.storage)
        ga.addInPlace(Tensor.ones([6]))
        #expect(gb.scalars == w.scalars)
    }

    @Test func parametersConcatenatedGetTheirOwnGradients() throws {
        let a = randn([2, 3], seed: 7).asParameter()
        let b = randn([4, 3], seed: 8).asParameter()
        let w = randn([6, 3], seed: 9)
        backward(concatenate([a, b], axis: 0), weights: w)
        let (ga, gb) = (try #require(a.grad), try #require(b.grad))
        #expect(ga.scalars == Array(w.scalars[0..<6]) && gb.scalars == Array(w.scalars[6...]))
        #expect(ga.storage !== gb.storage)
        ga.addInPlace(Tensor.ones([2, 3]))
        #expect(gb.scalars == Array(w.scalars[6...]))
    }

    /// The add hands one gradient to both reshapes, whose backward passes return views of it: two tensors over
    /// one buffer, each referenced once.
    @Test func twoParametersReshapedAndAddedGetTheirOwnGradients() throws {
        let a = randn([6], seed: 17).asParameter()
        let b = randn([3, 2], seed: 18).asParameter()
        let w = randn([2, 3], seed: 19)
        backward(a.reshaped([2, 3]) + b.reshaped([2, 3]), weights: w)
        let (ga, gb) = (try #require(a.grad), try #require(b.grad))
        #expect(ga.scalars == w.scalars && gb.scalars == w.scalars)
        #expect(ga.storage !== gb.storage)
        ga.addInPlace(Tensor.ones([6]))
        #expect(gb.scalars == w.scalars)
    }

    @Test func aParameterUsedThroughAReshapeGetsItsGradient() throws {
        let p = randn([2, 6], seed: 10).asParameter()
        let w = randn([3, 4], seed: 11)
        backward(p.reshaped([3, 4]) * 2, weights: w)
        let grad = try #require(p.grad)
        #expect(grad.shape == [2, 6])
        #expect(grad.scalars == w.scalars.map { $0 * 2 })
    }

    @Test func theCallersSeedIsCopied() throws {
        let p = randn([3], seed: 12).asParameter()
        let seed = Tensor([1, 2, 3])
        p.backward(seed)
        let grad = try #require(p.grad)
        #expect(grad.storage !== seed.storage)
        seed.addInPlace(Tensor.ones([3]))
        #expect(grad.scalars == [1, 2, 3])
    }

    @Test func aSecondBackwardPassAddsIntoTheTakenGradient() throws {
        let x = randn([5, 3], seed: 13)
        let weight = randn([4, 3], seed: 14).asParameter()
        let (w1, w2) = (randn([5, 4], seed: 15), randn([5, 4], seed: 16))
        backward(linear(x, weight: weight, bias: nil), weights: w1)
        backward(linear(x, weight: weight, bias: nil), weights: w2)
        let grad = try #require(weight.grad)
        #expect(maxAbsDiff(grad, matmul(w1 + w2, x, transposeA: true)) < 1e-5)
    }
}
