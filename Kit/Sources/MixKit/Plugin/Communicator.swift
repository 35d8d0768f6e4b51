/// The collective operations one training run over several processes needs.
///
/// The host has one built-in communicator for a single process; a plugin
/// (`Plugins/MPI`) registers another with
/// ``PluginRegistrar/add(communicator:)``. Every rank must call the same
/// collectives in the same order with the same sizes.
///
/// ```swift
/// let comm: Communicator = ...
/// var grads: [Float] = flatten(parameters)
/// try grads.withUnsafeMutableBufferPointer { try comm.allreduceSum($0) }
/// for i in grads.indices { grads[i] /= Float(comm.size) }
/// ```
public protocol Communicator: AnyObject {
    /// This process's index, 0..<size.
    var rank: Int { get }
    /// The number of processes of the run.
    var size: Int { get }
    /// The name of the host this rank runs on.
    var hostName: String { get }
    /// The communication library and its version ("Open MPI v4.1.4, ..."), or "none".
    var libraryVersion: String { get }
    /// How the processes were started (`mpirun`, `srun`, `single process`).
    var launcher: String { get }
    /// Replaces `buffer` on every rank by rank `root`'s.
    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws
    /// Replaces `bytes` on every rank by rank `root`'s (any length; for small values).
    func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8]
    /// Sums `buffer` element-wise over all ranks, in place, on every rank.
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
    /// Sums `buffer` element-wise over all ranks in double precision (metrics, counts).
    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
    /// Waits until every rank arrives.
    func barrier() throws
    /// Every rank's `bytes`, indexed by rank (for small values: host names, messages).
    func allgather(bytes: [UInt8]) throws -> [[UInt8]]
    /// Ends every process of the run at once with `code` (the last resort after an error one rank cannot report).
    func abort(code: Int32) -> Never
}

/// A communication failure, with what the library said.
public struct CommunicatorError: Error, CustomStringConvertible {
    public var operation: String
    public var message: String

    public init(operation: String, message: String) {
        self.operation = operation
        self.message = message
    }

    public var description: String { "\(operation) failed: \(message)" }
}

/// A communicator a plugin offers: its identity and how to start it.
///
/// ```swift
/// r.add(communicator: CommunicatorDescriptor(
///     id: "mpi", version: "1.0.0", license: "Apache-2.0", summary: "MPI (Open MPI)",
///     make: { try MPICommunicator() }))
/// ```
public struct CommunicatorDescriptor {
    public var id: String
    public var version: String
    public var license: String
    public var summary: String
    /// Starts the communicator (joins the job the launcher started); called once per process.
    public var make: () throws -> Communicator

    public init(
        id: String, version: String, license: String, summary: String, make: @escaping () throws -> Communicator
    ) {
        self.id = id
        self.version = version
        self.license = license
        self.summary = summary
        self.make = make
    }
}
