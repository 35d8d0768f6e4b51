import MixKit
import MixKitTesting
import Testing

/// A parameter's gradient takes over the buffer the backward pass computed when nothing else holds it (no
/// other reference, no view of the buffer), and is a copy otherwise: a gradient that two parameters receive,
/// views of one buffer, the caller's seed. Each parameter's gradient must hold the right values and be its own:
/// writing into one leaves every other gradient, and the seed, as they were. A tensor's second gradient adds
/// into its first in place only under the same condition.
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

    /// `u` and `v` both get the add's gradient (one tensor), and each gets a second one: adding either in place
    /// into the add's would change the other's. Every order of the three terms, so that the gradients can arrive
    /// in any order.
    @Test func aGradientSharedByTwoTensorsIsNotAccumulatedInPlace() throws {
        let orders = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        for order in orders {
            let a = randn([4], seed: 20).asParameter()
            let b = randn([4], seed: 21).asParameter()
            let (w1, w2, w3) = (randn([4], seed: 22), randn([4], seed: 23), randn([4], seed: 24))
            let (u, v) = (a * 1, b * 1)
            let terms = [(u + v) * w1, u * w2, v * w3]
            (terms[order[0]] + terms[order[1]] + terms[order[2]]).sum().backward()
            let (ga, gb) = (try #require(a.grad), try #require(b.grad))
            #expect(maxAbsDiff(ga, w1 + w2) < 1e-6, "terms in order \(order)")
            #expect(maxAbsDiff(gb, w1 + w3) < 1e-6, "terms in order \(order)")
        }
    }

    @Test func aTensorUsedTwiceGetsBothGradients() throws {
        let p = randn([5], seed: 25).asParameter()
        let (w1, w2, w3) = (randn([5], seed: 26), randn([5], seed: 27), randn([5], seed: 28))
        let h = p * 2
        (h * w1 + h * w2 + (h + h) * w3).sum().backward()
        let grad = try #require(p.grad)
        #expect(maxAbsDiff(grad, (w1 + w2 + w3 * 2) * 2) < 1e-5)
    }
}
