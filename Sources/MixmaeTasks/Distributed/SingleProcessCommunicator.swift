import Foundation
import MixKit

/// The host's built-in communicator for a run in one process: every
/// collective is the identity, so the training loop has one code path.
///
/// ```swift
/// let comm = SingleProcessCommunicator()
/// try comm.allreduceSum(buffer)   // unchanged
/// ```
public final class SingleProcessCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var hostName: String { ProcessInfo.processInfo.hostName }
    public var libraryVersion: String { "none" }
    public var launcher: String { "single process" }

    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {}
    public func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] { bytes }
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
    public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
    public func barrier() throws {}
    public func allgather(bytes: [UInt8]) throws -> [[UInt8]] { [bytes] }
    public func abort(code: Int32) -> Never { exit(code) }
}
