import MixKit

/// A model made of plugin components whose tensors keep the names the
/// reference implementation gives them: backbone and decoder tensors at the
/// root (`patch_embed.proj.weight`, `decoder_embed.weight`), and each
/// component's own names inside it (`head.weight` from the `linear-cls` head).
///
/// ```swift
/// let model = ComposedModel(parts: [backbone, decoder])
/// try model.load(stateDict: weights)
/// ```
public class ComposedModel: Module {
    /// The components, in the order their tensors are listed.
    public let parts: [Module]

    public init(parts: [Module]) {
        self.parts = parts
        super.init()
    }

    public override func children() -> [(String, Any)] {
        parts.map { ("", $0) }
    }
}

/// Backbone + reconstruction decoder + loss: one MixMAE pretraining forward pass.
public final class PretrainModel: ComposedModel {
    public let backbone: Backbone
    public let decoder: ReconstructionDecoder
    public let objective: ReconstructionLoss

    /// What one forward pass produced.
    public struct Output {
        /// The scalar loss.
        public var loss: Tensor
        /// The encoder's last feature map after its final norm, `[B, L, C]`.
        public var latent: Tensor
        /// Both decoder branches, `[2B, L, P]`; or, when the pass took the hidden-token path, the unmixed
        /// reconstruction `[B, L, P]` (each token from the branch in which it was hidden).
        public var reconstruction: Tensor

        /// An output from its parts, as a forward pass or a test makes it.
        ///
        /// ```swift
        /// let output = PretrainModel.Output(loss: loss, latent: latent, reconstruction: pixels)
        /// ```
        public init(loss: Tensor, latent: Tensor, reconstruction: Tensor) {
            self.loss = loss
            self.latent = latent
            self.reconstruction = reconstruction
        }
    }

    public init(backbone: Backbone, decoder: ReconstructionDecoder, loss: ReconstructionLoss) {
        self.backbone = backbone
        self.decoder = decoder
        self.objective = loss
        super.init(parts: [backbone, decoder, loss])
    }

    /// Mixes the batch under `mixing`, encodes, reconstructs both sources, scores. Unless `bothBranches`,
    /// a decoder and loss that support it (``HiddenTokenDecoder``, ``UnmixedReconstructionLoss``) decode
    /// only what the loss reads, and the output's reconstruction is `[B, L, P]`; the loss is the same.
    ///
    /// ```swift
    /// let step = model(images, mixing: mask)                                // training: the cheaper path
    /// let whole = model(images, mixing: mask, bothBranches: true).reconstruction   // [2B, L, P]
    /// ```
    public func callAsFunction(_ images: Tensor, mixing: MixingMask, bothBranches: Bool = false) -> Output {
        let latent = backbone.features(images, mixing: mixing).last!.tensor
        if !bothBranches, let hiddenDecoder = decoder as? HiddenTokenDecoder,
            let unmixedLoss = objective as? UnmixedReconstructionLoss
        {
            let unmixed = hiddenDecoder.reconstructHidden(latent, mixing: mixing)
            let loss = unmixedLoss.loss(images: images, unmixed: unmixed, mixing: mixing, patchSize: decoder.patchSize)
            return Output(loss: loss, latent: latent, reconstruction: unmixed)
        }
        let reconstruction = decoder.reconstruct(latent, mixing: mixing)
        let loss = objective.loss(
            images: images, reconstruction: reconstruction, mixing: mixing, patchSize: decoder.patchSize)
        return Output(loss: loss, latent: latent, reconstruction: reconstruction)
    }
}

/// Backbone + classification head.
public final class ClassifierModel: ComposedModel {
    public let backbone: Backbone
    public let head: ClassificationHead

    public struct Output {
        /// Pooled features `[B, C]`.
        public var pooled: Tensor
        /// `[B, classes]`.
        public var logits: Tensor
    }

    public init(backbone: Backbone, head: ClassificationHead) {
        self.backbone = backbone
        self.head = head
        super.init(parts: [backbone, head])
    }

    public func callAsFunction(_ images: Tensor) -> Output {
        let features = backbone.features(images, mixing: nil)
        let pooled = head.pooled(features)
        return Output(pooled: pooled, logits: head.logits(features))
    }
}
