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
}
