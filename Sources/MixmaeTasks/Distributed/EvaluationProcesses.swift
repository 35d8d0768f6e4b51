import Foundation
import MixKit
import MixmaeSupport

/// The processes a validation is spread over: which one this is, how many there are,
/// and the sum of every process's partial values. Each process evaluates its share
/// (every `count`-th batch from `rank` on) and ``sum(_:)`` adds the partial sums, so
/// the result is that of one process evaluating everything.
///
/// ```swift
/// let totals = try processes.sum {
///     var correct = 0.0, seen = 0.0
///     // ... this process's batches ...
///     return [correct, seen]
/// }
/// let top1 = totals[0] / totals[1]
/// ```
public struct EvaluationProcesses {
    public let rank: Int
    public let count: Int
    private let communicator: Communicator

    /// One process: ``sum(_:)`` returns its own values.
    public static var single: EvaluationProcesses { EvaluationProcesses(communicator: SingleProcessCommunicator()) }

    public init(communicator: Communicator) {
        self.communicator = communicator
        rank = communicator.rank
        count = communicator.size
    }

    /// Whether this process evaluates batch `index` of a split.
    public func owns(batch index: Int) -> Bool { index % count == rank }

    /// Runs `partial` (this process's share) on every process and returns the
    /// element-wise sum of what they returned. When `partial` throws on any process,
    /// every process throws: the error itself in one process, else ``RankFailure``
    /// with each failing process's message (no process waits forever).
    public func sum(_ partial: () throws -> [Double]) throws -> [Double] {
        guard count > 1 else { return try partial() }
        var values: [Double] = []
        var failure: Error?
        do { values = try partial() } catch { failure = error }
        // The number of values and the failure flag first: a failing process has no values.
        var header = [failure == nil ? 0 : 1, Double(values.count)]
        try header.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
        if header[0] > 0 {
            let message = failure.map { ($0 as? UserFacingError)?.report ?? "\($0)" } ?? ""
            let messages = try communicator.allgather(bytes: Array(message.utf8))
            throw RankFailure(
                failures: messages.enumerated().filter { !$0.element.isEmpty }.map {
                    (rank: $0.offset, message: String(decoding: $0.element, as: UTF8.self))
                })
        }
        precondition(
            header[1] == Double(values.count * count),
            "EvaluationProcesses.sum: the processes returned different numbers of values")
        try values.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
        return values
    }
}
