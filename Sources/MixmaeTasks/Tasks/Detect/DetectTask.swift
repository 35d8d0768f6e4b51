import Foundation
import MixKit
import MixmaeData
import MixmaeEvaluation
import MixmaeSupport

/// The validation split of a detection task: its ground truth and its loader.
public struct DetectionValidation {
    public var truth: COCOInstances
    public var dataset: DetectionDataset
    public var loader: DetectionBatchLoader

    public init(truth: COCOInstances, dataset: DetectionDataset, loader: DetectionBatchLoader) {
        self.truth = truth
        self.dataset = dataset
        self.loader = loader
    }
}

/// Detection finetuning: backbone + neck + a dense head (FCOS) or a two-stage
/// detector (Mask R-CNN) trained on its loss, with layer-wise learning-rate decay
/// on the backbone; after every epoch, COCO box AP on the validation split
/// (pycocotools-exact), with the detections written to `val_detections.json` in
/// the run folder, and for a model with a mask head also mask AP (`mask_AP`, ...)
/// with the masks written to `val_segmentations.json`. Every `log.pictures_every`
/// epochs, a picture of the first validation images with their predicted boxes (and
/// masks) beside the ground truth. The best checkpoint is the one with the highest box AP.
public final class DetectTask: TrainingTask {
    public let detector: any DetectionModel
    public let layerDecay: Double
    public let weightDecay: Double
    public let validation: DetectionValidation?
    public let settings: DetectionSettings
    public private(set) var outputDirectory: String
    /// Which epochs draw ``DetectionPicture``s of the first validation images (none by default).
    public var pictures = PredictionPictureSchedule(count: 0, every: 0)

    public var model: Module { detector }
    public var selectionMetric: TaskMetric? { validation == nil ? nil : ObjectDetection().selectionMetric }
    /// The data loader draws the augmentation; the task has no generator of its own.
    public var generatorState: [UInt64]? {
        get { nil }
        set {}
    }

    /// The file evaluation writes the latest validation detections to.
    public func attach(runDirectory: String) {
        outputDirectory = runDirectory
        pictures.directory = runDirectory + "/pictures"
    }

    public var detectionsPath: String { (outputDirectory as NSString).appendingPathComponent("val_detections.json") }

    /// The file evaluation writes the latest validation masks to (COCO segm results), for a mask head.
    public var segmentationsPath: String {
        (outputDirectory as NSString).appendingPathComponent("val_segmentations.json")
    }

    public init(
        model: any DetectionModel, layerDecay: Double, weightDecay: Double,
        validation: DetectionValidation?, settings: DetectionSettings, outputDirectory: String
    ) {
        self.detector = model
        self.layerDecay = layerDecay
        self.weightDecay = weightDecay
        self.validation = validation
        self.settings = settings
        self.outputDirectory = outputDirectory
    }

    public func parameterGroups() -> [ParameterGroup] {
        LayerDecayGroups.make(
            detector.namedParameters(), backbone: detector.backbone,
            backboneNames: Set(detector.backbone.namedParameters().map(\.0)), decay: layerDecay,
            weightDecay: weightDecay)
    }

    public func loss(for batch: Batch) throws -> (loss: Tensor, logs: [String: Double]) {
        guard let detection = batch.detection else {
            throw InputError(
                "the detection task got a batch without boxes; its data source must be a DetectionBatchLoader")
        }
        let loss = detector.loss(detection)
        return (loss.total, loss.terms)
    }

    public func evaluate(epoch: Int) throws -> [String: Double]? {
        guard let validation else { return nil }
        let result = try DetectionEvaluation.run(detector, on: validation, settings: settings)
        try COCOResults.write(result.detections, to: detectionsPath)
        if result.maskMetrics != nil {
            try COCOResults.write(result.detections, to: segmentationsPath, masks: true)
        }
        if pictures.isDue(epoch: epoch) {
            pictures.drawing(DetectionPicture.kind, epoch: epoch) {
                try DetectionPicture.grid(
                    of: result.detections, on: validation.dataset, count: pictures.count,
                    masks: result.maskMetrics != nil)
            }
        }
        return Dictionary(uniqueKeysWithValues: result.namedMetrics)
    }
}

extension DetectionBatch.Target {
    /// The annotations as the SDK's detection heads take them (instance masks, when
    /// the loader made them, go to a mask head separately: ``masks``).
    public var detectionTarget: DetectionTarget {
        DetectionTarget(
            boxes: boxes.map(\.boundingBox), labels: labels, ignoredRegions: crowdBoxes.map(\.boundingBox))
    }
}

extension DetectionBox {
    /// The box in single precision, for the SDK.
    public var boundingBox: BoundingBox {
        BoundingBox(x1: Float(x1), y1: Float(y1), x2: Float(x2), y2: Float(y2))
    }
}

/// COCO box AP of a detector on a split (and mask AP for a model with a mask
/// head), and its detections in file coordinates.
public struct DetectionEvaluation {
    public var metrics: COCOBoxMetrics
    /// Mask AP (`iouType` segm), for a model that predicts masks.
    public var maskMetrics: COCOBoxMetrics?
    /// The detections, with their masks as RLE when the model predicts masks.
    public var detections: [COCODetection]

    /// The metrics by their registry names: box AP as `AP`, `AP50`, ..., mask AP as `mask_AP`, ...
    public var namedMetrics: [(String, Double)] {
        Array(zip(COCOBoxMetrics.keys, metrics.values))
            + (maskMetrics.map { Array(zip(COCOBoxMetrics.keys.map { "mask_" + $0 }, $0.values)) } ?? [])
    }

    /// Predicts every image of `validation` (the model must be in evaluation mode),
    /// maps the boxes back to the original images and pastes the masks there
    /// (mmdet's `_do_paste_mask`, threshold 0.5), and scores them against the truth.
    public static func run(_ model: any DetectionModel, on validation: DetectionValidation, settings: DetectionSettings)
        throws -> DetectionEvaluation
    {
        var detections: [COCODetection] = []
        let batches = validation.loader.detectionBatches(epoch: 0, skip: 0)
        while let batch = try batches.next() {
            let predicted = model.instances(batch, settings: settings)
            for (target, found) in zip(batch.targets, predicted) {
                for instance in found {
                    let detection = instance.detection
                    let box = target.geometry.toOriginal(
                        DetectionBox(
                            x1: Double(detection.box.x1), y1: Double(detection.box.y1), x2: Double(detection.box.x2),
                            y2: Double(detection.box.y2)))
                    let segmentation = instance.mask.map { probabilities -> COCOSegmentation in
                        let (height, width) = (target.geometry.originalHeight, target.geometry.originalWidth)
                        let bitmap = MaskPasting.paste(
                            probabilities, side: instance.maskSide, box: box.boundingBox, height: height, width: width)
                        return .mask(RunLengthMask(encoding: bitmap, height: height, width: width))
                    }
                    detections.append(
                        COCODetection(
                            imageID: target.imageID,
                            categoryID: validation.dataset.categoryID(forClass: detection.label), box: box.coco,
                            score: Double(detection.score), segmentation: segmentation))
                }
            }
        }
        let metrics = try COCOBoxEvaluator.evaluate(truth: validation.truth, detections: detections)
        let maskMetrics =
            model.predictsMasks
            ? try COCOBoxEvaluator.evaluate(
                truth: validation.truth, detections: detections, iouType: .segm,
                truthSource: validation.dataset.annotationFile) : nil
        return DetectionEvaluation(metrics: metrics, maskMetrics: maskMetrics, detections: detections)
    }
}

/// Writes detections in the COCO results format `[{image_id, category_id, bbox, score}]`.
/// With `masks`, the segm results format of mmdetection (`results.segm.json`):
/// each entry also has `segmentation` `{size: [h, w], counts}` (compressed RLE).
public enum COCOResults {
    public static func write(_ detections: [COCODetection], to path: String, masks: Bool = false) throws {
        struct Mask: Encodable {
            var size: [Int]
            var counts: String
        }
        struct Entry: Encodable {
            var imageId: Int
            var categoryId: Int
            var bbox: [Double]
            var score: Double
            var segmentation: Mask?
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let entries = detections.map { detection -> Entry in
            var mask: Mask?
            if masks, let segmentation = detection.segmentation {
                let rle = segmentation.runLengthMask(height: 0, width: 0)
                mask = Mask(size: [rle.height, rle.width], counts: rle.compressedCounts)
            }
            return Entry(
                imageId: detection.imageID, categoryId: detection.categoryID,
                bbox: [detection.box.x, detection.box.y, detection.box.width, detection.box.height],
                score: detection.score, segmentation: mask)
        }
        try FileBytes.writeAtomically(Array(try encoder.encode(entries)), to: path)
    }
}
