import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost

/// Builds the MixMAE pretraining task, its data and its model from a recipe.
public enum PretrainSetup {
    public static func make(recipe: TaskRecipe, builder: ComponentBuilder, runDirectory: String) throws
        -> (task: PretrainTask, data: ImageBatchLoader)
    {
        let data = recipe.data
        let batch = data.int("batch_size")
        let micro = try recipe.microBatchSize()
        let mixes = recipe.section("mask").string("mode") == PretrainMode.mix.rawValue
        guard micro % 2 == 0 || !mixes else {
            throw recipe.issue(
                at: "data.batch_size",
                micro == batch
                    ? "MixMAE mixes image i with image B-1-i, so the batch size must be even; got \(batch)"
                    : "MixMAE mixes image i with image B-1-i of each micro-batch, so the micro-batch (data.batch_size "
                        + "\(batch) / (optim.accum_steps x processes) = \(micro)) must be even")
        }
        let (backboneID, backboneParams) = try recipe.requiredComponent("backbone", for: "the encoder")
        let (decoderID, decoderParams) = try recipe.requiredComponent("decoder", for: "e.g. name: vit-decoder")
        let (lossID, lossParams) = try recipe.requiredComponent("loss", for: "e.g. name: mix-reconstruction")
        let backbone = try recipe.building("backbone") { try builder.backbone(backboneID, backboneParams) }
        let caps = backbone.capabilities
        let imageSize = data.int("img_size")
        guard caps.imageSize == imageSize else {
            throw recipe.issue(
                at: "model.backbone.img_size",
                "the backbone is built for \(caps.imageSize) px but data.img_size is \(imageSize): set both to the same size"
            )
        }
        guard caps.supportsMixing || !mixes else {
            throw recipe.issue(
                at: "model.backbone.name", "backbone '\(backboneID)' does not declare MixMAE mixing support")
        }
        guard let final = caps.outputs.last, imageSize % final.stride == 0 else {
            throw recipe.issue(at: "model.backbone", "the backbone declares no final feature map dividing the image")
        }
        let decoder = try recipe.building("decoder") {
            try builder.decoder(
                decoderID, decoderParams, context: BuildContext(inputs: caps.outputs, imageSize: imageSize))
        }
        let loss = try recipe.building("loss") { try builder.reconstructionLoss(lossID, lossParams) }
        let model = PretrainModel(backbone: backbone, decoder: decoder, loss: loss)
        let tokenParts = try maskTokenParts(
            recipe: recipe, backbone: (backboneID, backbone), decoder: (decoderID, decoder), loss: (lossID, loss),
            rng: builder.rng)

        let folder = try recipe.imageFolder("root")
        let crop = RandomResizedCrop(size: imageSize, scale: try recipe.cropScale(), filter: recipe.resizeFilter)
        let flip = data.float("hflip")
        var options = recipe.trainingLoaderOptions
        options.batchSize = batch
        let loader = ImageBatchLoader(samples: folder.samples, options: options, imageSize: imageSize) { image, rng in
            let cropped = try crop(image, using: &rng)
            return rng.nextDouble() < flip ? cropped.flippedHorizontally() : cropped
        }
        guard loader.batchesPerEpoch > 0 else {
            throw recipe.issue(
                at: "data.batch_size",
                "\(folder.samples.count) images in \(folder.root) do not fill one batch of \(batch): lower data.batch_size"
            )
        }
        let side = imageSize / final.stride
        let mask = recipe.section("mask")
        let sampler = MaskSampler(
            height: side, width: side, ratio: mask.float("ratio"), extraRatio: mask.float("extra_ratio"),
            seed: derivedSeed(recipe.seed, 2))
        let log = recipe.section("log")
        let probeFolder = data.string("val_root").isEmpty ? folder : try recipe.imageFolder("val_root")
        let probe = probeImages(
            of: probeFolder, count: max(log.int("val_images"), log.int("pictures")), imageSize: imageSize,
            normalization: recipe.normalization, filter: recipe.resizeFilter)
        let task = PretrainTask(
            model: model, sampler: sampler, weightDecay: recipe.optim.float("weight_decay"), probeImages: probe,
            validationCount: log.int("val_images"), pictureCount: log.int("pictures"), evaluationBatch: batch,
            normalization: recipe.normalization, picturesDirectory: runDirectory + "/pictures",
            picturesEvery: log.int("pictures_every"))
        task.maskTokenParts = tokenParts
        return (task, loader)
    }

    /// Up to `count` images (an even number; fewer when the folder is smaller)
    /// spread over a folder, centre-cropped, for val_loss and pictures; unreadable
    /// files are passed over (the training loader reports them).
    static func probeImages(
        of folder: ImageFolder, count: Int, imageSize: Int, normalization: Normalization, filter: ResizeFilter
    ) -> Tensor? {
        let n = count / 2 * 2
        guard n > 0 else { return nil }
        let samples = folder.samples
        let step = max(1, samples.count / n)
        let prepare = ResizeCenterCrop(size: imageSize, cropFraction: 1, filter: filter)
        var chosen: [Image] = []
        for index in stride(from: 0, to: samples.count, by: step) where chosen.count < n {
            if let image = try? prepare(try Image(contentsOfFile: samples[index].path, mode: .rgb)) {
                chosen.append(image)
            }
        }
        if chosen.count % 2 == 1 { chosen.removeLast() }
        guard !chosen.isEmpty else { return nil }
        let images = Tensor.zeros([chosen.count, 3, imageSize, imageSize])
        for (i, image) in chosen.enumerated() {
            normalization.write(image, to: images.data + i * 3 * imageSize * imageSize)
        }
        return images
    }
}
