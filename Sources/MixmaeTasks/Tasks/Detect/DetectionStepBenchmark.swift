import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost

/// Times full training steps of a detection recipe (FCOS or Mask R-CNN) on its
/// own data: the loader's batches (read outside the timing), the model's loss,
/// backward and AdamW; optionally with MixKit's per-op profile of the timed steps.
///
/// ```swift
/// let result = try DetectionStepBenchmark.run(recipe: recipe, builder: builder, steps: 5, warmup: 1, profile: true)
/// print(result.imagesPerSecond, result.profile ?? "")
/// ```
public enum DetectionStepBenchmark {
    public struct Result: Sendable {
        public var batchSize: Int
        public var stepSeconds: [Double]
        /// Where the timed steps went (``Profiler/report()``), when asked for.
        public var profile: String?

        public var medianSeconds: Double { stepSeconds.sorted()[stepSeconds.count / 2] }
        public var imagesPerSecond: Double { Double(batchSize) / medianSeconds }
    }

    public static func run(
        recipe: TaskRecipe, builder: ComponentBuilder, steps: Int, warmup: Int, profile: Bool,
        log: (String) -> Void = { _ in }
    ) throws -> Result {
        let (task, data, _) = try DetectSetup.make(
            recipe: recipe, builder: builder, initialWeights: nil, runDirectory: NSTemporaryDirectory())
        let optimizer = AdamW(groups: task.parameterGroups(), learningRate: 1e-4)
        var batches = data.batches(epoch: 0, skip: 0)
        var epoch = 0
        var times: [Double] = []
        var batchSize = 0
        for step in 0..<(warmup + steps) {
            var next = try batches.next()
            if next == nil {
                epoch += 1
                batches = data.batches(epoch: epoch, skip: 0)
                next = try batches.next()
            }
            guard let batch = next else { throw DetectionStepBenchmarkError.noBatch(recipe.data.string("root")) }
            if step == warmup && profile { Profiler.start() }
            let start = Date()
            let (loss, _) = try task.loss(for: batch)
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            let seconds = Date().timeIntervalSince(start)
            batchSize = batch.images.shape[0]
            log(
                "step \(step + 1)/\(warmup + steps)\(step < warmup ? " (warm-up)" : ""): "
                    + String(format: "%.1f ms, loss %.4f", seconds * 1000, loss.item()))
            if step >= warmup { times.append(seconds) }
        }
        let report = profile ? Profiler.report() : nil
        if profile { Profiler.stop() }
        return Result(batchSize: batchSize, stepSeconds: times, profile: report)
    }
}

/// The recipe's training data gave no batch.
public enum DetectionStepBenchmarkError: Error, CustomStringConvertible {
    case noBatch(String)

    public var description: String {
        switch self {
        case .noBatch(let root): "the training data under \(root) gave no batch: check data.root and data.batch_size"
        }
    }
}
