import Foundation
import TestSupport
import Testing

/// The conventions every command follows, on the built `mixmae`: exit statuses, --version,
/// --format json, run references.
@Suite struct CommandLineTests {
    /// A registry home with two simulated runs (run 2 started from run 1's last checkpoint).
    private func homeWithTwoRuns() throws -> TemporaryFolder {
        let home = try TemporaryFolder("cli")
        for arguments in [["--steps", "20"], ["--steps", "10", "--initial-weights", "run:1"]] {
            let run = try runMixmae(["debug", "simulate-run"] + arguments, environment: ["MIXMAE_HOME": home.path])
            #expect(run.status == 0, "\(run.stderr)")
        }
        return home
    }

    private func json(_ result: ProcessResult) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    @Test func exitStatusIs0ForSuccess1ForAnError2ForAUsageMistake() throws {
        let home = try TemporaryFolder("cli")
        let environment = ["MIXMAE_HOME": home.path]
        #expect(try runMixmae(["runs", "list"], environment: environment).status == 0)
        #expect(try runMixmae(["--help"]).status == 0)

        let missing = try runMixmae(["runs", "show", "99"], environment: environment)
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("error: no run 99 in the registry; `mixmae runs list` shows the runs"))

        let unknownOption = try runMixmae(["runs", "list", "--bogus"], environment: environment)
        #expect(unknownOption.status == 2)
        #expect(unknownOption.stderr.contains("Unknown option '--bogus'"), "\(unknownOption.stderr)")
        #expect(unknownOption.stderr.contains("Usage: mixmae runs list"))
        let missingArgument = try runMixmae(["report"], environment: environment)
        #expect(missingArgument.status == 2, "\(missingArgument.stderr)")
        let badValue = try runMixmae(["runs", "list", "--format", "xml"], environment: environment)
        #expect(badValue.status == 2 && badValue.stderr.contains("'table' and 'json'"), "\(badValue.stderr)")
        let validation = try runMixmae(["train"], environment: environment)
        #expect(validation.status == 2 && validation.stderr.contains("give a recipe, or --resume RUN"))
    }

    @Test func versionNamesTheSDKThePluginStampTheCompilerTheKernelPathTheBLASTheGEMMAndTheThreads() throws {
        let result = try runMixmae(["--version"])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 8, "\(result.stdout)")
        #expect(lines[0].range(of: #"^mixmae \d+\.\d+\.\d+$"#, options: .regularExpression) != nil, "\(lines)")
        #expect(lines[1].range(of: #"^MixKit SDK \d+\.\d+$"#, options: .regularExpression) != nil, "\(lines)")
        #expect(lines[2].hasPrefix("plugin ABI stamp: SDK "), "\(lines)")
        #expect(lines[3].range(of: #"^Swift compiler \d+\.\d+\.\d+$"#, options: .regularExpression) != nil)
        #expect(
            lines[4].range(of: #"^C kernels: (avx512|avx2|portable) \(CPU runs "#, options: .regularExpression) != nil)
        #expect(lines[5].range(of: #"^BLAS: OpenBLAS \w+"#, options: .regularExpression) != nil, "\(lines)")
        #expect(lines[6].range(of: #"^GEMM: (MixKit avx|OpenBLAS )"#, options: .regularExpression) != nil, "\(lines)")
        #expect(
            lines[7].range(
                of: #"^compute threads: \d+ threads? \(MixKit pool, idle threads spin 1000 us\)$"#,
                options: .regularExpression) != nil, "\(lines)")
        let sleeping = try runMixmae(["--version"], environment: ["MIXMAE_POOL_SPIN_US": "0"])
        #expect(sleeping.stdout.contains("idle threads spin 0 us"), "\(sleeping.stdout)")
        for bad in ["fast", "-1", "20000000"] {
            let refused = try runMixmae(["--version"], environment: ["MIXMAE_POOL_SPIN_US": bad])
            #expect(
                refused.status == 2 && refused.stderr.contains("MIXMAE_POOL_SPIN_US=\(bad) is not a spin time"),
                "\(refused.stderr)")
        }
        let openBLAS = try runMixmae(["--version"], environment: ["MIXMAE_GEMM": "openblas"])
        #expect(openBLAS.stdout.contains("(MIXMAE_GEMM=openblas)"), "\(openBLAS.stdout)")
        let wrong = try runMixmae(["--version"], environment: ["MIXMAE_GEMM": "mkl"])
        #expect(wrong.status == 2 && wrong.stderr.contains("set MIXMAE_GEMM to mixkit or openblas"), "\(wrong.stderr)")
        // Before any command runs: nothing is recorded under a training started with it.
        let home = try TemporaryFolder()
        let training = try runMixmae(
            ["train", "recipes/quickstart/classify.yaml"],
            environment: ["MIXMAE_GEMM": "mkl", "MIXMAE_HOME": home.path])
        #expect(training.status == 2 && training.stderr.contains("MIXMAE_GEMM=mkl"), "\(training.stderr)")
        #expect(!FileManager.default.fileExists(atPath: home.path + "/registry.sqlite"))
        let chosen = try runMixmae(["--version"], environment: ["OPENBLAS_CORETYPE": "Haswell"])
        #expect(chosen.stdout.contains("BLAS: OpenBLAS Haswell (OPENBLAS_CORETYPE=Haswell)"), "\(chosen.stdout)")
        let portable = try runMixmae(["--version"], environment: ["MIXMAE_CPU": "portable"])
        #expect(portable.stdout.contains("C kernels: portable"), "\(portable.stdout)\(portable.stderr)")
        #expect(portable.stdout.contains("GEMM: OpenBLAS"), "\(portable.stdout)")
    }

    @Test func runReferencesWorkWhereverARunIsTaken() throws {
        let home = try homeWithTwoRuns()
        let environment = ["MIXMAE_HOME": home.path]
        for reference in ["2", "run:2", "run:2:best", "run:2:last"] {
            let show = try runMixmae(["runs", "show", reference, "--format", "json"], environment: environment)
            #expect(show.status == 0, "\(reference): \(show.stderr)")
            let run = try #require(try json(show) as? [String: Any])["run"] as? [String: Any]
            #expect(run?["id"] as? Int == 2, "\(reference)")
        }
        let compare = try runMixmae(
            ["runs", "compare", "run:1:best", "2", "--format", "json"], environment: environment)
        #expect(compare.status == 0, "\(compare.stderr)")
        let report = try runMixmae(["report", "run:1:last", "--out", home.file("one.html")], environment: environment)
        #expect(report.status == 0 && report.stdout.hasSuffix("one.html\n"), "\(report.stderr)")
        let bad = try runMixmae(["runs", "show", "run:two"], environment: environment)
        #expect(bad.status == 1 && bad.stderr.hasPrefix("error: cannot use 'run:two' as a reference"), "\(bad.stderr)")
    }

    @Test func jsonHoldsWhatTheTableShows() throws {
        let home = try homeWithTwoRuns()
        let environment = ["MIXMAE_HOME": home.path]
        // runs list --metrics: the metric columns are in the JSON too, null where a run logged none.
        let table = try runMixmae(["runs", "list", "--metrics", "top1,AP"], environment: environment)
        #expect(table.stdout.contains("top1") && table.stdout.contains("AP"), "\(table.stdout)")
        let listed = try runMixmae(
            ["runs", "list", "--metrics", "top1,AP", "--format", "json"], environment: environment)
        let runs = try #require(try json(listed) as? [[String: Any]], "\(listed.stdout)")
        #expect(runs.map { $0["id"] as? Int } == [2, 1])
        for run in runs {
            let metrics = try #require(run["metrics"] as? [String: Any], "\(run)")
            #expect(metrics["top1"] is Double, "\(metrics)")
            #expect(metrics["AP"] is NSNull, "\(metrics)")
        }
        // Without --metrics there is no metrics key.
        let plain = try #require(
            try json(try runMixmae(["runs", "list", "--format", "json"], environment: environment)) as? [[String: Any]])
        #expect(plain.allSatisfy { $0["metrics"] == nil })

        // plugins inspect: identity, parameters with their constraints, capabilities.
        let registry = TestPaths.packageRoot.appendingPathComponent("registry.yaml").path
        let inspect = try runMixmae(["plugins", "inspect", "swin", "--format", "json", "--registry", registry])
        #expect(inspect.status == 0, "\(inspect.stderr)")
        let swin = try #require(try json(inspect) as? [String: Any])
        #expect(swin["id"] as? String == "swin" && swin["kind"] as? String == "backbone")
        let parameters = try #require(swin["parameters"] as? [[String: Any]])
        let imageSize = try #require(parameters.first { $0["name"] as? String == "img_size" })
        #expect(imageSize["constraint"] as? String == "16 ... 4096" && imageSize["default"] as? String == "224")
        let capabilities = try #require(swin["capabilities"] as? [String: Any])
        #expect(capabilities["supportsMixing"] as? Bool == true)

        // recipe check: the verdict and every issue, with its place.
        let recipes = TestPaths.packageRoot.appendingPathComponent("recipes").path
        let good = try runMixmae([
            "recipe", "check", recipes + "/pretrain/swin-tiny.yaml", "--format", "json", "--registry", registry,
        ])
        #expect(good.status == 0, "\(good.stderr)")
        #expect((try json(good) as? [String: Any])?["ok"] as? Bool == true)
        let bad = try runMixmae([
            "recipe", "check", recipes + "/pretrain/swin-tiny.yaml", "--set", "mask.ratio=2", "--format", "json",
            "--registry", registry,
        ])
        #expect(bad.status == 1)
        let issues = try #require((try json(bad) as? [String: Any])?["issues"] as? [[String: Any]])
        #expect(issues.map { $0["path"] as? String } == ["mask.ratio"], "\(issues)")
        #expect(issues.first?["at"] as? String == "--set[1] mask.ratio=2")
    }

    /// The benchmarks print JSON with every row of their tables, timed (small sizes: seconds).
    @Test func benchmarksPrintJSON() throws {
        let roi = try runMixmae([
            "bench", "roi-align", "--image-size", "64", "--channels", "4", "--repetitions", "1", "--format", "json",
        ])
        #expect(roi.status == 0, "\(roi.stderr)")
        let pooling = try #require(try json(roi) as? [String: Any], "\(roi.stdout)")
        #expect(pooling["image_size"] as? Int == 64 && pooling["channels"] as? Int == 4)
        let cases = try #require(pooling["cases"] as? [[String: Any]])
        #expect(cases.map { $0["output_size"] as? Int } == [7, 14])
        #expect(cases.allSatisfy { ($0["forward_ms"] as? Double ?? 0) > 0 && ($0["backward_ms"] as? Double ?? 0) > 0 })

        // bench train: the three steps torch_bench.py times, with images/s and peak memory.
        let pico = TestPaths.shared.appendingPathComponent("bench/pico64.json").path
        let registry = TestPaths.packageRoot.appendingPathComponent("registry.yaml").path
        var parameters: [String: Int] = [:]
        var gemmGFLOP: [String: Double] = [:]
        for mode in ["pretrain", "finetune", "infer"] {
            let bench = try runMixmae([
                "bench", "train", "--config", pico, "--mode", mode, "--batch", "2", "--steps", "1", "--warmup", "0",
                "--format", "json", "--registry", registry,
            ])
            #expect(bench.status == 0, "\(bench.stderr)")
            let result = try #require(try json(bench) as? [String: Any], "\(bench.stdout)")
            #expect(result["mode"] as? String == mode && result["batch"] as? Int == 2)
            #expect((result["images_per_second"] as? Double ?? 0) > 0)
            #expect((result["peak_rss_mib"] as? Double ?? 0) > 10, "\(result)")
            parameters[mode] = result["parameters"] as? Int
            // The GEMMs' work of a step, and its rate over the median step.
            let work = try #require(result["gemm_gflop_per_step"] as? Double, "\(result)")
            let seconds = try #require(result["median_step_seconds"] as? Double)
            #expect(Swift.abs((result["gemm_gflops"] as? Double ?? 0) * seconds - work) <= 1e-9 * work, "\(result)")
            gemmGFLOP[mode] = work
        }
        // Inference runs the classifier's forward products once; finetuning adds their backward pairs, about twice
        // as much again (the patch embedding needs no gradient of its input).
        let (forward, training) = (gemmGFLOP["infer"] ?? 0, gemmGFLOP["finetune"] ?? 0)
        #expect(forward > 0 && training > 2.5 * forward && training <= 3 * forward, "\(gemmGFLOP)")
        #expect((gemmGFLOP["pretrain"] ?? 0) > 0, "\(gemmGFLOP)")
        // The classifier has the encoder and a 1000-class head, no decoder.
        #expect(parameters["finetune"] != nil && parameters["finetune"] == parameters["infer"])
        #expect(parameters["finetune"] != parameters["pretrain"])

        let augment = try runMixmae(["bench", "augment", "--size", "32", "--images", "2", "--format", "json"])
        #expect(augment.status == 0, "\(augment.stderr)")
        let transforms = try #require(try json(augment) as? [String: Any], "\(augment.stdout)")
        #expect(transforms["size"] as? Int == 32 && transforms["source_width"] as? Int == 500)
        let stages = try #require(transforms["stages"] as? [[String: Any]])
        let names = stages.compactMap { $0["name"] as? String }
        #expect(names.first == "RandomResizedCrop (bicubic) + flip")
        #expect(names.last == "evaluation: resize + centre crop")
        #expect(names.contains("whole training transform"))
        #expect(stages.filter { $0["randaugment_op"] as? Bool == true }.count == 15, "\(names)")
        #expect(stages.allSatisfy { ($0["cpu_ms_per_image"] as? Double ?? -1) >= 0 })
    }

    /// `mixmae bench ops --peak-only` (what scripts/bench-vs-pytorch divides by, and whose one-thread and
    /// all-threads peaks give its threads' FMA scaling column): the FMA peak and nothing else,
    /// as JSON and as one line.
    @Test func benchOpsPeakOnlyPrintsThePeakAlone() throws {
        let ops = try runMixmae(["bench", "ops", "--peak-only", "--repetitions", "1", "--format", "json"])
        #expect(ops.status == 0, "\(ops.stderr)")
        let report = try #require(try json(ops) as? [String: Any], "\(ops.stdout)")
        let peak = try #require(report["fma_peak"] as? [String: Any], "\(report)")
        #expect((peak["all_threads_gflops"] as? Double ?? 0) > 0 && (peak["one_thread_gflops"] as? Double ?? 0) > 0)
        #expect(report["gemm"] == nil && report["kernels"] == nil, "\(report.keys)")
        let table = try runMixmae(["bench", "ops", "--peak-only", "--repetitions", "1"])
        #expect(table.status == 0, "\(table.stderr)")
        let lines = table.stdout.split(separator: "\n")
        #expect(lines.count == 1 && lines.first?.hasPrefix("FMA peak (") == true, "\(table.stdout)")
    }

    /// `mixmae bench ops`: the FMA peak of the kernel path the process runs, and every GEMM's share of it; with
    /// the vector paths hidden, the portable path's peak (automatic choice: a path the suite's environment forces
    /// with MIXMAE_CPU would be missing there).
    @Test func benchOpsReportsTheFMAPeakAndEachGEMMsShare() throws {
        for hidden in ["", "avx512f,avx2"] {
            let ops = try runMixmae(
                ["bench", "ops", "--repetitions", "1", "--rows", "256", "--format", "json"],
                environment: hidden.isEmpty ? [:] : ["MIXMAE_CPU_HIDE": hidden, "MIXMAE_CPU": ""])
            #expect(ops.status == 0, "\(ops.stderr)")
            let report = try #require(try json(ops) as? [String: Any], "\(ops.stdout)")
            if !hidden.isEmpty { #expect(report["kernel_path"] as? String == "portable") }
            let peak = try #require(report["fma_peak"] as? [String: Any], "\(report)")
            let allThreads = try #require(peak["all_threads_gflops"] as? Double)
            #expect(allThreads > 0 && (peak["one_thread_gflops"] as? Double ?? 0) > 0)
            #expect(peak["threads"] as? Int == report["threads"] as? Int)
            let gemms = try #require(report["gemm"] as? [[String: Any]])
            #expect(gemms.first?["name"] as? String == "square 1024", "\(gemms)")
            for gemm in gemms {
                let rate = try #require(gemm["matmul_gflops"] as? Double)
                let share = try #require(gemm["matmul_share_of_peak"] as? Double)
                #expect(Swift.abs(share * allThreads - rate) <= 1e-9 * rate, "\(gemm)")
                // scripts/torch-gemm-rates runs the same products in PyTorch from these fields.
                #expect(gemm["transpose_b"] is Bool && gemm["shared_b"] is Bool, "\(gemm)")
            }
            // Each thread's rate alone and beside the others: positive, each thread a share of M (its first rows).
            let shared = try #require(report["shared_cores"] as? [[String: Any]], "\(report)")
            #expect(shared.count == 3, "\(shared)")
            for row in shared {
                let (m, threads) = (row["m"] as? Int ?? 0, row["threads"] as? Int ?? 0)
                #expect(threads >= 1 && threads <= report["threads"] as? Int ?? 0, "\(row)")
                #expect(row["rows_per_thread"] as? Int == m / Swift.max(threads, 1), "\(row)")
                #expect((row["alone_gflops"] as? Double ?? 0) > 0, "\(row)")
                #expect((row["together_gflops"] as? Double ?? 0) > 0 || row["together_gflops"] is NSNull, "\(row)")
            }
            let stepGEMMs = try #require(report["step_gemm"] as? [[String: Any]], "\(report)")
            #expect(
                stepGEMMs.map { $0["name"] as? String }
                    == ["small128 s0 fc1 (x Wᵀ)", "small128 s2 fc1 (x Wᵀ)", "tiny224 s2 fc1 (x Wᵀ)"], "\(stepGEMMs)")
            for gemm in stepGEMMs {
                let keys = [
                    "warm_gflops", "gelu_gflops", "cold_gflops", "cold_gelu_gflops", "backward_warm_gflops",
                    "backward_cold_gflops",
                ]
                for key in keys {
                    #expect((gemm[key] as? Double ?? 0) > 0, "\(key): \(gemm)")
                }
            }
            let attention = try #require(report["attention"] as? [[String: Any]], "\(report)")
            #expect(
                attention.map { $0["name"] as? String }
                    == ["tiny224 s0 (14x14 windows)", "tiny224 s3 (7x7 windows)", "small128 s0 (8x8 windows)"],
                "\(attention)")
            #expect(attention.map { $0["tokens"] as? Int } == [196, 49, 64], "\(attention)")
            for row in attention {
                for key in ["forward_ms", "forward_gflops", "backward_ms", "backward_gflops"] {
                    #expect((row[key] as? Double ?? 0) > 0, "\(key): \(row)")
                }
            }
        }
    }

    /// `MIXMAE_PROFILE=1 mixmae bench train`: one report on standard error, of the timed steps only.
    @Test func benchTrainProfilesTheTimedStepsOnce() throws {
        let pico = TestPaths.shared.appendingPathComponent("bench/pico64.json").path
        let registry = TestPaths.packageRoot.appendingPathComponent("registry.yaml").path
        let bench = try runMixmae(
            [
                "bench", "train", "--config", pico, "--batch", "2", "--steps", "2", "--warmup", "1", "--registry",
                registry,
            ], environment: ["MIXMAE_PROFILE": "1"])
        #expect(bench.status == 0, "\(bench.stderr)")
        let reports = bench.stderr.components(separatedBy: "MixKit profile: ").dropFirst()
        #expect(reports.count == 1, "\(bench.stderr)")
        #expect(reports.first?.hasPrefix("2 step(s)") == true, "\(bench.stderr)")
        #expect(bench.stderr.components(separatedBy: "GEMM shape (M x N x K").count == 2, "\(bench.stderr)")
    }

    @Test func evalSaysWhichTasksItCanEvaluate() throws {
        let home = try TemporaryFolder("cli")
        let recipe = TestPaths.packageRoot.appendingPathComponent("recipes/pretrain/swin-tiny.yaml").path
        let registry = TestPaths.packageRoot.appendingPathComponent("registry.yaml").path
        let result = try runMixmae(
            ["eval", recipe, "--checkpoint", "run:1", "--registry", registry], environment: ["MIXMAE_HOME": home.path])
        #expect(result.status == 1)
        #expect(
            result.stderr.hasPrefix("error: the recipe's task is 'pretrain', which has no checkpoint evaluation"),
            "\(result.stderr)")
        #expect(result.stderr.contains("(task: classify, detect, segment)"), "\(result.stderr)")
    }
}
