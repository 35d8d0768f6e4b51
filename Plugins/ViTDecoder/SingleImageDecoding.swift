import MixKit

/// `mask.mode: mask_token`: the encoder already replaced the masked patches by
/// its [MASK] token, so the decoder decodes every latent once, as it is: no
/// second branch and no decoder `mask_token` (which stays in the checkpoint,
/// untrained, so both modes share one set of tensor names).
extension ViTDecoder: SingleImageDecoder {
    func reconstructEach(_ latent: Tensor) -> Tensor {
        precondition(
            latent.rank == 3 && latent.shape[1] == grid * grid,
            "vit-decoder: latent must be [B, \(grid * grid), C], got \(latent.shape)")
        var h = decoderEmbed(latent) + decoderPosEmbed
        for block in decoderBlocks { h = block(h) }
        return decoderPred(decoderNorm(h))
    }
}
