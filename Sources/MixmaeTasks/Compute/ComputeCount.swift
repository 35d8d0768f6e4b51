import MixKit
import MixmaeData

/// A model with a backbone: the part of every task's model that `flops`
/// reports as the encoder.
public protocol BackboneModel: Module {
    var backbone: Backbone { get }
}

extension PretrainModel: BackboneModel {}
extension ClassifierModel: BackboneModel {}
extension DetectorModel: BackboneModel {}
extension SegmentorModel: BackboneModel {}

/// The floating-point work of one training step, counted rather than
/// estimated: every GEMM-backed op of MixKit (linear, batched matmul,
/// attention, convolution) counts `2 * m * n * k` while the profiler records,
/// so a count is exact for those ops and leaves out element-wise work (norms,
/// activations, softmax), as fvcore and the papers' tables do. Papers quote
/// Swin-T at "4.5 GFLOPs", which counts one multiply-add as one operation:
/// half of ``forwardPerImage`` here.
///
/// ```swift
/// let count = try ComputeCount.trainingStep(of: task, on: batch)
/// print(count.forwardPerImage / 1e9, "GFLOP per image")
/// ```
public struct ComputeCount: Sendable, Equatable, Codable {
    /// Images in the counted batch.
    public var batchSize: Int
    /// The backbone's forward pass over the batch.
    public var encoderForward: Double
    /// The whole loss's forward pass over the batch (backbone included).
    public var forward: Double
    /// The backward pass of that loss.
    public var backward: Double

    public init(batchSize: Int, encoderForward: Double, forward: Double, backward: Double) {
        self.batchSize = batchSize
        self.encoderForward = encoderForward
        self.forward = forward
        self.backward = backward
    }

    /// Forward and backward over the batch: one optimizer step's work.
    public var step: Double { forward + backward }
    /// Forward work per image.
    public var forwardPerImage: Double { forward / Double(max(batchSize, 1)) }
    /// The backbone's forward work per image.
    public var encoderForwardPerImage: Double { encoderForward / Double(max(batchSize, 1)) }
    /// What the rest of the model (decoder, neck, head, loss) adds per image.
    public var restForwardPerImage: Double { forwardPerImage - encoderForwardPerImage }
    /// Backward work over forward work (about 2 for GEMM-dominated models).
    public var backwardRatio: Double { forward > 0 ? backward / forward : 0 }

    /// The count of `factor` such batches (GEMM work is linear in the images): a step of
    /// `factor` micro-batches (accumulation steps times processes).
    ///
    /// ```swift
    /// let job = ComputeCount.trainingStep(of: task, on: microBatch).scaled(by: 4)
    /// ```
    public func scaled(by factor: Int) -> ComputeCount {
        let k = Double(factor)
        return ComputeCount(
            batchSize: batchSize * factor, encoderForward: encoderForward * k, forward: forward * k,
            backward: backward * k)
    }

    /// Counts GEMM work of `body` on the calling thread, split by phase. The
    /// thread's profile (`MIXMAE_PROFILE=1`'s table, or ``Profiler/start()``'s)
    /// is left as it was: see ``Profiler/gemmWork(of:)``.
    ///
    /// ```swift
    /// let (forward, backward) = ComputeCount.counting { let loss = f(x); loss.backward() }
    /// ```
    public static func counting(_ body: () throws -> Void) rethrows -> (forward: Double, backward: Double) {
        let work = try Profiler.gemmWork(of: body)
        return (work.forward, work.backward)
    }

    /// Counts one training step of `task` on `batch`: the loss forward and its
    /// backward (the optimizer update does no GEMM), and the backbone's
    /// forward alone. Gradients it leaves are cleared.
    public static func trainingStep(of task: TrainingTask, on batch: Batch) throws -> ComputeCount {
        let whole = try counting {
            let (loss, _) = try task.loss(for: batch)
            loss.backward()
        }
        task.model.zeroGrad()
        var encoder = 0.0
        if let model = task.model as? BackboneModel {
            encoder = counting { _ = withNoGrad { model.backbone.features(batch.images, mixing: nil) } }.forward
        }
        return ComputeCount(
            batchSize: batch.images.shape[0], encoderForward: encoder, forward: whole.forward, backward: whole.backward)
    }
}
