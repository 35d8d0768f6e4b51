import ArgumentParser
import Foundation
import MixKit
import MixmaeSupport
import MixmaeTasks

// A child of `mixmae sweep` ends with it (SIGTERM when the sweep process exits).
ParentDeath.adoptFromEnvironment()

// A bad MIXMAE_GEMM or MIXMAE_POOL_SPIN_US stops the process here, before any command records
// anything (as a bad MIXMAE_CPU does when MixKit loads), not at the first GEMM of a training.
_ = GEMMKernels.requested
_ = Parallel.spinMicroseconds

// Every error a user can hit is a UserFacingError: its report goes to standard error and
// its exit code ends the process (1 for an error, 130 or 143 for an interrupted training).
// Help and --version exit 0, command-line mistakes print ArgumentParser's usage text and
// exit 2 (README: "Exit status").
do {
    var command = try MixmaeCommand.parseAsRoot()
    try command.run()
} catch let error as UserFacingError {
    FileHandle.standardError.write(Data((error.report + "\n").utf8))
    exit(error.exitCode)
} catch let error as ExitCode {
    // A command that printed its own report (recipe check, plugins check) and failed.
    exit(error.rawValue)
} catch {
    let code = MixmaeCommand.exitCode(for: error)
    guard code != .failure else {
        // Not a help request or usage mistake: an error nothing foresaw.
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        exit(ExitStatus.failure)
    }
    let message = MixmaeCommand.fullMessage(for: error)
    if code.isSuccess {
        if !message.isEmpty { print(message) }
        exit(ExitStatus.success)
    }
    FileHandle.standardError.write(Data((message + "\n").utf8))
    exit(code == .validationFailure ? ExitStatus.usage : code.rawValue)
}
