import CKernels
import Foundation
import MixKit
import Synchronization
import Testing

/// Threaded GEMMs run in pieces that a thread done with its own share takes from the end of another's (GEMMPieces
/// in MixKit): the result must not depend on the pieces or on which thread ran which. A linear layer of 4,096 rows,
/// 128 inputs and 512 outputs has all three kinds: its forward product and input gradient cut along rows, and its
/// weight gradient (512x128, a reduction over 4,096 rows) cut along the reduction into partial products.
@Suite struct GEMMPiecesTests {
    static let (rows, inFeatures, outFeatures) = (4_096, 128, 512)

    /// The output and the three gradients of `sum(linear(x, w, b) * upstream)`.
    struct Results {
        var y: [Float], x: [Float], w: [Float], b: [Float]

        /// How many elements of each differ in their bits from `other`'s (a count, so that a failure does not print
        /// millions of floats).
        func differences(from other: Results) -> [String: Int] {
            [
                "forward": GEMMPiecesTests.differing(y, other.y),
                "input gradient": GEMMPiecesTests.differing(x, other.x),
                "weight gradient": GEMMPiecesTests.differing(w, other.w),
                "bias gradient": GEMMPiecesTests.differing(b, other.b),
            ]
        }
    }

    /// How many elements of `a` and `b` differ in their bits.
    static func differing(_ a: [Float], _ b: [Float]) -> Int {
        zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
    }

    static func linearResults() throws -> Results {
        let x = randn([rows, inFeatures], seed: 41)
        let w = randn([outFeatures, inFeatures], seed: 42)
        let b = randn([outFeatures], seed: 43)
        let upstream = randn([rows, outFeatures], seed: 44)
        for t in [x, w, b] { t.requiresGrad = true }
        let y = linear(x, weight: w, bias: b)
        (y * upstream).sum().backward()
        return Results(
            y: y.scalars, x: try #require(x.grad).scalars, w: try #require(w.grad).scalars,
            b: try #require(b.grad).scalars)
    }

    /// Rows cut in pieces compute each element as one block does: the forward product and the input gradient are
    /// bit for bit MixKit's kernel on the whole product on one thread; the weight gradient, summed in partial
    /// products over the reduction, is within float rounding of a float64 reference.
    @Test func piecesMatchTheWholeProductOnOneThread() throws {
        let got = try Self.linearResults()
        let (rows, inFeatures, outFeatures) = (Self.rows, Self.inFeatures, Self.outFeatures)
        let x = randn([rows, inFeatures], seed: 41).scalars
        let w = randn([outFeatures, inFeatures], seed: 42).scalars
        let upstream = randn([rows, outFeatures], seed: 44).scalars
        var y = [Float](repeating: .nan, count: rows * outFeatures)
        let handled = randn([outFeatures], seed: 43).scalars.withUnsafeBufferPointer { bias in
            mk_sgemm(
                0, 1, rows, outFeatures, inFeatures, 1, x, inFeatures, w, inFeatures, 0, &y, outFeatures,
                bias.baseAddress)
        }
        var gx = [Float](repeating: .nan, count: rows * inFeatures)
        _ = mk_sgemm(
            0, 0, rows, inFeatures, outFeatures, 1, upstream, outFeatures, w, inFeatures, 0, &gx, inFeatures, nil)
        if handled == 1 {
            #expect(Self.differing(got.y, y) == 0, "forward: elements that differ")
            #expect(Self.differing(got.x, gx) == 0, "input gradient: elements that differ")
        }
        var worst = 0.0
        for o in 0..<outFeatures {
            for i in 0..<inFeatures {
                var sum = 0.0
                var size = 0.0
                for r in 0..<rows {
                    let term = Double(upstream[r * outFeatures + o]) * Double(x[r * inFeatures + i])
                    sum += term
                    size += abs(term)
                }
                worst = max(worst, abs(Double(got.w[o * inFeatures + i]) - sum) / (1e-6 * size))
            }
        }
        #expect(worst <= 1, "weight gradient against float64: \(worst) of float rounding")
    }

    /// Inside a region of the thread pool the same products run on one thread, whose home runs out and which then
    /// takes every piece of the other home from its end: the bits must be those of the threads sharing the work,
    /// and two runs the same.
    @Test func piecesTakenFromAnotherHomeGiveTheSameBits() throws {
        let shared = try Self.linearResults()
        let noDifferences = ["forward": 0, "input gradient": 0, "weight gradient": 0, "bias gradient": 0]
        #expect(try Self.linearResults().differences(from: shared) == noDifferences, "two runs")
        let taken = Mutex<Results?>(nil)
        let failure = Mutex<String?>(nil)
        Parallel.forEachPart(2) { part in
            guard part == 0 else { return }
            do {
                let results = try Self.linearResults()
                taken.withLock { $0 = results }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        #expect(failure.withLock { $0 } == nil)
        let oneThread = try #require(taken.withLock { $0 })
        #expect(oneThread.differences(from: shared) == noDifferences, "one thread taking every piece")
    }
}
