import ArgumentParser
import Foundation
import MixKit
import MixmaeSupport
import MixmaeTasks

/// How a process of a run over several processes ends after an error: an error
/// every rank agreed on (a failing rank, the same mistake everywhere, an
/// interruption, a divergence) is reported once, by rank 0, and every rank exits
/// with its status; an error only this rank saw is printed with its rank and
/// ends the whole job (MPI_Abort), so no rank waits for it forever.
enum ProcessGroupExit {
    static func handle(_ error: Error, communicator: Communicator?) throws -> Never {
        guard let comm = communicator, comm.size > 1 else {
            // Before MPI starts, every rank reads the same recipe and fails the same way:
            // rank 0 reports it.
            if let rank = launcherRank, rank != 0 { throw ExitCode((error as? UserFacingError)?.exitCode ?? 1) }
            throw error
        }
        let code = (error as? UserFacingError)?.exitCode ?? ExitStatus.failure
        let agreed =
            error is RankFailure || error is SharedFailure || error is TrainingInterrupted || error is TrainingStop
        if agreed {
            if comm.rank == 0 { throw error }
            throw ExitCode(code)
        }
        let report = (error as? UserFacingError)?.report ?? "error: \(error)"
        FileHandle.standardError.write(Data("rank \(comm.rank): \(report)\n".utf8))
        comm.abort(code: code)
    }

    /// This process's rank as an MPI launcher set it in the environment, if one did.
    static var launcherRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"].lazy.compactMap { environment[$0].flatMap(Int.init) }
            .first
    }
}
