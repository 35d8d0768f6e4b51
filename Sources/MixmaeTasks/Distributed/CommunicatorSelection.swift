import Foundation
import MixKit
import MixmaePluginHost
import MixmaeSupport

/// Picks the communicator of a run: MPI when the process was started by an
/// MPI launcher (`OMPI_COMM_WORLD_SIZE`, `PMIX_RANK`, `PMI_RANK` in the
/// environment) or the recipe says `distributed: mpi`, else the built-in
/// single-process one. MPI comes from the plugin that registers the
/// communicator `mpi` (Plugins/MPI); the host itself has no MPI dependency.
///
/// ```swift
/// let comm = try CommunicatorSelection.choose(mode: "auto", catalog: catalog)
/// ```
public enum CommunicatorSelection {
    /// The environment variables MPI launchers set in each process.
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"]

    /// The launcher variable present in `environment`, if any.
    public static func launcherVariable(in environment: [String: String]) -> String? {
        launcherVariables.first { environment[$0] != nil }
    }

    /// The communicator for `mode` (`auto`, `none`, `mpi`).
    public static func choose(
        mode: String, catalog: PluginCatalog, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> Communicator {
        let launched = launcherVariable(in: environment)
        if mode == "none" || (mode == "auto" && launched == nil) { return SingleProcessCommunicator() }
        guard let mpi = catalog.communicators.first(where: { $0.descriptor.id == "mpi" }) else {
            throw MPIUnavailable(
                reason: launched.map { "the process runs under an MPI launcher (\($0) is set)" }
                    ?? "the recipe says distributed: mpi",
                refusal: catalog.refusals.first { $0.library.contains("MixMPI") }.map { "\($0)" },
                registry: catalog.registry.path)
        }
        do {
            return try mpi.descriptor.make()
        } catch {
            throw MPIUnavailable(
                reason: "the MPI communicator (\(mpi.library)) could not start: \(error)", refusal: nil,
                registry: catalog.registry.path)
        }
    }
}

/// MPI was asked for but cannot be used.
public struct MPIUnavailable: UserFacingError {
    public var reason: String
    /// Why the registry's MPI plugin was refused, if it was.
    public var refusal: String?
    public var registry: String

    public var what: String {
        "\(reason), but MPI is not available"
            + (refusal.map { ": the MPI plugin was refused (\($0))" }
                ?? ": no plugin in \(registry) offers the communicator 'mpi'")
    }

    public var hint: String? {
        "install Open MPI (`scripts/install-deps`, or `apt-get install openmpi-bin libopenmpi-dev`), rebuild "
            + "(`swift build -c release` builds libMixMPI.so) and list it in registry.yaml; or train in one process "
            + "with `--set distributed=none` outside mpirun"
    }
}
