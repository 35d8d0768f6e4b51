import ArgumentParser
import Foundation
import MixmaeData
import MixmaeEvaluation

/// `mixmae eval coco --gt GT.json --pred DETS.json [--iou-type bbox|segm] [--format table|json]`
struct EvalCOCOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "coco",
        abstract: "COCO box or mask AP/AR, exactly as pycocotools' COCOeval(gt, dt, iouType).summarize().",
        discussion: """
            Prints the twelve numbers of summarize() in its format, or with --format json an \
            object with keys AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, \
            ARl (values in 0...1, -1 where no ground truth object falls in the area range). \
            With --iou-type segm, objects are compared by their masks: the ground truth's \
            polygons (rasterised on each image's width and height) or RLE, the results' \
            RLE `segmentation`.
            """
    )

    @Option(name: .customLong("gt"), help: "Ground truth: a COCO instances JSON file.")
    var truthPath: String

    @Option(
        name: .customLong("pred"),
        help:
            "Detections: a COCO results JSON file [{image_id, category_id, bbox, score}], with an RLE segmentation for segm."
    )
    var predictionPath: String

    @Option(name: .customLong("iou-type"), help: "What to compare: bbox (boxes) or segm (masks).")
    var iouType: COCOIoUType = .bbox

    @OptionGroup var output: OutputOptions

    func run() throws {
        let truth = try COCOInstances(contentsOfFile: truthPath)
        let detections = try COCODetection.load(contentsOfFile: predictionPath)
        let compared = iouType == .segm ? "masks" : "boxes"
        let summary =
            "evaluating \(detections.count) detections against \(truth.annotations.count) \(compared) "
            + "on \(truth.images.count) images, \(truth.categories.count) categories\n"
        FileHandle.standardError.write(Data(summary.utf8))
        let metrics = try COCOBoxEvaluator.evaluate(
            truth: truth, detections: detections, iouType: iouType, source: predictionPath, truthSource: truthPath)
        print(output.json ? metrics.json : metrics.summary)
    }
}

extension COCOIoUType: ExpressibleByArgument {}
