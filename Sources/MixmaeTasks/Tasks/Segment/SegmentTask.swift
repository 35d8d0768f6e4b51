import Foundation
import MixKit
import MixmaeData
import MixmaeEvaluation
import MixmaeSupport

/// The validation split of a segmentation task.
public struct SegmentationValidation {
    public var dataset: SegmentationDataset
    public var loader: SegmentationBatchLoader

    public init(dataset: SegmentationDataset, loader: SegmentationBatchLoader) {
        self.dataset = dataset
        self.loader = loader
    }
}

/// How logits are computed for an evaluation image (the backbone takes any size).
public enum SegmentationInference: Equatable, Sendable {
    /// The whole (resized) image at once, at its own size.
    case whole
    /// `crop` x `crop` windows every `stride` pixels, logits averaged where they overlap (mmseg's `slide`).
    case slide(crop: Int, stride: Int)
}

/// Semantic segmentation finetuning: backbone + head trained on pixel
/// cross-entropy (ignore index 255) with layer-wise learning-rate decay; after
/// every epoch, mIoU and aAcc on the validation split at the label maps'
/// original resolution (mmseg's IoUMetric) and, every `log.pictures_every` epochs, a picture of
/// the first validation images with their predicted label maps beside the ground truth. The
/// best checkpoint has the highest mIoU.
public final class SegmentTask: TrainingTask {
    public let segmentor: SegmentorModel
    public let classes: Int
    public let ignoreIndex: Int
    public let layerDecay: Double
    public let weightDecay: Double
    public let validation: SegmentationValidation?
    public let inference: SegmentationInference
    /// Which epochs draw ``SegmentationPicture``s of the first validation images (none by default).
    public var pictures = PredictionPictureSchedule(count: 0, every: 0)

    public var model: Module { segmentor }
    public var selectionMetric: TaskMetric? { validation == nil ? nil : SemanticSegmentation().selectionMetric }
    /// The data loader draws the augmentation; the task has no generator of its own.
    public var generatorState: [UInt64]? {
        get { nil }
        set {}
    }

    public init(
        model: SegmentorModel, classes: Int, ignoreIndex: Int, layerDecay: Double,
        weightDecay: Double, validation: SegmentationValidation?, inference: SegmentationInference
    ) {
        self.segmentor = model
        self.classes = classes
        self.ignoreIndex = ignoreIndex
        self.layerDecay = layerDecay
        self.weightDecay = weightDecay
        self.validation = validation
        self.inference = inference
    }

    public func attach(runDirectory: String) { pictures.directory = runDirectory + "/pictures" }

    public func parameterGroups() -> [ParameterGroup] {
        LayerDecayGroups.make(
            segmentor.namedParameters(), backbone: segmentor.backbone,
            backboneNames: Set(segmentor.backbone.namedParameters().map(\.0)), decay: layerDecay,
            weightDecay: weightDecay)
    }

    public func loss(for batch: Batch) throws -> (loss: Tensor, logs: [String: Double]) {
        guard let segmentation = batch.segmentation else {
            throw InputError(
                "the segmentation task got a batch without label maps; its data source must be a SegmentationBatchLoader"
            )
        }
        let labels = try checkedLabels(segmentation)
        let loss = segmentor.loss(segmentation.images, labels: labels)
        return (loss.total, loss.terms)
    }

    /// The batch's labels (its padding holds the ignore index), checked against the class count.
    private func checkedLabels(_ batch: SegmentationBatch) throws -> SegmentationLabels {
        let (b, h, w) = (batch.items.count, batch.height, batch.width)
        var values = [Int](repeating: ignoreIndex, count: b * h * w)
        var bad: (item: Int, value: UInt8, x: Int, y: Int)? = nil
        batch.labels.withUnsafeBufferPointer { source in
            for i in 0..<b {
                for y in 0..<h {
                    for x in 0..<w {
                        let v = source[(i * h + y) * w + x]
                        if Int(v) >= classes && Int(v) != ignoreIndex && bad == nil { bad = (i, v, x, y) }
                        values[(i * h + y) * w + x] = Int(v)
                    }
                }
            }
        }
        if let bad {
            let item = batch.items[bad.item]
            throw InputError(
                file: item.labelPath.isEmpty ? item.stem : item.labelPath,
                problem: "holds label \(bad.value) (at x \(bad.x), y \(bad.y) after the training transforms), "
                    + "outside 0..<\(classes) (segment.num_classes is \(classes)) and not the ignore index \(ignoreIndex)",
                hint: "set segment.num_classes to the dataset's class count (and segment.reduce_zero_label for "
                    + "ADE20K-style maps)")
        }
        return SegmentationLabels(values: values, batch: b, height: h, width: w, ignoreIndex: ignoreIndex)
    }

    public func evaluate(epoch: Int) throws -> [String: Double]? {
        guard let validation else { return nil }
        let drawn = pictures.isDue(epoch: epoch) ? pictures.count : 0
        var rows: [Int: [Image]] = [:]
        var failure: Error? = nil
        let metrics = try SegmentationEvaluation.run(
            segmentor, on: validation, classes: classes, ignoreIndex: ignoreIndex,
            inference: inference
        ) { pair, prediction, truth in
            guard pair < drawn, failure == nil else { return }
            do {
                rows[pair] = try SegmentationPicture.row(
                    image: validation.dataset.loadImage(at: pair), truth: truth, prediction: prediction,
                    ignoreIndex: ignoreIndex)
            } catch {
                failure = error
            }
        }
        if drawn > 0 {
            pictures.drawing(SegmentationPicture.kind, epoch: epoch) {
                if let failure { throw failure }
                return try PictureGrid.compose(rows: rows.keys.sorted().map { rows[$0]! })
            }
        }
        return ["mIoU": metrics.meanIoU, "aAcc": metrics.pixelAccuracy]
    }
}

/// mIoU and aAcc of a segmentor on a split, as mmsegmentation computes them:
/// logits of the resized image, resized (bilinear) to the original size, argmax,
/// compared with the original label map.
public enum SegmentationEvaluation {
    /// - Parameter observe: called with each image's pair index in the dataset, its predicted
    ///   classes and its label map, both at the original size.
    public static func run(
        _ model: SegmentorModel, on validation: SegmentationValidation, classes: Int,
        ignoreIndex: Int, inference: SegmentationInference,
        observe: (_ pair: Int, _ prediction: [Int32], _ truth: Image) -> Void = { _, _, _ in }
    ) throws -> SegmentationMetrics {
        var evaluator = try SegmentationEvaluator(classCount: classes, ignoreIndex: ignoreIndex)
        let index = Dictionary(
            uniqueKeysWithValues: validation.dataset.pairs.enumerated().map { ($0.element.stem, $0.offset) })
        let batches = validation.loader.segmentationBatches(epoch: 0, skip: 0)
        while let batch = try batches.next() {
            let logits: Tensor
            switch inference {
            case .whole:
                logits = model.logits(batch.images)
            case .slide(let crop, let stride):
                logits = slidingLogits(model, batch.images, crop: crop, stride: stride)
            }
            for (i, item) in batch.items.enumerated() {
                guard let pair = index[item.stem] else { continue }
                let truth = try validation.dataset.loadLabels(at: pair)
                let g = item.geometry
                let prediction = withNoGrad { () -> [Int32] in
                    let valid = logits.slice(axis: 0, i..<(i + 1)).slice(axis: 2, 0..<g.cropHeight)
                        .slice(axis: 3, 0..<g.cropWidth)
                    let full = interpolate(valid, height: g.originalHeight, width: g.originalWidth)
                    return argmaxOverChannels(full)
                }
                try evaluator.add(prediction: prediction, truth: truth.pixels, name: item.stem)
                observe(pair, prediction, truth)
            }
        }
        return evaluator.metrics
    }

    /// mmseg's `slide_inference`: `crop` x `crop` windows (smaller along a shorter edge) every `stride`
    /// pixels (the last one flush with the border), logits averaged per pixel.
    static func slidingLogits(_ model: SegmentorModel, _ images: Tensor, crop: Int, stride: Int) -> Tensor {
        let (b, h, w) = (images.shape[0], images.shape[2], images.shape[3])
        let rows = max(h - crop + stride - 1, 0) / stride + 1
        let columns = max(w - crop + stride - 1, 0) / stride + 1
        var sum: Tensor? = nil
        var count = [Float](repeating: 0, count: h * w)
        for r in 0..<rows {
            for c in 0..<columns {
                let y2 = min(r * stride + crop, h)
                let x2 = min(c * stride + crop, w)
                let (y1, x1) = (max(y2 - crop, 0), max(x2 - crop, 0))
                let window = withNoGrad { images.slice(axis: 2, y1..<y2).slice(axis: 3, x1..<x2) }
                let logits = model.logits(window)
                let (k, wh, ww) = (logits.shape[1], y2 - y1, x2 - x1)
                let total = sum ?? Tensor.zeros([b, k, h, w])
                for plane in 0..<(b * k) {
                    for y in y1..<y2 {
                        let source = logits.data + (plane * wh + (y - y1)) * ww
                        let target = total.data + (plane * h + y) * w + x1
                        for x in 0..<(x2 - x1) { target[x] += source[x] }
                    }
                }
                for y in y1..<y2 { for x in x1..<x2 { count[y * w + x] += 1 } }
                sum = total
            }
        }
        let result = sum!
        let planes = result.count / (h * w)
        for plane in 0..<planes {
            let p = result.data + plane * h * w
            for i in 0..<(h * w) { p[i] /= count[i] }
        }
        return result
    }

    /// The class of the largest logit per pixel of `[1, K, H, W]` (the first on ties).
    static func argmaxOverChannels(_ logits: Tensor) -> [Int32] {
        let (k, n) = (logits.shape[1], logits.shape[2] * logits.shape[3])
        var best = [Float](repeating: -.infinity, count: n)
        var labels = [Int32](repeating: 0, count: n)
        for c in 0..<k {
            let plane = logits.data + c * n
            for i in 0..<n where plane[i] > best[i] {
                best[i] = plane[i]
                labels[i] = Int32(c)
            }
        }
        return labels
    }
}
