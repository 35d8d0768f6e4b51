import Foundation

/// Test-only crash points: with `MIXMAE_TEST_CRASH_AT=PHASE` in the environment the process
/// kills itself with SIGKILL the first time it reaches the named phase of writing a checkpoint,
/// so the kill tests hit every window deterministically (`PHASE@STEP` waits for the checkpoint
/// of that step). Without the variable nothing happens.
///
/// The phases, in order: `before-save`, `after-optim-rename`, `after-weights-rename`,
/// `after-manifest`, `after-publish-optim`, `after-publish`, `after-record`.
///
/// ```swift
/// CrashPoint.reached("after-manifest", step: 12)
/// ```
enum CrashPoint {
    static let phases = [
        "before-save", "after-optim-rename", "after-weights-rename", "after-manifest", "after-publish-optim",
        "after-publish", "after-record",
    ]

    private static let target: (phase: String, step: Int?)? = parse("MIXMAE_TEST_CRASH_AT")

    /// `MIXMAE_TEST_PAUSE_AT=PHASE[@STEP]`: pause there for two seconds instead (after
    /// printing `mixmae: test pause at PHASE`), so a test can send signals mid-save.
    private static let pause: (phase: String, step: Int?)? = parse("MIXMAE_TEST_PAUSE_AT")

    private static func parse(_ variable: String) -> (phase: String, step: Int?)? {
        guard let value = ProcessInfo.processInfo.environment[variable], !value.isEmpty else { return nil }
        let parts = value.split(separator: "@", maxSplits: 1).map(String.init)
        return (parts[0], parts.count > 1 ? Int(parts[1]) : nil)
    }

    /// Kills the process if the environment asks for a crash at `phase` (of the checkpoint of
    /// `step`), or pauses if it asks for a pause there.
    static func reached(_ phase: String, step: Int) {
        if let pause, pause.phase == phase, pause.step.map({ $0 == step }) ?? true {
            FileHandle.standardError.write(Data("mixmae: test pause at \(phase)\n".utf8))
            let end = Date().addingTimeInterval(2)
            while Date() < end { usleep(20_000) }
        }
        guard let target, target.phase == phase, target.step.map({ $0 == step }) ?? true else { return }
        kill(getpid(), SIGKILL)
    }
}
