import MixKit
import MixSwinModel
import Testing

/// A Swin stage with MixMAE groups sorts each window's tokens by group and
/// attends run by run: the result must be what attention masked by group gives.
@Suite struct SwinGroupOrderTests {
    func tokens(_ count: Int, channels: Int, seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return Tensor.randomNormal([2, count, channels], using: &rng)
    }

    func worst(_ a: Tensor, _ b: Tensor) -> Float {
        zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
    }

    /// One group everywhere (one run per window, the grouped path) equals no groups
    /// (the plain window path), forward and backward.
    @Test func oneGroupEqualsNoGroups() throws {
        let stage = try SwinPaddingTests.tinySwin().layers[0]
        let x = tokens(64, channels: 8, seed: 5)
        func run(_ groups: [UInt8]?) -> (Tensor, Tensor) {
            let input = x.copy().asParameter()
            let out = stage(input, height: 8, width: 8, groups: groups)
            (out.next * out.next).sum().backward()
            return (out.features, input.grad!)
        }
        let plain = run(nil)
        let grouped = run([UInt8](repeating: 0, count: 64))
        #expect(worst(plain.0, grouped.0) <= 1e-5)
        #expect(worst(plain.1, grouped.1) <= 1e-4)
    }

    /// Groups in 2x2 checkerboard blocks (every window holds both): the tokens of
    /// group 1 never reach group 0's outputs, and swapping the two ids (which
    /// reverses every window's sort) changes nothing.
    @Test func groupsStayApartAndTheirIdsDoNotMatter() throws {
        let stage = try SwinPaddingTests.tinySwin().layers[0]
        let groups: [UInt8] = (0..<64).map { (t: Int) -> UInt8 in
            let (blockRow, blockColumn) = (t / 16, t % 8 / 2)
            return UInt8((blockRow + blockColumn) % 2)
        }
        let swapped = groups.map { 1 - $0 }
        let x = tokens(64, channels: 8, seed: 6)
        let noise = tokens(64, channels: 8, seed: 7)
        let keep = Tensor(shape: [1, 64, 1], scalars: groups.map { (id: UInt8) -> Float in id == 0 ? 1 : 0 })
        let changed = x * keep + noise * (1 - keep)
        let base = stage(x, height: 8, width: 8, groups: groups).features
        let other = stage(changed, height: 8, width: 8, groups: groups).features
        let group0 = (0..<64).filter { groups[$0] == 0 }
        let rows = { (t: Tensor) in t.indexSelect(axis: 1, indices: group0) }
        #expect(worst(rows(base), rows(other)) == 0)
        #expect(worst(base, other) > 1e-2, "group 1's outputs do change")
        #expect(worst(base, stage(x, height: 8, width: 8, groups: swapped).features) <= 1e-5)
    }

    /// The stage of ``SwinPaddingTests/tinySwin(seed:)`` (8x8 grid, windows of 4, two
    /// blocks) written out with the stage's own weights as the reference does it:
    /// window partition, the bias table gathered by `relative_position_index`,
    /// attention masked by group, window reverse.
    func referenceStage(_ stage: SwinStage, _ x: Tensor, groups: [UInt8]) throws -> Tensor {
        let weights = Dictionary(uniqueKeysWithValues: stage.namedParameters())
        let (b, c, w) = (x.shape[0], x.shape[2], 4)
        let n = w * w
        var relative: [Int] = []
        for q in 0..<n {
            for k in 0..<n { relative.append((q / w - k / w + w - 1) * (2 * w - 1) + q % w - k % w + w - 1) }
        }
        var windowIds: [UInt8] = []
        for window in 0..<4 {
            for place in 0..<n {
                windowIds.append(groups[(window / 2 * w + place / w) * 8 + window % 2 * w + place % w])
            }
        }
        var h = x.reshaped([b, 2, w, 2, w, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b, 4 * n, c])
        for block in 0..<2 {
            func weight(_ name: String) throws -> Tensor {
                try #require(
                    weights["blocks.\(block).\(name)"], "no blocks.\(block).\(name) in \(weights.keys.sorted())")
            }
            let table = try weight("attn.relative_position_bias_table")
            let heads = table.shape[1]
            let bias = table.indexSelect(axis: 0, indices: relative).reshaped([n, n, heads]).permuted([2, 0, 1])
            let normed = layerNorm(h, weight: try weight("norm1.weight"), bias: try weight("norm1.bias"))
            let qkv = linear(normed, weight: try weight("attn.qkv.weight"), bias: try weight("attn.qkv.bias"))
            let attended = multiHeadAttention(
                qkv: qkv.reshaped([b * 4, n, 3 * c]), heads: heads, scale: 1 / Float(c / heads).squareRoot(),
                bias: bias, groups: windowIds, period: 4)
            h =
                h
                + linear(
                    attended.reshaped([b, 4 * n, c]), weight: try weight("attn.proj.weight"),
                    bias: try weight("attn.proj.bias"))
            let hidden = linear(
                layerNorm(h, weight: try weight("norm2.weight"), bias: try weight("norm2.bias")),
                weight: try weight("mlp.fc1.weight"), bias: try weight("mlp.fc1.bias")
            ).gelu()
            h = h + linear(hidden, weight: try weight("mlp.fc2.weight"), bias: try weight("mlp.fc2.bias"))
        }
        return h.reshaped([b, 2, 2, w, w, c]).permuted([0, 1, 3, 2, 4, 5]).reshaped([b, 64, c])
    }

    /// Groups that split every window unevenly, with bias tables large enough
    /// (std 1) that a bias read at the wrong token pair shows: the grouped stage
    /// gives the reference's output.
    @Test func groupedStageMatchesTheMaskedReference() throws {
        let stage = try SwinPaddingTests.tinySwin().layers[0]
        for (name, table) in stage.namedParameters() where name.hasSuffix("relative_position_bias_table") {
            let values = tokens(table.count / 2, channels: 1, seed: 8).scalars
            for i in 0..<table.count { table.data[i] = values[i] }
        }
        let groups: [UInt8] = (0..<64).map { (t: Int) -> UInt8 in UInt8((t * 5 + t / 8) % 7 < 3 ? 1 : 0) }
        let x = tokens(64, channels: 8, seed: 9)
        let grouped = stage(x, height: 8, width: 8, groups: groups).features
        let reference = try referenceStage(stage, x, groups: groups)
        #expect(grouped.shape == reference.shape)
        #expect(worst(grouped, reference) <= 1e-4)
    }
}
