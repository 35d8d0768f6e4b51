import Foundation
import MixmaeData
import MixmaeRuns
import MixmaeTasks
import TestSupport
import Testing

/// Detection and segmentation runs draw their first validation images with the predictions
/// beside the ground truth, at the images' own (non-square) sizes, every `log.pictures_every`
/// epochs, and their reports show the pictures.
@Suite(.serialized) struct DensePicturesTests {
    /// Synthetic detection/segmentation images of three non-square sizes, in `dense/`.
    static let sizes = [(64, 48), (48, 64), (72, 56)]

    private func workspace() throws -> TrainingWorkspace {
        let ws = try TrainingWorkspace(images: 40)
        let synth = try ws.mixmae([
            "data", "synth", "--out", ws.folder.file("dense"), "--images", "60", "--classes", "3",
            "--dense-sizes", Self.sizes.map { "\($0.0)x\($0.1)" }.joined(separator: ","),
        ])
        #expect(synth.status == 0, "\(synth.stderr)")
        return ws
    }

    static let model = """
          backbone: {name: swin, img_size: 64, embed_dim: 16, depths: [1, 1, 1, 1], num_heads: [1, 2, 2, 4],
                     window_size: [4, 4, 4, 2], out_indices: [0, 1, 2, 3]}
        """

    /// The sizes of the first `count` validation images, as the files are.
    private func validationSizes(_ folder: String, count: Int) throws -> [(width: Int, height: Int)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted().prefix(count)
        return try names.map {
            let image = try Image(contentsOfFile: folder + "/" + $0)
            return (image.width, image.height)
        }
    }

    /// A grid of one row per image, each row the image twice side by side, 2 px apart.
    private func expectGrid(_ path: String, rows: [(width: Int, height: Int)]) throws {
        let picture = try Image(contentsOfFile: path)
        let gap = 2
        #expect(picture.width == rows.map { 2 * $0.width + 3 * gap }.max()!, "\(path)")
        #expect(picture.height == rows.reduce(gap) { $0 + $1.height + gap }, "\(path)")
    }

    /// The report of `run` exists, resolves every reference and references `picture`.
    private func expectReport(_ ws: TrainingWorkspace, run: Int, picture: String) throws {
        let result = try ws.mixmae(["report", "\(run)"])
        #expect(result.status == 0, "\(result.stderr)")
        let page = try HTMLSummary(contentsOfFile: ws.folder.file("home/runs/\(run)/report.html"))
        #expect(page.references.contains("pictures/" + picture), "\(page.references)")
        for reference in page.references { #expect(page.resolves(reference), "\(reference)") }
    }

    @Test func detectionRunsDrawBoxesBesideTheTruthAtTheImagesOwnSizes() throws {
        let ws = try workspace()
        try ws.folder.write(
            "detect.yaml",
            """
            base: \(TestPaths.packageRoot.path)/recipes/base/detect.yaml
            data: {root: dense/detection, img_size: 64, batch_size: 8, num_workers: 1}
            detect: {train_ann: train.json, train_img: train/images, val_ann: val.json, val_img: val/images,
                     short_sides: [48, 56], max_size: 72, test_short_side: 56}
            optim: {base_lr: 3.2e-2}
            schedule: {epochs: 2, warmup_epochs: 0.2}
            checkpoint: {every: 0}
            log: {every: 2, pictures: 3, pictures_every: 1}
            model:
            \(Self.model)
              neck: {out_channels: 32, start_level: 0}
              head: {feat_channels: 32, stacked_convs: 1, num_groups: 8, regress_ranges: [32, 64, 128, 256]}
            """)
        let result = try ws.mixmae(["train", "detect.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let folder = ws.folder.file("home/runs/1/pictures")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        #expect(files == ["detections-epoch-0001.png", "detections-epoch-0002.png"])
        // The validation images in the order of val.json (the synthesiser writes them sorted by name).
        let truth = try COCOInstances(contentsOfFile: ws.folder.file("dense/detection/val.json"))
        let shown = truth.images.prefix(3).map { ($0.width!, $0.height!) }
        #expect(Set(shown.map { "\($0.0)x\($0.1)" }).count > 1, "non-square images of several sizes: \(shown)")
        for file in files { try expectGrid(folder + "/" + file, rows: shown) }
        // The ground-truth column draws each box's bottom edge in its class's colour (another
        // box drawn later may cover an edge, so most, not all).
        let picture = try PictureCanvas(Image(contentsOfFile: folder + "/" + files[0]))
        let dataset = try DetectionDataset(
            annotationFile: ws.folder.file("dense/detection/val.json"),
            imageDirectory: ws.folder.file("dense/detection/val/images"))
        let boxes = zip(dataset.items[0].boxes, dataset.items[0].labels).filter { $0.0.width >= 4 }
        let coloured = boxes.filter { box, label in
            let (x, y) = (Int(box.x1) + 1 + PictureGrid.gap, Int(box.y2.rounded(.up)) - 1 + PictureGrid.gap)
            return picture.colour(x: x, y: y) == ClassPalette.colour(of: label)
        }
        #expect(!boxes.isEmpty && 2 * coloured.count > boxes.count, "\(coloured.count) of \(boxes.count) boxes")
        try expectReport(ws, run: 1, picture: "detections-epoch-0002.png")
    }

    @Test func segmentationRunsDrawLabelMapsBesideTheTruthAtTheImagesOwnSizes() throws {
        let ws = try workspace()
        try ws.folder.write(
            "segment.yaml",
            """
            base: \(TestPaths.packageRoot.path)/recipes/base/segment.yaml
            data: {root: dense/segmentation, img_size: 48, batch_size: 8, num_workers: 1}
            segment: {num_classes: 4, reduce_zero_label: false, scale: [72, 56], mode: whole}
            optim: {base_lr: 3.2e-2, weight_decay: 0.05}
            schedule: {epochs: 2, warmup_epochs: 0.2}
            checkpoint: {every: 0}
            log: {every: 2, pictures: 4, pictures_every: 2}
            model:
            \(Self.model)
              head: {channels: 32, num_groups: 8, aux_channels: 16}
            """)
        let result = try ws.mixmae(["train", "segment.yaml"])
        #expect(result.status == 0, "\(result.stderr)")
        let folder = ws.folder.file("home/runs/1/pictures")
        // Every second epoch: only after epoch 2.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder) == ["segmentation-epoch-0002.png"])
        let shown = try validationSizes(ws.folder.file("dense/segmentation/images/validation"), count: 4)
        #expect(Set(shown.map { "\($0.width)x\($0.height)" }).count > 1, "\(shown)")
        try expectGrid(folder + "/segmentation-epoch-0002.png", rows: shown)
        // The ground-truth column is the image blended half and half with the class colours.
        let picture = try PictureCanvas(Image(contentsOfFile: folder + "/segmentation-epoch-0002.png"))
        let dataset = try SegmentationDataset(root: ws.folder.file("dense/segmentation"), split: "validation")
        let (image, labels) = try dataset.load(at: 0)
        for (x, y) in [(0, 0), (image.width / 2, image.height / 2), (image.width - 1, image.height - 1)] {
            let colour = ClassPalette.colour(of: Int(labels[x: x, y: y, channel: 0]))
            let drawn = picture.colour(x: x + 2, y: y + 2)
            for (a, b, c) in [
                (drawn.r, image[x: x, y: y, channel: 0], colour.r), (drawn.g, image[x: x, y: y, channel: 1], colour.g),
                (drawn.b, image[x: x, y: y, channel: 2], colour.b),
            ] {
                #expect(abs(Double(a) - (Double(b) + Double(c)) / 2) <= 0.5, "pixel \(x), \(y)")
            }
        }
        try expectReport(ws, run: 1, picture: "segmentation-epoch-0002.png")
    }
}
