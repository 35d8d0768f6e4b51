import MixKit
import MixKitTesting
import Testing

/// An op's backward adding its gradient into the one its input has gathered from other users so far (the
/// backward pass's pending gradient), instead of the pass adding the two in one of its own.
@Suite struct PendingGradientTests {
    /// Half a Swin block, `linear(layerNorm(h), adding: h)`: h's gradient is the residual connection's plus
    /// LayerNorm's, and LayerNorm's backward (which runs second) adds its own into the residual's as it computes
    /// it. Bit for bit the sum of the two computed apart, and the profile has no separate accumulation.
    @Test func layerNormAddsIntoTheResidualConnectionsGradient() throws {
        let start = randn([37, 24], seed: 1)
        let (w, b) = (randn([24], seed: 2), randn([24], seed: 3))
        let weight = randn([24, 24], seed: 4, scale: 0.2)
        let upstream = randn([37, 24], seed: 5)
        let h = start.copy()
        h.requiresGrad = true
        Profiler.start()
        (linear(layerNorm(h, weight: w, bias: b), weight: weight, bias: nil, adding: h) * upstream).sum().backward()
        Profiler.stop()
        let profile = Profiler.report()
        #expect(profile.contains("layer_norm") && !profile.contains("autograd.accumulate"), "\(profile)")
        // LayerNorm's share alone; the residual connection's is the upstream gradient itself.
        let alone = start.copy()
        alone.requiresGrad = true
        (linear(layerNorm(alone, weight: w, bias: b), weight: weight, bias: nil) * upstream).sum().backward()
        let layerNormShare = try #require(alone.grad)
        #expect(h.grad?.scalars == (upstream + layerNormShare).scalars)
    }

    /// LayerNorm and another user of its input, in whichever order the pass runs them: the input's gradient is the
    /// sum of the two computed apart.
    @Test func layerNormBesideAnotherUserGivesTheSum() throws {
        let x = randn([5, 8], seed: 6)
        x.requiresGrad = true
        let (u, v) = (randn([5, 8], seed: 7), randn([5, 8], seed: 8))
        ((layerNorm(x, weight: nil, bias: nil) * u).sum() + (x * v).sum()).backward()
        let alone = randn([5, 8], seed: 6)
        alone.requiresGrad = true
        (layerNorm(alone, weight: nil, bias: nil) * u).sum().backward()
        let layerNormShare = try #require(alone.grad)
        #expect(x.grad?.scalars == (layerNormShare + v).scalars)
    }
}
