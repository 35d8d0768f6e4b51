import Foundation
import MixKit
import MixmaeData
import MixmaePluginHost
import MixmaeRecipes
import MixmaeTasks
import TestSupport
import Testing

/// Transfer at other sizes: detection batches of differently shaped images,
/// and weights loaded into a model with other windows and resolution.
@Suite struct TransferTests {
    /// Random normalised pixels of a `width` x `height` image at the top left of a zero `[1, 3, H, W]` canvas.
    func placed(_ pixels: Tensor, canvasWidth: Int, canvasHeight: Int) -> Tensor {
        let (h, w) = (pixels.shape[2], pixels.shape[3])
        let canvas = Tensor.zeros([1, 3, canvasHeight, canvasWidth])
        for c in 0..<3 {
            for y in 0..<h {
                (canvas.data + (c * canvasHeight + y) * canvasWidth).update(
                    from: pixels.data + (c * h + y) * w, count: w)
            }
        }
        return canvas
    }

    func target(id: Int, width: Int, height: Int) -> DetectionBatch.Target {
        let round = { (v: Int) in (v + 31) / 32 * 32 }
        return DetectionBatch.Target(
            imageID: id, boxes: [], labels: [], crowdBoxes: [],
            geometry: DetectionGeometry(
                originalWidth: width, originalHeight: height, validWidth: width, validHeight: height,
                paddedWidth: round(width), paddedHeight: round(height), flipped: false))
    }

    /// Two images of different shapes batched together (padded to 96x96) give
    /// each the detections it gives alone (padded to its own multiple of 32),
    /// and no detection has its point in the padding.
    @Test func batchedImagesDetectAsAlone() throws {
        let ws = try DenseWorkspace(images: 20)
        let detector = try DetectSetup.buildModel(recipe: try ws.detectRecipe(), builder: ws.builder(), classes: 3)
        detector.train(false)
        var rng = RandomGenerator(seed: 9)
        let tall = Tensor.randomNormal([1, 3, 70, 50], using: &rng)
        let wide = Tensor.randomNormal([1, 3, 40, 90], using: &rng)
        let targets = [target(id: 1, width: 50, height: 70), target(id: 2, width: 90, height: 40)]
        let batch = DetectionBatch(
            images: concatenate(
                [placed(tall, canvasWidth: 96, canvasHeight: 96), placed(wide, canvasWidth: 96, canvasHeight: 96)],
                axis: 0),
            targets: targets)
        let settings = DetectionSettings(scoreThreshold: 0, maxPerImage: 50)
        let together = detector.predict(batch, settings: settings)
        let alone = [
            detector.predict(
                DetectionBatch(images: placed(tall, canvasWidth: 64, canvasHeight: 96), targets: [targets[0]]),
                settings: settings)[0],
            detector.predict(
                DetectionBatch(images: placed(wide, canvasWidth: 96, canvasHeight: 64), targets: [targets[1]]),
                settings: settings)[0],
        ]
        for (image, (batched, single)) in zip(together, alone).enumerated() {
            #expect(!batched.isEmpty)
            #expect(batched.count == single.count, "image \(image)")
            for (a, b) in zip(batched, single) {
                #expect(a.label == b.label && abs(a.score - b.score) <= 1e-5)
                let corners: [Float] = [
                    a.box.x1 - b.box.x1, a.box.y1 - b.box.y1, a.box.x2 - b.box.x2, a.box.y2 - b.box.y2,
                ]
                let worst = corners.map { abs($0) }.max() ?? 0
                #expect(worst <= 1e-3, "image \(image): \(a.box) vs \(b.box)")
                let size = targets[image].geometry
                #expect(a.box.x2 <= Float(size.validWidth) && a.box.y2 <= Float(size.validHeight))
            }
        }
    }

    /// A backbone pretrained at 64 px with windows 4/4/4/2 loads into one built at
    /// 96 px with windows 6/6/6/3: every bias table and the position table are
    /// resized bicubically (and reported), everything else is copied.
    @Test func weightsLoadAtOtherWindowsAndResolution() throws {
        let ws = try DenseWorkspace(images: 20)
        let small = try ws.detectRecipe()
        let source = try DetectSetup.buildModel(recipe: small, builder: ws.builder(seed: 3), classes: 3)
        let file = ws.folder.file("pretrained64.safetensors")
        try SafeTensors.write(source.backbone.stateDict(), to: file)
        let large = try ws.detectRecipe("model.backbone.img_size=96", "model.backbone.window_size=[6, 6, 6, 3]")
        let (task, _, report) = try DetectSetup.make(
            recipe: large, builder: ws.builder(), initialWeights: file, runDirectory: ws.folder.file("run"))
        let loaded = try #require(report)
        let converted = Set(loaded.conversions.map(\.name))
        let tables = source.backbone.namedTensors().map(\.0).filter { $0.hasSuffix("relative_position_bias_table") }
        #expect(tables.count == 4)
        #expect(converted == Set(tables + ["absolute_pos_embed"]))
        #expect(loaded.summary.contains("converted 5"))
        let own = task.detector.stateDict()
        let table = "layers.0.blocks.0.attn.relative_position_bias_table"
        let before = try #require(source.backbone.stateDict()[table])
        let heads = before.shape[1]
        let expected = bicubicResize(before.transposed().reshaped([1, heads, 7, 7]), height: 11, width: 11)
            .reshaped([heads, 11 * 11]).transposed()
        #expect(own[table]?.shape == [11 * 11, heads])
        #expect(own[table]?.scalars == expected.scalars)
        #expect(own["absolute_pos_embed"]?.shape == [1, 24 * 24, 16])
        let weight = "layers.0.blocks.0.attn.qkv.weight"
        #expect(own[weight]?.scalars == source.backbone.stateDict()[weight]?.scalars)
    }

    /// `recipes/finetune/swin-base-384.yaml` (narrowed to run fast) starts from a
    /// 224 px checkpoint with windows 14/14/14/7 and reports the conversions.
    @Test func finetune384LoadsA224Checkpoint() throws {
        let ws = try DenseWorkspace(images: 20)
        let narrow = [
            "model.backbone.embed_dim=8", "model.backbone.depths=[1, 1, 1, 1]", "model.backbone.num_heads=[1, 1, 2, 2]",
        ]
        let pretrained = try ws.recipe(
            "base: \(TestPaths.packageRoot.path)/recipes/finetune/swin-base-384.yaml\ndata: {root: \(ws.folder.file("data/classification/train"))}",
            overrides: narrow + [
                "model.backbone.img_size=224", "model.backbone.window_size=[14, 14, 14, 7]", "data.img_size=224",
            ])
        let source = try ClassifySetup.makeModel(recipe: pretrained, builder: ws.builder(seed: 5), classCount: 3)
        let file = ws.folder.file("pretrained224.safetensors")
        try SafeTensors.write(source.backbone.stateDict(), to: file)
        let recipe = try ws.recipe(
            "base: \(TestPaths.packageRoot.path)/recipes/finetune/swin-base-384.yaml\ndata: {root: \(ws.folder.file("data/classification/train")), batch_size: 4, num_workers: 1}",
            overrides: narrow)
        let (_, _, report) = try ClassifySetup.make(
            recipe: recipe, builder: ws.builder(), initialWeights: file)
        let loaded = try #require(report)
        let notes = Dictionary(uniqueKeysWithValues: loaded.conversions.map { ($0.name, $0) })
        #expect(notes["absolute_pos_embed"]?.to == [1, 96 * 96, 8])
        let windows = [16, 16, 24, 12]
        for (stage, window) in windows.enumerated() {
            let note = notes["layers.\(stage).blocks.0.attn.relative_position_bias_table"]
            let from = stage == 3 ? 13 : 27
            #expect(note?.from[0] == from * from && note?.to[0] == (2 * window - 1) * (2 * window - 1))
        }
        #expect(loaded.conversions.count == 5)
    }
}
