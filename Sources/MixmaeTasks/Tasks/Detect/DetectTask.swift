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

/// Detection finetuning: backbone + neck + dense head trained on the head's
/// loss, with layer-wise learning-rate decay on the backbone; after every
/// epoch, COCO box AP on the validation split (pycocotools-exact), with the
/// detections written to `val_detections.json` in the run folder and, every
/// `log.pictures_every` epochs, a picture of the first validation images with their
/// predicted boxes beside the ground truth. The best checkpoint is the one with the highest AP.
public final class DetectTask: TrainingTask {
    public let detector: DetectorModel
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

    public init(
        model: DetectorModel, layerDecay: Double, weightDecay: Double,
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
        let loss = detector.loss(detection.images, targets: detection.targets.map(\.detectionTarget))
        return (loss.total, loss.terms)
    }

    public func evaluate(epoch: Int) throws -> [String: Double]? {
        guard let validation else { return nil }
        let result = try DetectionEvaluation.run(detector, on: validation, settings: settings)
        try COCOResults.write(result.detections, to: detectionsPath)
        if pictures.isDue(epoch: epoch) {
            pictures.drawing(DetectionPicture.kind, epoch: epoch) {
                try DetectionPicture.grid(of: result.detections, on: validation.dataset, count: pictures.count)
            }
        }
        return Dictionary(uniqueKeysWithValues: zip(COCOBoxMetrics.keys, result.metrics.values))
    }
}

extension DetectionBatch.Target {
    /// The annotations as the SDK's detection heads take them.
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

/// COCO box AP of a detector on a split, and its detections in file coordinates.
public struct DetectionEvaluation {
    public var metrics: COCOBoxMetrics
    public var detections: [COCODetection]

    /// Predicts every image of `validation` (the model must be in evaluation mode),
    /// maps the boxes back to the original images, and scores them against the truth.
    public static func run(_ model: DetectorModel, on validation: DetectionValidation, settings: DetectionSettings)
        throws -> DetectionEvaluation
    {
        var detections: [COCODetection] = []
        let batches = validation.loader.detectionBatches(epoch: 0, skip: 0)
        while let batch = try batches.next() {
            let predicted = model.predict(batch, settings: settings)
            for (target, found) in zip(batch.targets, predicted) {
                for detection in found {
                    let box = target.geometry.toOriginal(
                        DetectionBox(
                            x1: Double(detection.box.x1), y1: Double(detection.box.y1), x2: Double(detection.box.x2),
                            y2: Double(detection.box.y2)))
                    detections.append(
                        COCODetection(
                            imageID: target.imageID,
                            categoryID: validation.dataset.categoryID(forClass: detection.label), box: box.coco,
                            score: Double(detection.score)))
                }
            }
        }
        let metrics = try COCOBoxEvaluator.evaluate(truth: validation.truth, detections: detections)
        return DetectionEvaluation(metrics: metrics, detections: detections)
    }
}

/// Writes detections in the COCO results format `[{image_id, category_id, bbox, score}]`.
public enum COCOResults {
    public static func write(_ detections: [COCODetection], to path: String) throws {
        struct Entry: Encodable {
            var imageId: Int
            var categoryId: Int
            var bbox: [Double]
            var score: Double
        }
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let entries = detections.map {
            Entry(
                imageId: $0.imageID, categoryId: $0.categoryID,
                bbox: [$0.box.x, $0.box.y, $0.box.width, $0.box.height],
                score: $0.score)
        }
        try FileBytes.writeAtomically(Array(try encoder.encode(entries)), to: path)
    }
}
