import Foundation
import MixKit
import MixmaePluginHost
import MixmaeSupport

/// One forward (and backward) pass of the reference model on a saved batch,
/// with every output written under the fixtures' names and layouts: how users
/// check weights imported from PyTorch.
///
/// Pretraining writes `loss` [1], `features` [B, L, C] (encoder output after
/// the final norm), `reconstruction` [2B, L, P]; finetuning writes `loss`,
/// `features` [B, C] (pooled), `logits` [B, classes]; both add `grad.NAME`
/// for every trainable parameter unless `computeGradients` is false.
///
/// ```swift
/// let outputs = try ForwardRunner(config: config, builder: builder)
///     .run(weights: "weights.safetensors", batch: "batch.safetensors")
/// try SafeTensors.write(outputs, to: "out.safetensors")
/// ```
public struct ForwardRunner {
    public let config: ReferenceConfig
    public let builder: ComponentBuilder

    public init(config: ReferenceConfig, builder: ComponentBuilder) {
        self.config = config
        self.builder = builder
    }

    /// What was wrong with the batch file.
    /// `weights` is a safetensors file or a PyTorch checkpoint (`key` chooses its state dict).
    public func run(
        weights weightsPath: String, key: String? = nil, batch batchPath: String, computeGradients: Bool = true
    ) throws -> [String: Tensor] {
        let model: ComposedModel
        let weights = try WeightsFile.open(weightsPath, key: key)
        let batch = try SafeTensorsFile(path: batchPath)
        let images = try batch.tensor("images")
        switch config.kind {
        case .pretrain: model = try config.buildPretrainModel(with: builder)
        case .finetune: model = try config.buildClassifier(with: builder)
        }
        do {
            try model.load(stateDict: try weights.tensors(), strict: true)
        } catch let error as StateDictError {
            throw InputError(file: weightsPath, problem: error.description)
        }
        model.train(false)
        let run = { () throws -> [String: Tensor] in
            switch config.kind {
            case .pretrain:
                return try self.pretrain(model as! PretrainModel, images: images, batch: batch, path: batchPath)
            case .finetune:
                return try self.finetune(model as! ClassifierModel, images: images, batch: batch, path: batchPath)
            }
        }
        var outputs = computeGradients ? try run() : try withNoGrad(run)
        if computeGradients {
            outputs["loss"]!.backward()
            for (name, p) in model.namedParameters() {
                outputs["grad." + name] = p.grad ?? Tensor.zeros(p.shape)
            }
        }
        outputs["loss"] = outputs["loss"]!.reshaped([1])
        return outputs
    }

    private func checkImages(_ images: Tensor, _ capabilities: BackboneCapabilities, path: String) throws {
        let want = [capabilities.inputChannels, capabilities.imageSize, capabilities.imageSize]
        guard images.rank == 4, Array(images.shape.dropFirst()) == want else {
            throw InputError(
                file: path,
                problem:
                    "tensor 'images' has shape \(images.shape); the configuration expects [B, \(want.map(String.init).joined(separator: ", "))]"
            )
        }
        guard images.shape[0] > 0 else {
            throw InputError(
                file: path, problem: "tensor 'images' holds no image (shape \(images.shape)); B must be at least 1")
        }
    }

    private func pretrain(_ model: PretrainModel, images: Tensor, batch: SafeTensorsFile, path: String) throws
        -> [String: Tensor]
    {
        try checkImages(images, model.backbone.capabilities, path: path)
        guard images.shape[0] % 2 == 0 else {
            throw InputError(
                file: path,
                problem: "MixMAE mixes image i with image B-1-i: the batch size must be even, got \(images.shape[0])")
        }
        guard batch.entries["mask"] != nil else {
            throw InputError(
                file: path, problem: "a pretraining batch needs a 'mask' tensor [L] of 0/1 over the final-stage grid")
        }
        let mask = try batch.tensor("mask")
        let stride = model.backbone.capabilities.outputs.last?.stride ?? 32
        let side = model.backbone.capabilities.imageSize / stride
        guard mask.count == side * side, mask.scalars.allSatisfy({ $0 == 0 || $0 == 1 }) else {
            throw InputError(
                file: path,
                problem:
                    "tensor 'mask' must hold \(side * side) values of 0 or 1 (the \(side)x\(side) final-stage grid), got shape \(mask.shape)"
            )
        }
        let mixing = MixingMask(height: side, width: side, values: mask.scalars.map { UInt8($0) })
        let out = model(images, mixing: mixing, bothBranches: true)
        return ["loss": out.loss, "features": out.latent, "reconstruction": out.reconstruction]
    }

    private func finetune(_ model: ClassifierModel, images: Tensor, batch: SafeTensorsFile, path: String) throws
        -> [String: Tensor]
    {
        try checkImages(images, model.backbone.capabilities, path: path)
        guard batch.entries["labels"] != nil else {
            throw InputError(file: path, problem: "a finetuning batch needs a 'labels' tensor [B] of class indices")
        }
        let labels = try batch.integers("labels")
        let classes = config.numClasses ?? config.head.int("num_classes")
        guard labels.count == images.shape[0], labels.allSatisfy({ $0 >= 0 && $0 < classes }) else {
            throw InputError(
                file: path,
                problem: "tensor 'labels' must hold \(images.shape[0]) class indices in 0..<\(classes), got \(labels)")
        }
        let out = model(images)
        return ["loss": crossEntropy(out.logits, labels: labels), "features": out.pooled, "logits": out.logits]
    }
}
