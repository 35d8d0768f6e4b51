import ArgumentParser
import Foundation
import MixmaeEvaluation

/// `mixmae eval seg --gt DIR --pred DIR --num-classes N [--ignore-index 255] [--format table|json]`
struct EvalSegCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seg",
        abstract: "Semantic segmentation IoU per class, mIoU and aAcc, as mmsegmentation.",
        discussion: """
            Label maps (single-channel PNG) are paired by file name. Intersection and \
            union are summed over the whole set before dividing; mIoU averages the \
            classes present in the truth or the predictions. With --format json prints an object \
            with keys per_class_iou (null for a class in neither), mIoU and aAcc, in 0...1.
            """
    )

    @Option(name: .customLong("gt"), help: "Directory of ground truth label maps.")
    var truthDirectory: String

    @Option(name: .customLong("pred"), help: "Directory of predicted label maps.")
    var predictionDirectory: String

    @Option(help: "Number of classes; labels are 0..<N.")
    var numClasses: Int

    @Option(help: "Truth label that marks pixels to skip.")
    var ignoreIndex: Int = 255

    @Flag(help: "Map truth 0 to ignored and v to v-1 first (mmseg's reduce_zero_label, ADE20K).")
    var reduceZeroLabel = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        guard numClasses > 0 else { throw ValidationError("--num-classes must be positive") }
    }

    func run() throws {
        let evaluator = try SegmentationEvaluator.evaluate(
            truthDirectory: truthDirectory, predictionDirectory: predictionDirectory,
            classCount: numClasses, ignoreIndex: ignoreIndex, reduceZeroLabel: reduceZeroLabel
        ) { done, total in
            if total >= 100 && (done % max(1, total / 10) == 0 || done == total) {
                Self.note("evaluated \(done)/\(total) images")
            }
        }
        if evaluator.outOfRangeTruthPixels > 0 {
            Self.note(
                "warning: \(evaluator.outOfRangeTruthPixels) truth pixels hold values >= "
                    + "\(numClasses) that are not the ignore index \(ignoreIndex); they count "
                    + "for no class (is --num-classes right?)")
        }
        let metrics = evaluator.metrics
        print(output.json ? metrics.json : metrics.report())
    }

    private static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
