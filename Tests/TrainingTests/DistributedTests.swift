import Foundation
import MixKit
import MixmaeData
import MixmaeRuns
import TestSupport
import Testing

/// `mpirun`, found on PATH or where Debian's openmpi-bin puts it.
enum MPIRun {
    static var path: String? { executable(named: "mpirun", else: "/usr/bin/mpirun") }

    /// `mpirun -np N` options for a test on a small machine: as root, more ranks than
    /// cores, one kernel thread per rank, the workspace's environment passed on.
    static func arguments(ranks: Int, environment: [String: String]) -> [String] {
        var arguments = ["-np", "\(ranks)", "--allow-run-as-root", "--oversubscribe", "--bind-to", "none"]
        for (key, value) in environment.merging(["MIXMAE_THREADS": "1"], uniquingKeysWith: { $1 }) {
            arguments += ["-x", "\(key)=\(value)"]
        }
        return arguments
    }
}

extension TrainingWorkspace {
    /// `mpirun -np ranks mixmae ARGUMENTS` in the workspace.
    /// `mpirun -np ranks mixmae ARGUMENTS` in the workspace, with `extra` added to every rank's environment.
    func mpirun(
        ranks: Int, _ arguments: [String], extra: [String: String] = [:], timeout: TimeInterval = 600
    ) throws -> ProcessResult {
        try startMPI(ranks: ranks, arguments, extra: extra).wait(timeout: timeout)
    }

    func startMPI(ranks: Int, _ arguments: [String], extra: [String: String] = [:]) throws -> ChildProcess {
        guard let mpirun = MPIRun.path else {
            throw TestSetupError("no mpirun: install Open MPI with scripts/install-deps (openmpi-bin libopenmpi-dev)")
        }
        let environment = environment.merging(extra) { $1 }
        return try ChildProcess(
            mpirun, MPIRun.arguments(ranks: ranks, environment: environment) + [TestPaths.mixmae] + arguments,
            in: folder.path, environment: environment)
    }

    /// `mixmae ARGUMENTS` in one process with one kernel thread.
    func single(_ arguments: [String]) throws -> ProcessResult {
        try runMixmae(arguments, in: folder.path, environment: environment.merging(["MIXMAE_THREADS": "1"]) { $1 })
    }
}

/// The largest absolute and relative difference between two checkpoints' tensors.
func weightDifference(_ a: [String: [Float]], _ b: [String: [Float]]) -> (abs: Float, rel: Float) {
    var maxAbs: Float = 0
    var maxRel: Float = 0
    for (name, x) in a {
        guard let y = b[name], y.count == x.count else { return (.infinity, .infinity) }
        for (u, v) in zip(x, y) {
            let d = abs(u - v)
            maxAbs = max(maxAbs, d)
            maxRel = max(maxRel, d / max(abs(u), 1e-3))
        }
    }
    return (maxAbs, maxRel)
}

/// One run over several processes with `mpirun -np 2` (Open MPI through the
/// Plugins/MPI communicator) against the same run in one process.
@Suite(.serialized) struct DistributedTests {
    /// 2 ranks with 1 micro-batch each and 1 process with 2 accumulation steps see the
    /// same micro-batches (same images, augmentations and masks) and average the same
    /// gradients: 0.5 g1 + 0.5 g2 in one process, (g1 + g2) / 2 over two. Scaling by a
    /// power of two is exact in float32 and a sum of two terms does not depend on the
    /// order, so the weights agree to the bit with one kernel thread per process; the
    /// test allows 1e-6 (relative 1e-5) so that a change of reduction order (more ranks,
    /// a tree allreduce) does not break it, which is still far below what a wrong
    /// scaling (factor 2) or a missing allreduce (half the batch) produces.
    @Test func pretrainingOverTwoRanksEqualsAccumulationInOneProcess() throws {
        let ws = try TrainingWorkspace(images: 128)
        try ws.pretrainRecipe(epochs: 2, batch: 16)
        let single = try ws.single([
            "train", "pretrain.yaml", "--set", "optim.accum_steps=2", "--stop-after-steps", "5",
        ])
        #expect(single.status == 130, "\(single.stderr)")
        let ranks = try ws.mpirun(ranks: 2, ["train", "pretrain.yaml", "--stop-after-steps", "5"])
        #expect(ranks.status == 130, "\(ranks.stdout)\(ranks.stderr)")
        let (maxAbs, maxRel) = weightDifference(try ws.weights(ofRun: 1), try ws.weights(ofRun: 2))
        print("pretrain, 1 process K=2 vs 2 ranks K=1 after 5 steps: max abs \(maxAbs), max rel \(maxRel)")
        #expect(maxAbs <= 1e-6 && maxRel <= 1e-5)
        // A different run really differs (the comparison can fail).
        let other = try ws.single(["train", "pretrain.yaml", "--stop-after-steps", "5"])
        #expect(other.status == 130)
        #expect(weightDifference(try ws.weights(ofRun: 1), try ws.weights(ofRun: 3)).abs > 1e-4)
        let details = try ws.mixmae(["runs", "show", "2"])
        #expect(details.stdout.contains("processes.world_size"), "\(details.stdout)")
        #expect(details.stdout.contains("Open MPI"), "\(details.stdout)")
    }

    /// Classification finetuning from a checkpoint (`init.weights`, which only rank 0
    /// reads: rank 1 gets it by broadcast), with mixup/cutmix drawn per micro-batch:
    /// 2 ranks x 2 micro-batches against 1 process x 4.
    @Test func finetuningOverTwoRanksEqualsAccumulationInOneProcess() throws {
        let ws = try TrainingWorkspace(images: 160)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        #expect(try ws.single(["train", "pretrain.yaml", "--stop-after-steps", "2"]).status == 130)
        try ws.classifyRecipe(name: "cls.yaml", initWeights: ws.folder.file("home/runs/1/last.safetensors"), epochs: 2)
        let noDropPath = ["--set", "model.backbone.drop_path_rate=0"]
        let single = try ws.single(
            ["train", "cls.yaml", "--set", "optim.accum_steps=4", "--stop-after-steps", "5"] + noDropPath)
        #expect(single.status == 130, "\(single.stderr)")
        let ranks = try ws.mpirun(
            ranks: 2, ["train", "cls.yaml", "--set", "optim.accum_steps=2", "--stop-after-steps", "5"] + noDropPath)
        #expect(ranks.status == 130, "\(ranks.stdout)\(ranks.stderr)")
        let (maxAbs, maxRel) = weightDifference(try ws.weights(ofRun: 2), try ws.weights(ofRun: 3))
        print("classify, 1 process K=4 vs 2 ranks K=2 after 5 steps: max abs \(maxAbs), max rel \(maxRel)")
        // Four terms summed in another order ((a+b)+(c+d) against ((a+b)+c)+d): a few
        // float32 ulps per gradient, which AdamW's normalised update can enlarge for
        // gradients near zero, over 5 steps of lr ~ 6e-5.
        #expect(maxAbs <= 1e-5 && maxRel <= 1e-3)
    }

    /// Validation split over two ranks (each evaluates every other batch, the sums are
    /// added) gives one process's numbers: the runs train to the same weights (2 ranks x
    /// 1 micro-batch against 1 process x 2, exact as above), so val_loss, top-1 and top-5
    /// agree to double rounding. 40 validation images in batches of 16 (16, 16, 8) give
    /// the ranks unequal shares; a lost share, a double count or a wrong divisor breaks it.
    @Test func validationSplitOverTwoRanksGivesTheNumbersOfOneProcess() throws {
        let ws = try TrainingWorkspace(images: 200)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let probe = ["--set", "log.val_images=40"]
        let single = try ws.single(["train", "pretrain.yaml", "--set", "optim.accum_steps=2"] + probe)
        #expect(single.status == 0, "\(single.stderr)")
        let ranks = try ws.mpirun(ranks: 2, ["train", "pretrain.yaml"] + probe)
        #expect(ranks.status == 0, "\(ranks.stdout)\(ranks.stderr)")
        try ws.classifyRecipe(name: "cls.yaml", initWeights: ws.folder.file("home/runs/1/last.safetensors"))
        let noDropPath = ["--set", "model.backbone.drop_path_rate=0"]
        let classifySingle = try ws.single(["train", "cls.yaml", "--set", "optim.accum_steps=2"] + noDropPath)
        #expect(classifySingle.status == 0, "\(classifySingle.stderr)")
        let classifyRanks = try ws.mpirun(ranks: 2, ["train", "cls.yaml"] + noDropPath)
        #expect(classifyRanks.status == 0, "\(classifyRanks.stdout)\(classifyRanks.stderr)")
        let registry = try ws.registry
        func last(_ run: RunID, _ name: String) throws -> Double {
            try #require(try registry.metrics(ofRun: run, named: name).last?.value)
        }
        for (one, two, name) in [(1, 2, "val_loss"), (3, 4, "val_loss"), (3, 4, "top1"), (3, 4, "top5")] {
            let (a, b) = (try last(RunID(one), name), try last(RunID(two), name))
            print("\(name): 1 process \(a), 2 ranks \(b)")
            #expect(abs(a - b) <= 1e-9 * max(abs(a), 1), "\(name): \(a) in one process, \(b) over two ranks")
        }
        #expect(try last(1, "val_loss") > 0 && last(3, "top5") > 0)
    }

    /// The shares of an evaluation over 1 to 4 processes cover every batch once, the
    /// last partial one included.
    @Test func evaluationSharesCoverEveryBatchOnce() throws {
        let schedule = EpochSchedule(sampleCount: 40, batchSize: 16, seed: 1, shuffle: false, dropLast: false)
        for processes in 1...4 {
            var seen: [Int] = []
            for rank in 0..<processes {
                let share = schedule.batches(epoch: 0, every: processes, from: rank, workers: 0, prefetch: 1) {
                    _, index in index
                }
                while let index = try share.next() { seen.append(index) }
            }
            #expect(seen.sorted() == [0, 1, 2], "\(processes) processes: \(seen)")
        }
    }

    /// kill -9 of one rank: mpirun ends the other within seconds, the run is CRASHED with
    /// its last checkpoint intact, and it continues in one process (another number of ranks).
    @Test func killingOneRankEndsTheJobAndTheRunResumes() throws {
        let ws = try TrainingWorkspace(images: 96)
        try ws.pretrainRecipe(epochs: 40, batch: 16)
        let job = try ws.startMPI(ranks: 2, ["train", "pretrain.yaml"])
        #expect(waitUntil(timeout: 300) { job.standardErrorSoFar.contains("epoch 2:") }, "\(job.standardErrorSoFar)")
        let ranks = try runProgram("/usr/bin/pgrep", ["-P", "\(job.pid)"]).stdout.split(separator: "\n").compactMap {
            Int32($0)
        }
        #expect(ranks.count == 2)
        kill(ranks.max()!, SIGKILL)
        let started = Date()
        let result = try job.wait(timeout: 60)
        #expect(Date().timeIntervalSince(started) < 60)
        #expect(result.status != 0)
        let list = try ws.mixmae(["runs", "list"])
        #expect(list.stdout.contains("CRASHED"), "\(list.stdout)")
        _ = try SafeTensorsFile(path: ws.folder.file("home/runs/1/last.safetensors"))
        let resumed = try ws.single(["train", "--resume", "1", "--stop-after-steps", "12"])
        #expect(resumed.status == 130, "\(resumed.stderr)")
        #expect(try ws.registry.run(1)?.attempt == 2)
    }

    /// Rank 0 killed (SIGKILL, a test crash point) right after writing the manifest of a
    /// checkpoint commit: mpirun ends the job, the run is CRASHED, resumes over 2 ranks from
    /// the newest complete commit (found and recorded by rank 0 alone), and ends with the
    /// weights of an uninterrupted 2-rank job, bit for bit (drop path on: every rank's model
    /// generator is restored from rank 0's trainer state, which equals its own).
    @Test func aJobWhoseRankZeroIsKilledWhileCommittingResumesToTheSameWeights() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 3, batch: 8)
        let full = try ws.mpirun(ranks: 2, ["train", "pretrain.yaml"] + KillTests.settings)
        #expect(full.status == 0, "\(full.stderr)")
        let killed = try ws.mpirun(
            ranks: 2, ["train", "pretrain.yaml"] + KillTests.settings,
            extra: ["MIXMAE_TEST_CRASH_AT": "after-manifest@12"])
        #expect(killed.status != 0, "\(killed.stderr)")
        #expect(try ws.registry.run(2)?.status == .crashed)
        let resumed = try ws.mpirun(ranks: 2, ["train", "--resume", "run:2"])
        #expect(resumed.status == 0, "\(resumed.stdout)\(resumed.stderr)")
        #expect(resumed.stderr.contains("recorded checkpoints written before the process stopped"), "\(resumed.stderr)")
        #expect(try ws.registry.run(2)?.status == .finished)
        #expect(try ws.registry.run(2)?.attempt == 2)
        #expect(try ws.weights(ofRun: 1) == ws.weights(ofRun: 2))
        // Only rank 0 wrote: no scratch files of another rank in the run folder.
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.folder.file("home/runs/2"))
        #expect(!names.contains { $0.contains(".tmp-") || $0.contains("rank") }, "\(names)")
    }

    /// Ctrl-C in a terminal: SIGINT reaches mpirun and its ranks (the foreground process
    /// group); every rank stops at the same step boundary, rank 0 saves the checkpoint,
    /// and the run is KILLED. (A test's child inherits a blocked SIGINT, so mpirun
    /// ignores it here; the ranks unblock it themselves.)
    @Test func interruptingMpirunStopsEveryRankAtAStepBoundary() throws {
        let ws = try TrainingWorkspace(images: 96)
        try ws.pretrainRecipe(epochs: 40, batch: 16)
        let job = try ws.startMPI(ranks: 2, ["train", "pretrain.yaml"])
        #expect(waitUntil(timeout: 300) { job.standardErrorSoFar.contains("epoch 2:") }, "\(job.standardErrorSoFar)")
        let ranks = try runProgram("/usr/bin/pgrep", ["-P", "\(job.pid)"]).stdout.split(separator: "\n").compactMap {
            Int32($0)
        }
        job.send(SIGINT)
        for rank in ranks { kill(rank, SIGINT) }
        let result = try job.wait(timeout: 120)
        #expect(result.status == 130, "\(result.stderr)")
        #expect(result.stderr.contains("the current step finished and the run was saved"), "\(result.stderr)")
        #expect(try ws.registry.run(1)?.status == .killed)
        #expect(try ws.single(["train", "--resume", "1", "--stop-after-steps", "12"]).status == 130)
    }

    /// A rank that cannot read its data (a broken image, skip_broken false) fails the
    /// whole run with that rank's message, once.
    @Test func aRankThatCannotReadItsDataFailsTheRun() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 16)
        let folder = ws.folder.file("data/classification/train")
        let classFolder = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()[0]
        for image in try FileManager.default.contentsOfDirectory(atPath: folder + "/" + classFolder) {
            try Data("not an image".utf8).write(to: URL(fileURLWithPath: folder + "/" + classFolder + "/" + image))
        }
        let result = try ws.mpirun(ranks: 2, ["train", "pretrain.yaml", "--set", "data.skip_broken=false"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("of the run failed, and every rank stopped"), "\(result.stderr)")
        #expect(result.stderr.contains("rank "), "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "every rank stopped").count == 2, "once: \(result.stderr)")
        #expect(try ws.registry.run(1)?.status == .failed)
    }

    /// Unreadable images skipped by any rank are all listed in `unreadable.txt` and counted
    /// in `data.unreadable`, as in one process (each rank reads its own micro-batches, so
    /// rank 0's list alone would miss rank 1's).
    @Test func unreadableImagesOfEveryRankAreListed() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 8)
        let train = ws.folder.file("data/classification/train")
        for folder in try FileManager.default.contentsOfDirectory(atPath: train).sorted() {
            for image in try FileManager.default.contentsOfDirectory(atPath: train + "/" + folder).sorted().prefix(2) {
                try Data("not an image".utf8).write(to: URL(fileURLWithPath: train + "/" + folder + "/" + image))
            }
        }
        let settings = ["--set", "data.max_unreadable=0.5", "--set", "log.val_images=0", "--set", "log.pictures=0"]
        let single = try ws.single(["train", "pretrain.yaml", "--set", "optim.accum_steps=2"] + settings)
        #expect(single.status == 0, "\(single.stderr)")
        let ranks = try ws.mpirun(ranks: 2, ["train", "pretrain.yaml"] + settings)
        #expect(ranks.status == 0, "\(ranks.stdout)\(ranks.stderr)")
        func listed(_ run: Int) throws -> Set<String> {
            let text = try String(contentsOfFile: ws.folder.file("home/runs/\(run)/unreadable.txt"), encoding: .utf8)
            return Set(text.split(separator: "\n").map { String($0.split(separator: "\t")[0]) })
        }
        let (one, two) = (try listed(1), try listed(2))
        #expect(one.count > 2 && one == two, "one process: \(one.sorted()), two ranks: \(two.sorted())")
        #expect(try ws.registry.tags(ofRun: 2)["data.unreadable"] == String(one.count))
    }

    /// A batch that does not split into accum_steps x ranks equal micro-batches is a recipe error at data.batch_size.
    @Test func batchThatDoesNotSplitIsARecipeError() throws {
        let ws = try TrainingWorkspace(images: 64)
        try ws.pretrainRecipe(epochs: 1, batch: 12)
        let result = try ws.mpirun(ranks: 2, ["train", "pretrain.yaml", "--set", "optim.accum_steps=4"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("data.batch_size"), "\(result.stderr)")
        #expect(result.stderr.components(separatedBy: "data.batch_size:").count == 2, "reported once: \(result.stderr)")
        #expect(try ws.registry.runs().isEmpty)
    }
}

/// `scripts/mpi-two-hosts`: two network namespaces joined by a veth pair, one rank in
/// each, MPI over TCP between 10.77.0.1 and 10.77.0.2 (needs root for `ip netns`, as CI runs).
@Suite struct TwoHostTests {
    @Test func aRunCrossesARealNetworkBetweenTwoNamespaces() throws {
        let script = TestPaths.packageRoot.appendingPathComponent("scripts/mpi-two-hosts").path
        let result = try runProgram(script, [TestPaths.mixmae], timeout: 300)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(
            result.stdout.contains("2 processes on host-a, host-b")
                || result.stderr.contains("2 processes on host-a, host-b"))
        #expect(result.stdout.contains("processes.hosts       host-a,host-b"), "\(result.stdout)")
        #expect(result.stdout.contains("FINISHED"))
    }
}
