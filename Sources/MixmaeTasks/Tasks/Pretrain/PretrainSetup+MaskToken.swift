import MixKit
import MixmaeRecipes

extension PretrainSetup {
    /// For `mask.mode: mask_token`, the three parts as the capabilities the mode
    /// needs, with the backbone's [MASK] token added (drawn from the model's
    /// generator); nil for `mix`. A part that does not declare the capability is
    /// refused at `mask.mode`, naming the component and what would work.
    static func maskTokenParts(
        recipe: TaskRecipe, backbone: (id: String, part: Backbone), decoder: (id: String, part: ReconstructionDecoder),
        loss: (id: String, part: ReconstructionLoss), rng: RandomSource
    ) throws -> MaskTokenParts? {
        let mode = recipe.section("mask").string("mode")
        guard mode == PretrainMode.maskToken.rawValue else { return nil }
        let at = RecipePath([.key("mask"), .key("mode")])
        func refuse(_ slot: String, _ id: String, _ capability: String, _ examples: String) -> Error {
            recipe.issue(
                at: at,
                "mask_token needs a \(slot) that \(capability); model.\(slot) '\(id)' does not: use mask.mode: mix, or a \(slot) that does (\(examples))"
            )
        }
        guard let maskBackbone = backbone.part as? MaskTokenBackbone else {
            throw refuse("backbone", backbone.id, "has a learned [MASK] token (MaskTokenBackbone)", "swin, pvt")
        }
        guard let singleDecoder = decoder.part as? SingleImageDecoder else {
            throw refuse("decoder", decoder.id, "decodes one image per input (SingleImageDecoder)", "vit-decoder")
        }
        guard let maskedLoss = loss.part as? MaskedReconstructionLoss else {
            throw refuse("loss", loss.id, "scores masked patches only (MaskedReconstructionLoss)", "mix-reconstruction")
        }
        maskBackbone.addMaskToken(using: rng)
        return MaskTokenParts(backbone: maskBackbone, decoder: singleDecoder, loss: maskedLoss)
    }
}
