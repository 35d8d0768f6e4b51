import Foundation
import MixKit
import MixmaeSupport

/// Averages the gradients of a parameter list over the ranks of a
/// communicator: the gradients are packed into one flat float32 buffer and
/// summed with a few large allreduce calls (buckets of ``bucketElements``),
/// not one call per tensor, then divided by the number of ranks.
///
/// A parameter without a gradient on a rank counts as zero there; it gets a
/// gradient only when some rank has one, so a parameter no rank touched is
/// left alone by the optimizer exactly as in one process.
///
/// ```swift
/// let averager = GradientAverager(parameters: params, communicator: comm)
/// loss.backward()
/// try averager.average()
/// optimizer.step()
/// ```
public final class GradientAverager {
    public let parameters: [Tensor]
    public let communicator: Communicator
    /// Floats per allreduce call (16 MiB).
    public let bucketElements: Int
    /// Seconds spent in allreduce since creation.
    public private(set) var seconds: Double = 0

    private var buffer: [Float]
    private let offsets: [Int]

    public init(parameters: [Tensor], communicator: Communicator, bucketElements: Int = 1 << 22) {
        self.parameters = parameters
        self.communicator = communicator
        self.bucketElements = bucketElements
        var offsets: [Int] = []
        var total = 0
        for p in parameters {
            offsets.append(total)
            total += p.count
        }
        self.offsets = offsets
        // The gradients, then one presence flag per parameter.
        buffer = [Float](repeating: 0, count: total + parameters.count)
    }

    /// Replaces every gradient by its mean over the ranks (nothing to do on one rank).
    public func average() throws {
        guard communicator.size > 1 else { return }
        let flags = buffer.count - parameters.count
        for (i, p) in parameters.enumerated() {
            buffer.withUnsafeMutableBufferPointer { out in
                let target = out.baseAddress! + offsets[i]
                if let g = p.grad {
                    target.update(from: g.data, count: p.count)
                    out[flags + i] = 1
                } else {
                    target.update(repeating: 0, count: p.count)
                    out[flags + i] = 0
                }
            }
        }
        let started = Date()
        try buffer.withUnsafeMutableBufferPointer { all in
            var start = 0
            while start < all.count {
                let end = min(all.count, start + bucketElements)
                try communicator.allreduceSum(UnsafeMutableBufferPointer(rebasing: all[start..<end]))
                start = end
            }
        }
        seconds += Date().timeIntervalSince(started)
        let scale = 1 / Float(communicator.size)
        for (i, p) in parameters.enumerated() where buffer[flags + i] > 0 {
            let g = p.grad ?? Tensor.zeros(p.shape)
            buffer.withUnsafeBufferPointer { all in
                let source = all.baseAddress! + offsets[i]
                for k in 0..<p.count { g.data[k] = source[k] * scale }
            }
            p.grad = g
        }
    }

    /// Makes every rank's `tensors` rank `root`'s (the initial weights: give every
    /// rank the same list, e.g. a model's tensors sorted by name).
    public static func broadcast(_ tensors: [Tensor], communicator: Communicator, root: Int = 0) throws {
        guard communicator.size > 1 else { return }
        for t in tensors {
            try communicator.broadcast(UnsafeMutableBufferPointer(start: t.data, count: t.count), root: root)
        }
    }
}

/// One or more ranks failed; every rank stops at the same point, and rank 0
/// reports each failing rank's message once, prefixed by its rank.
public struct RankFailure: UserFacingError {
    /// The failing ranks and their messages, by rank.
    public var failures: [(rank: Int, message: String)]

    public var what: String {
        let ranks = failures.map { String($0.rank) }.joined(separator: ", ")
        return "rank\(failures.count == 1 ? "" : "s") \(ranks) of the run failed, and every rank stopped"
    }

    public var details: [String] {
        failures.map { failure in
            "rank \(failure.rank): "
                + (failure.message.hasPrefix("error: ") ? String(failure.message.dropFirst(7)) : failure.message)
        }
    }
}
