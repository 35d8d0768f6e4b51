import Foundation
import MixKit
import MixMPIShim

/// The `mpi` communicator: MPI_COMM_WORLD of the job `mpirun` or `srun`
/// started, through Debian's Open MPI. Errors come back as
/// ``CommunicatorError`` (MPI_ERRORS_RETURN) instead of aborting the job;
/// MPI_Finalize runs when the process exits.
///
/// ```swift
/// let comm = try MPICommunicator()
/// print(comm.rank, comm.size)
/// ```
final class MPICommunicator: Communicator {
    static let descriptor = CommunicatorDescriptor(
        id: "mpi", version: "1.0.0", license: "Apache-2.0",
        summary: "MPI_COMM_WORLD through Open MPI (mpirun, srun --mpi=pmix)",
        make: { try MPICommunicator() })

    let rank: Int
    let size: Int
    let hostName: String
    let libraryVersion: String
    let launcher: String

    init() throws {
        var rank: Int32 = 0
        var size: Int32 = 0
        try MPICommunicator.check(mixmpi_init(&rank, &size), "MPI_Init_thread")
        self.rank = Int(rank)
        self.size = Int(size)
        hostName = MPICommunicator.text { mixmpi_processor_name($0, $1) }
        libraryVersion =
            MPICommunicator.text { mixmpi_library_version($0, $1) }.split(separator: "\n").first.map(String.init)
            ?? "MPI"
        let environment = ProcessInfo.processInfo.environment
        if environment["SLURM_JOB_ID"] != nil && environment["OMPI_COMM_WORLD_SIZE"] == nil {
            launcher = "srun"
        } else if environment["OMPI_COMM_WORLD_SIZE"] != nil {
            launcher = "mpirun"
        } else {
            launcher = "singleton"
        }
    }

    func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try MPICommunicator.check(mixmpi_broadcast_float(base, Int64(buffer.count), Int32(root)), "MPI_Bcast")
    }

    func broadcast(bytes: [UInt8], root: Int) throws -> [UInt8] {
        var count = [Int64(bytes.count)]
        try count.withUnsafeMutableBytes {
            try MPICommunicator.check(
                mixmpi_broadcast_bytes($0.baseAddress!.assumingMemoryBound(to: UInt8.self), 8, Int32(root)),
                "MPI_Bcast")
        }
        var out = rank == root ? bytes : [UInt8](repeating: 0, count: Int(count[0]))
        guard !out.isEmpty else { return out }
        try out.withUnsafeMutableBufferPointer {
            try MPICommunicator.check(mixmpi_broadcast_bytes($0.baseAddress!, count[0], Int32(root)), "MPI_Bcast")
        }
        return out
    }

    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try MPICommunicator.check(mixmpi_allreduce_sum_float(base, Int64(buffer.count)), "MPI_Allreduce")
    }

    func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        try MPICommunicator.check(mixmpi_allreduce_sum_double(base, Int64(buffer.count)), "MPI_Allreduce")
    }

    func barrier() throws {
        try MPICommunicator.check(mixmpi_barrier(), "MPI_Barrier")
    }

    func allgather(bytes: [UInt8]) throws -> [[UInt8]] {
        var counts = [Int64](repeating: 0, count: size)
        try MPICommunicator.check(mixmpi_allgather_counts(Int64(bytes.count), &counts), "MPI_Allgather")
        var out = [UInt8](repeating: 0, count: max(1, Int(counts.reduce(0, +))))
        let sent = bytes.isEmpty ? [0] : bytes
        try MPICommunicator.check(
            mixmpi_allgather_bytes(sent, Int64(bytes.count), counts, &out), "MPI_Allgatherv")
        var parts: [[UInt8]] = []
        var offset = 0
        for count in counts.map(Int.init) {
            parts.append(Array(out[offset..<(offset + count)]))
            offset += count
        }
        return parts
    }

    func abort(code: Int32) -> Never {
        mixmpi_abort(code)
        exit(code)
    }

    private static func check(_ code: Int32, _ operation: String) throws {
        guard code != 0 else { return }
        throw CommunicatorError(operation: operation, message: text { mixmpi_error_string(code, $0, $1) })
    }

    private static func text(_ fill: (UnsafeMutablePointer<CChar>, Int32) -> Void) -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        fill(&buffer, Int32(buffer.count))
        return String(cString: buffer)
    }
}
