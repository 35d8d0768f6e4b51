import ArgumentParser
import Foundation
import MixmaeData
import MixmaeEvaluation

/// `mixmae eval coco --gt GT.json --pred DETS.json [--format table|json]`
struct EvalCOCOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coco",
        abstract: "COCO box AP/AR, exactly as pycocotools' COCOeval(gt, dt, \"bbox\").summarize().",
        discussion: """
            Prints the twelve numbers of summarize() in its format, or with --format json an \
            object with keys AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, \
            ARl (values in 0...1, -1 where no ground truth box falls in the area range).
            """
    )

    @Option(name: .customLong("gt"), help: "Ground truth: a COCO instances JSON file.")
    var truthPath: String

    @Option(
        name: .customLong("pred"),
        help: "Detections: a COCO results JSON file [{image_id, category_id, bbox, score}].")
    var predictionPath: String

    @OptionGroup var output: OutputOptions

    func run() throws {
        let truth = try COCOInstances(contentsOfFile: truthPath)
        let detections = try COCODetection.load(contentsOfFile: predictionPath)
        FileHandle.standardError.write(
            Data(
                ("evaluating \(detections.count) detections against \(truth.annotations.count) "
                    + "boxes on \(truth.images.count) images, \(truth.categories.count) categories\n")
                    .utf8))
        let metrics = try COCOBoxEvaluator.evaluate(
            truth: truth, detections: detections, source: predictionPath)
        print(output.json ? metrics.json : metrics.summary)
    }
}
