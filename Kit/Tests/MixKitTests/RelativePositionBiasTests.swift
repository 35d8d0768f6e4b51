import MixKit
import MixKitTesting
import Testing

/// ``relativePositionBias(table:window:order:)`` against the reference's formulation: the table transposed
/// and flattened, gathered through `relative_position_index` (built as the reference builds it, from the
/// coordinates' differences) for every window position's token order.
@Suite struct RelativePositionBiasTests {
    /// The reference's `relative_position_index` `[N * N]` for a window of `w`: `coords` meshgrid, relative
    /// coordinates shifted by `w - 1`, the row one multiplied by `2w - 1`.
    static func referenceIndex(window w: Int) -> [Int] {
        let coordinates = (0..<(w * w)).map { (y: $0 / w, x: $0 % w) }
        return coordinates.flatMap { q in coordinates.map { k in (q.y - k.y + w - 1) * (2 * w - 1) + q.x - k.x + w - 1 }
        }
    }

    /// The bias `[P, heads, N, N]` by one gather, as the Swin plugin computed it before the op.
    static func gathered(_ table: Tensor, window w: Int, order: [Int]) -> Tensor {
        let (rows, heads, n) = (table.shape[0], table.shape[1], w * w)
        let relative = referenceIndex(window: w)
        var index: [Int] = []
        for base in stride(from: 0, to: order.count, by: n) {
            for h in 0..<heads {
                for q in order[base..<(base + n)] {
                    for k in order[base..<(base + n)] { index.append(h * rows + relative[q * n + k]) }
                }
            }
        }
        return table.permuted([1, 0]).reshaped([-1]).indexSelect(axis: 0, indices: index)
            .reshaped([order.count / n, heads, n, n])
    }

    /// Two window positions of a 4x4 window with their tokens shuffled, and one in row-major order.
    static let order: [Int] =
        [5, 0, 15, 3, 9, 12, 1, 7, 2, 14, 8, 11, 4, 10, 6, 13] + Array(0..<16)
        + [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]

    @Test func everyPairReadsItsRowOfTheTable() {
        let table = randn([49, 3], seed: 11)
        let bias = relativePositionBias(table: table, window: 4, order: Self.order)
        #expect(bias.shape == [3, 3, 16, 16])
        #expect(bias.scalars == Self.gathered(table, window: 4, order: Self.order).scalars)
        let identity = relativePositionBias(table: table, window: 4)
        #expect(identity.shape == [1, 3, 16, 16])
        #expect(identity.scalars == Self.gathered(table, window: 4, order: Array(0..<16)).scalars)
    }

    @Test func theGradientAddsEveryPairIntoItsRow() {
        // Large enough (32 positions x 4 heads x 256 pairs) for the backward pass to share the work between threads.
        let order = (0..<32).flatMap { p in (0..<16).map { ($0 * 7 + p) % 16 } }
        let weights = randn([32, 4, 16, 16], seed: 12)
        func gradient(_ f: (Tensor) -> Tensor) -> [Float] {
            let table = randn([49, 4], seed: 13).asParameter()
            (f(table) * weights).sum().backward()
            return table.grad!.scalars
        }
        let got = gradient { relativePositionBias(table: $0, window: 4, order: order) }
        let want = gradient { Self.gathered($0, window: 4, order: order) }
        let worst = zip(got, want).map { abs($0 - $1) / max(abs($1), 1) }.max() ?? .infinity
        #expect(got.count == 49 * 4 && worst <= 1e-5, "largest difference \(worst)")
    }

    @Test func finiteDifferencesAgree() {
        let order = [4, 0, 8, 2, 6, 1, 3, 5, 7, 0, 1, 2, 3, 4, 5, 6, 7, 8]
        GradientCheck().expect([randn([25, 2], seed: 14)]) {
            relativePositionBias(table: $0[0], window: 3, order: order)
        }
    }
}
