import Foundation
import MixmaeRuns
import MixmaeSupport
import TestSupport
import Testing

/// A registry that is missing, emptied, truncated or damaged next to existing run folders is
/// refused with what was found, and `runs recover` rebuilds it from the folders.
@Suite struct RecoveryTests {
    /// A home with `count` finished runs, each with a committed checkpoint of step 4 published
    /// as `last.safetensors`.
    func populatedHome(runs count: Int, recipePadding: Int = 0) throws -> TemporaryFolder {
        let home = try TemporaryFolder("recovery")
        let registry = try RunRegistry(home: home.url, options: quietOptions())
        for index in 0..<count {
            let text = "task: pretrain\nseed: \(index)\n# " + String(repeating: "x", count: recipePadding)
            let run = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: text), seed: UInt64(index))
            let folder = run.outputDirectory
            try Data("weights of run \(run.id)".utf8).write(
                to: folder.appendingPathComponent(CheckpointManifest.weightsName(step: 4)))
            try Data("optimizer of run \(run.id)".utf8).write(
                to: folder.appendingPathComponent(CheckpointManifest.optimizerName(step: 4)))
            try CheckpointManifest(
                run: run.id, step: 4, epoch: 1, published: ["checkpoint.last": "last.safetensors"], in: folder
            ).write(in: folder)
            try DurableFile.publish(
                folder.appendingPathComponent(CheckpointManifest.weightsName(step: 4)).path,
                as: folder.appendingPathComponent("last.safetensors").path)
            try run.recordProduced(fileAt: folder.appendingPathComponent("last.safetensors"), role: .checkpointLast)
            try run.finish(.finished)
        }
        return home
    }

    @Test func aMissingOrEmptiedDatabaseNextToRunFoldersIsRefused() throws {
        let home = try populatedHome(runs: 2)
        let database = home.file("registry.sqlite")
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: database + suffix) }
        let missing = thrownError { _ = try RunRegistry(home: home.url, options: quietOptions()) }
        let lost = try #require(missing as? LostRegistryError, "\(String(describing: missing))")
        #expect(lost.found == .missing && lost.runFolders == [1, 2])
        #expect("\(lost)".contains("does not exist, but \(home.file("runs")) holds 2 run folders (1, 2)"))
        #expect("\(lost)".contains("mixmae runs recover"))
        #expect(!FileManager.default.fileExists(atPath: database), "no new database was created")

        FileManager.default.createFile(atPath: database, contents: Data())
        let emptied = thrownError { _ = try RunRegistry(home: home.url, options: quietOptions()) }
        #expect((emptied as? LostRegistryError)?.found == .empty, "\(String(describing: emptied))")

        let report = try RegistryRecovery(home: home.url, options: quietOptions()).run()
        #expect(report.recoveredRuns == [1, 2] && report.checkpoints == 2 && report.problems.isEmpty)
        #expect(report.movedAside.count == 1)
        let registry = try RunRegistry(home: home.url, options: quietOptions())
        #expect(try registry.run(2)?.status == .crashed)
        #expect(try registry.recipe(ofRun: 2).text.hasPrefix("task: pretrain\nseed: 1"))
        let last = try registry.checkpoint(ofRun: 2, role: .checkpointLast)
        #expect(last.url.lastPathComponent == "last.safetensors")
        // New ids go on after the folders, even past a folder the database never knew.
        try FileManager.default.createDirectory(atPath: home.file("runs/7"), withIntermediateDirectories: true)
        let next = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "task: pretrain"), seed: 0)
        #expect(next.id == 8)
    }

    @Test func damagedPagesAreReportedAtOpenAndTheFileIsKeptAside() throws {
        let home = try populatedHome(runs: 40, recipePadding: 3000)
        let database = home.fileURL("registry.sqlite")
        var bytes = try Data(contentsOf: database)
        #expect(bytes.count > 40 * 4096)
        // Garbage over pages 8 to 11 (b-tree pages of the runs table).
        for offset in (8 * 4096)..<(12 * 4096) { bytes[offset] = UInt8(truncatingIfNeeded: offset &* 131 &+ 7) }
        try bytes.write(to: database)
        let error = thrownError { _ = try RunRegistry(home: home.url, options: quietOptions()) }
        let damaged = try #require(error as? DamagedRegistryError, "\(String(describing: error))")
        #expect("\(damaged)".contains("\(database.path) is damaged"), "\(damaged)")
        #expect("\(damaged)".contains("mixmae runs recover"))
        #expect(try Data(contentsOf: database) == bytes, "nothing was written into the damaged file")

        let report = try RegistryRecovery(home: home.url, options: quietOptions()).run()
        #expect(report.recoveredRuns.count == 40)
        let aside = try #require(report.movedAside[database.path])
        #expect(try Data(contentsOf: URL(fileURLWithPath: aside)) == bytes)
        let registry = try RunRegistry(home: home.url, options: quietOptions())
        #expect(try registry.runs().count == 40)
    }

    @Test func aTruncatedDatabaseIsRefused() throws {
        let home = try populatedHome(runs: 30, recipePadding: 3000)
        let database = home.fileURL("registry.sqlite")
        let bytes = try Data(contentsOf: database)
        try bytes.prefix(bytes.count / 2).write(to: database)
        let error = thrownError { _ = try RunRegistry(home: home.url, options: quietOptions()) }
        #expect(error is DamagedRegistryError, "\(String(describing: error))")
    }

    /// A copy taken while a process had the registry open (database plus -wal file) opens
    /// with every run; a -wal file without its database is a missing database.
    @Test func walLeftoversAreReplayedOrReported() throws {
        let home = try TemporaryFolder("wal")
        let registry = try RunRegistry(home: home.url, options: quietOptions())
        for seed in 0..<3 {
            _ = try registry.beginRun(task: "pretrain", recipe: RecipeSnapshot(text: "seed: \(seed)"), seed: 0)
        }
        #expect(FileManager.default.fileExists(atPath: home.file("registry.sqlite-wal")))
        let copy = try TemporaryFolder("wal-copy")
        for name in ["registry.sqlite", "registry.sqlite-wal", "runs"] {
            try FileManager.default.copyItem(atPath: home.file(name), toPath: copy.file(name))
        }
        #expect(try RunRegistry(home: copy.url, options: quietOptions()).runs().count == 3)
        try FileManager.default.removeItem(atPath: copy.file("registry.sqlite"))
        let error = thrownError { _ = try RunRegistry(home: copy.url, options: quietOptions()) }
        #expect((error as? LostRegistryError)?.found == .missing, "\(String(describing: error))")
    }

    /// `runs gc` finds what interrupted writes left in the folders of runs that are not
    /// running (temporary files of dead processes, uncommitted step files) and removes them;
    /// committed checkpoints stay.
    @Test func leftoversOfInterruptedWritesAreFoundAndRemoved() throws {
        let home = try populatedHome(runs: 1)
        let registry = try RunRegistry(home: home.url, options: quietOptions())
        let folder = registry.outputDirectory(ofRun: 1)
        // A pid above the kernel's limit belongs to no process.
        let dead = folder.appendingPathComponent("last.safetensors.tmp-99999999").path
        let uncommitted = folder.appendingPathComponent(CheckpointManifest.optimizerName(step: 8)).path
        let ours = folder.appendingPathComponent("best.safetensors.tmp-\(getpid())").path
        for path in [dead, uncommitted, ours] { FileManager.default.createFile(atPath: path, contents: Data("x".utf8)) }
        #expect(try registry.leftoverFiles() == [dead, uncommitted].sorted())
        #expect(try registry.removeLeftoverFiles().sorted() == [dead, uncommitted].sorted())
        #expect(!FileManager.default.fileExists(atPath: dead) && FileManager.default.fileExists(atPath: ours))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("step-00000004.safetensors").path))
        #expect(try registry.checkpoint(ofRun: 1, role: .checkpointLast).url.lastPathComponent == "last.safetensors")
    }

    /// `PRAGMA quick_check` runs at every open: on a registry of 1,000 runs with metrics it
    /// takes milliseconds (printed; the bound is generous for a loaded machine).
    @Test func openingARegistryOf1000RunsStaysCheap() throws {
        let home = try TemporaryFolder("thousand")
        let registry = try RunRegistry(home: home.url, options: quietOptions())
        try registry.database.writeTransaction {
            for id in 1...1000 {
                try registry.database.run(
                    """
                    INSERT INTO runs(id, task, status, recipe_text, recipe_sha256, host, pid, started_at,
                        heartbeat_at) VALUES (?, 'pretrain', 'FINISHED', ?, 'x', 'h', 1, 0, 0)
                    """, [Int64(id), String(repeating: "r", count: 2000)])
                for step in 0..<50 {
                    try registry.database.run(
                        "INSERT INTO metrics(run_id, step, name, value, time) VALUES (?, ?, 'loss', 1.0, 0)",
                        [Int64(id), Int64(step)])
                }
            }
        }
        let started = Date()
        let reopened = try RunRegistry(home: home.url, options: quietOptions())
        let seconds = Date().timeIntervalSince(started)
        let size = (try FileManager.default.attributesOfItem(atPath: home.file("registry.sqlite"))[.size] as? Int) ?? 0
        print(
            "opening (with quick_check) a registry of 1000 runs, 50000 metric rows, \(size / 1024) KiB: "
                + String(format: "%.1f ms", seconds * 1000))
        #expect(try reopened.run(1000) != nil)
        #expect(seconds < 2)
    }
}
