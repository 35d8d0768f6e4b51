extension OpsBenchmark {
    /// One RoI pooling workload of Mask R-CNN's heads.
    public struct RoIAlignCase: Sendable {
        public var name: String
        /// RoIs over the whole batch.
        public var rois: Int
        public var outputSize: Int

        public init(name: String, rois: Int, outputSize: Int) {
            self.name = name
            self.rois = rois
            self.outputSize = outputSize
        }
    }

    /// mmdet's Mask R-CNN training on two images: the box head pools the 512
    /// sampled proposals of each image at 7 x 7, the mask head the (at most)
    /// 128 positives at 14 x 14.
    public static let maskRCNNRoICases = [
        RoIAlignCase(name: "box head 2x512 @7x7", rois: 1024, outputSize: 7),
        RoIAlignCase(name: "mask head 2x128 @14x14", rois: 256, outputSize: 14),
    ]

    /// Time of one ``RoIExtractor`` call, forward and backward.
    public struct RoIAlignResult: Sendable {
        public var name: String
        public var rois: Int
        public var outputSize: Int
        /// Bilinear samples of the forward pass (over all channels).
        public var samples: Int
        public var forwardSeconds: Double
        public var backwardSeconds: Double
    }

    /// Times the FPN RoI extractor (strides 4 to 32, adaptive sampling) on a batch
    /// of two `imageSize` x `imageSize` images with `channels` channels, on RoIs
    /// drawn like proposals (sides 8 to 300 px, seeded), best of `repetitions`.
    public static func roiAlign(
        _ cases: [RoIAlignCase] = maskRCNNRoICases, imageSize: Int = 512, channels: Int = 256, repetitions: Int = 3
    ) -> [RoIAlignResult] {
        var rng = RandomGenerator(seed: 3)
        let strides = [4, 8, 16, 32]
        let levels = strides.map { s in
            Tensor.randomNormal([2, channels, max(1, imageSize / s), max(1, imageSize / s)], using: &rng).asParameter()
        }
        let side = Float(imageSize)
        return cases.map { c in
            let boxes = (0..<2).map { _ in
                (0..<c.rois / 2).map { _ -> BoundingBox in
                    let w = min(8 + rng.nextUniform() * 292, side)
                    let h = min(8 + rng.nextUniform() * 292, side)
                    let x = rng.nextUniform() * (side - w)
                    let y = rng.nextUniform() * (side - h)
                    return BoundingBox(x1: x, y1: y, x2: x + w, y2: y + h)
                }
            }
            let rois = RoIAlign.rois(boxes)
            let extractor = RoIExtractor(featureStrides: strides, outputSize: c.outputSize)
            let forward = bestTime(repetitions: repetitions) { _ = withNoGrad { extractor(levels, rois: rois) } }
            var backward = Double.infinity
            for _ in 0...repetitions {
                let out = extractor(levels, rois: rois)
                let seed = Tensor.ones(out.shape)
                let t0 = Profiler.now()
                out.backward(seed)
                backward = min(backward, Double(Profiler.now() - t0) * 1e-9)
                for level in levels { level.grad = nil }
            }
            let levelOf = extractor.levels(rois)
            var samples = 0
            for (i, l) in levelOf.enumerated() {
                let r = Array(rois.scalars[5 * i..<5 * i + 5])
                let scale = 1 / Float(strides[l])
                let gridH = Int(((r[4] - r[2]) * scale / Float(c.outputSize)).rounded(.up))
                let gridW = Int(((r[3] - r[1]) * scale / Float(c.outputSize)).rounded(.up))
                samples += gridH * gridW * c.outputSize * c.outputSize * channels
            }
            return RoIAlignResult(
                name: c.name, rois: c.rois, outputSize: c.outputSize, samples: samples, forwardSeconds: forward,
                backwardSeconds: backward)
        }
    }
}
