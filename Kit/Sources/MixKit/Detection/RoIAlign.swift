import Foundation

/// RoIAlign (He et al., Mask R-CNN), as torchvision's `roi_align` and mmcv's
/// `RoIAlign` compute it: every region of interest is cut into an
/// `outputHeight` x `outputWidth` grid of bins, each bin averages a
/// `gridH` x `gridW` lattice of bilinear samples of the feature map.
///
/// - `rois` is `[n, 5]`: `(batch index, x1, y1, x2, y2)` in image pixels;
///   `spatialScale` (1 / stride) maps them onto the feature map.
/// - `aligned` (mmdet's and the default) shifts the box by half a pixel
///   (`x * scale - 0.5`) so that sample points sit on pixel centres.
/// - `samplingRatio` 0 is adaptive: `ceil(roi_size / output_size)` samples per
///   bin along each axis; a positive value is used as it is.
/// - Sampling rules at the border, torchvision's: a point with `y < -1` or
///   `y > H` (likewise x) reads 0; otherwise `y` is clamped to `[0, H - 1]`.
///   A region with no samples (an empty or inverted box) gives zeros.
///
/// The gradient flows into the features only (`rois` are constants).
///
/// ```swift
/// let align = RoIAlign(outputSize: 7, spatialScale: 1.0 / 16)
/// let pooled = align(features, rois: rois)     // [n, C, 7, 7]
/// ```
public struct RoIAlign: Sendable, Equatable {
    public var outputHeight: Int
    public var outputWidth: Int
    public var spatialScale: Float
    public var samplingRatio: Int
    public var aligned: Bool

    public init(
        outputHeight: Int, outputWidth: Int, spatialScale: Float, samplingRatio: Int = 0, aligned: Bool = true
    ) {
        precondition(
            outputHeight >= 1 && outputWidth >= 1,
            "RoIAlign: output size \(outputHeight)x\(outputWidth) must be positive")
        precondition(samplingRatio >= 0, "RoIAlign: sampling ratio \(samplingRatio) must be 0 (adaptive) or positive")
        self.outputHeight = outputHeight
        self.outputWidth = outputWidth
        self.spatialScale = spatialScale
        self.samplingRatio = samplingRatio
        self.aligned = aligned
    }

    /// A square output, mmdet's `RoIAlign(output_size=k, sampling_ratio=r)`.
    public init(outputSize: Int, spatialScale: Float, samplingRatio: Int = 0, aligned: Bool = true) {
        self.init(
            outputHeight: outputSize, outputWidth: outputSize, spatialScale: spatialScale,
            samplingRatio: samplingRatio, aligned: aligned)
    }

    /// Pools `rois` `[n, 5]` from `features` `[B, C, H, W]` into `[n, C, outputHeight, outputWidth]`.
    public func callAsFunction(_ features: Tensor, rois: Tensor) -> Tensor {
        RoIPooling.align(
            levels: [features], scales: [spatialScale], rois: rois,
            levelOfRoI: [Int](repeating: 0, count: RoIPooling.checkedCount(rois)), geometry: self, op: "roi_align")
    }

    /// mmdet's `bbox2roi`: the boxes of every image of a batch, as one `[n, 5]`
    /// tensor of `(image index, x1, y1, x2, y2)` rows, images in order.
    ///
    /// ```swift
    /// let rois = RoIAlign.rois([proposalsOfImage0, proposalsOfImage1])
    /// ```
    public static func rois(_ boxesPerImage: [[BoundingBox]]) -> Tensor {
        var values: [Float] = []
        values.reserveCapacity(boxesPerImage.reduce(0) { $0 + $1.count } * 5)
        for (image, boxes) in boxesPerImage.enumerated() {
            for box in boxes { values += [Float(image), box.x1, box.y1, box.x2, box.y2] }
        }
        return Tensor(shape: [values.count / 5, 5], scalars: values)
    }
}

/// RoIAlign over a feature pyramid, as mmdet's `SingleRoIExtractor`: each RoI is
/// pooled from one level, chosen by its scale `s = sqrt(w * h)` in image pixels,
/// `level = floor(log2(s / finestScale + 1e-6))` clamped to the levels (with
/// `finestScale` 56: below 112 px level 0, below 224 level 1, below 448 level 2,
/// else level 3). Level `l` has stride `featureStrides[l]` (spatial scale 1/stride).
///
/// ```swift
/// let extractor = RoIExtractor(featureStrides: [4, 8, 16, 32], outputSize: 7)
/// let pooled = extractor(Array(fpn.prefix(4)), rois: RoIAlign.rois(sampledBoxes))   // [n, C, 7, 7]
/// ```
public struct RoIExtractor: Sendable, Equatable {
    public var featureStrides: [Int]
    public var outputSize: Int
    public var samplingRatio: Int
    public var finestScale: Float
    public var aligned: Bool

    public init(
        featureStrides: [Int], outputSize: Int, samplingRatio: Int = 0, finestScale: Float = 56, aligned: Bool = true
    ) {
        precondition(!featureStrides.isEmpty, "RoIExtractor: needs at least one feature level")
        precondition(featureStrides.allSatisfy { $0 >= 1 }, "RoIExtractor: strides \(featureStrides) must be positive")
        self.featureStrides = featureStrides
        self.outputSize = outputSize
        self.samplingRatio = samplingRatio
        self.finestScale = finestScale
        self.aligned = aligned
    }

    /// The level of every RoI of `rois` `[n, 5]` (mmdet's `map_roi_levels`, in float32).
    /// A RoI with a negative or undefined area goes to level 0.
    public func levels(_ rois: Tensor) -> [Int] {
        let n = RoIPooling.checkedCount(rois)
        let p = rois.data
        return (0..<n).map { i in
            let r = p + 5 * i
            return Self.level(
                width: r[3] - r[1], height: r[4] - r[2], finestScale: finestScale, levels: featureStrides.count)
        }
    }

    /// The level of one box of `width` x `height` pixels among `levels` levels.
    public static func level(width: Float, height: Float, finestScale: Float = 56, levels: Int) -> Int {
        let scale = (width * height).squareRoot()
        let raw = log2f(scale / finestScale + Float(1e-6)).rounded(.down)
        if raw.isNaN { return 0 }
        return Int(min(max(raw, 0), Float(levels - 1)))
    }

    /// Pools every RoI of `rois` `[n, 5]` from its level of `features` (one
    /// `[B, C, H_l, W_l]` tensor per stride, finest first) into `[n, C, outputSize, outputSize]`.
    public func callAsFunction(_ features: [Tensor], rois: Tensor) -> Tensor {
        precondition(
            features.count == featureStrides.count,
            "RoIExtractor: \(features.count) feature maps for \(featureStrides.count) strides \(featureStrides)")
        let geometry = RoIAlign(
            outputSize: outputSize, spatialScale: 1, samplingRatio: samplingRatio, aligned: aligned)
        return RoIPooling.align(
            levels: features, scales: featureStrides.map { 1 / Float($0) }, rois: rois, levelOfRoI: levels(rois),
            geometry: geometry, op: "roi_extractor")
    }
}

/// The shared kernel of ``RoIAlign`` and ``RoIExtractor``.
enum RoIPooling {
    /// One bilinear sample: four pixel offsets in a plane and their weights
    /// (`p1 < 0` for a sample outside the map, which reads 0).
    struct Tap {
        var p1: Int32 = -1
        var p2: Int32 = 0
        var p3: Int32 = 0
        var p4: Int32 = 0
        var w1: Float = 0
        var w2: Float = 0
        var w3: Float = 0
        var w4: Float = 0
    }

    /// The number of rows of a `[n, 5]` RoI tensor, checked.
    static func checkedCount(_ rois: Tensor) -> Int {
        precondition(
            rois.rank == 2 && rois.shape[1] == 5,
            "RoIAlign: rois must be [n, 5] (batch index, x1, y1, x2, y2), got \(rois.shape)")
        return rois.shape[0]
    }

    /// The taps of RoI `roi` (5 values) on a `height` x `width` map, bin by bin
    /// (row-major), `samples` taps per bin; returns the divisor of each bin's sum.
    static func taps(
        roi: UnsafePointer<Float>, scale: Float, height: Int, width: Int, geometry g: RoIAlign,
        into taps: inout [Tap]
    ) -> (samples: Int, count: Float) {
        let offset: Float = g.aligned ? 0.5 : 0
        let startW = roi[1] * scale - offset
        let startH = roi[2] * scale - offset
        var roiW = roi[3] * scale - offset - startW
        var roiH = roi[4] * scale - offset - startH
        if !g.aligned {
            roiW = max(roiW, 1)
            roiH = max(roiH, 1)
        }
        let binH = roiH / Float(g.outputHeight)
        let binW = roiW / Float(g.outputWidth)
        // C's (int)ceil(size / output); a negative grid (inverted box) samples nothing.
        func grid(_ bin: Float) -> Int {
            if g.samplingRatio > 0 { return g.samplingRatio }
            let up = bin.rounded(.up)
            return up.isFinite ? Int(min(max(up, 0), Float(1 << 20))) : 0
        }
        let gridH = grid(binH)
        let gridW = grid(binW)
        let count = Float(max(gridH * gridW, 1))
        let samples = gridH * gridW
        taps.removeAll(keepingCapacity: true)
        taps.reserveCapacity(g.outputHeight * g.outputWidth * samples)
        let fh = Float(height)
        let fw = Float(width)
        for ph in 0..<g.outputHeight {
            for pw in 0..<g.outputWidth {
                for iy in 0..<gridH {
                    let yy = startH + Float(ph) * binH + (Float(iy) + 0.5) * binH / Float(gridH)
                    for ix in 0..<gridW {
                        let xx = startW + Float(pw) * binW + (Float(ix) + 0.5) * binW / Float(gridW)
                        taps.append(tap(y: yy, x: xx, height: height, width: width, fh: fh, fw: fw))
                    }
                }
            }
        }
        return (samples, count)
    }

    /// torchvision's `bilinear_interpolate` weights for the point (x, y).
    @inline(__always)
    static func tap(y yy: Float, x xx: Float, height: Int, width: Int, fh: Float, fw: Float) -> Tap {
        guard yy >= -1, yy <= fh, xx >= -1, xx <= fw else { return Tap() }
        var y = max(yy, 0)
        var x = max(xx, 0)
        var yLow = Int(y)
        var xLow = Int(x)
        let yHigh: Int
        let xHigh: Int
        if yLow >= height - 1 {
            yLow = height - 1
            yHigh = yLow
            y = Float(yLow)
        } else {
            yHigh = yLow + 1
        }
        if xLow >= width - 1 {
            xLow = width - 1
            xHigh = xLow
            x = Float(xLow)
        } else {
            xHigh = xLow + 1
        }
        let ly = y - Float(yLow)
        let lx = x - Float(xLow)
        let hy = 1 - ly
        let hx = 1 - lx
        return Tap(
            p1: Int32(yLow * width + xLow), p2: Int32(yLow * width + xHigh), p3: Int32(yHigh * width + xLow),
            p4: Int32(yHigh * width + xHigh), w1: hy * hx, w2: hy * lx, w3: ly * hx, w4: ly * lx)
    }

    /// Pools RoI `i` from `levels[levelOfRoI[i]]` (spatial scale `scales[...]`),
    /// recording one graph node whose inputs are the levels.
    ///
    /// The levels are read channels-last (`[B, H, W, C]`, one transposed copy
    /// per call), so each bilinear tap adds four contiguous channel vectors: the
    /// loop over channels vectorises, and every output element still sums its
    /// samples in torchvision's order (bit-identical results). Threads split the RoIs.
    static func align(
        levels: [Tensor], scales: [Float], rois: Tensor, levelOfRoI: [Int], geometry: RoIAlign, op: String
    ) -> Tensor {
        Profiler.measure(op) {
            let n = checkedCount(rois)
            precondition(!levels.isEmpty && levels.allSatisfy { $0.rank == 4 }, "\(op): features must be [B, C, H, W]")
            let (batch, channels) = (levels[0].shape[0], levels[0].shape[1])
            for level in levels {
                precondition(
                    level.shape[0] == batch && level.shape[1] == channels && level.shape[2] >= 1
                        && level.shape[3] >= 1,
                    "\(op): feature maps \(levels.map(\.shape)) must share batch and channels and be non-empty")
            }
            let roiValues = rois.scalars
            for i in 0..<n {
                let b = roiValues[5 * i]
                precondition(
                    b >= 0 && b < Float(batch) && b == b.rounded(.down),
                    "\(op): roi \(i) has batch index \(b), not an image of the batch of \(batch)")
                precondition(
                    roiValues[5 * i + 1..<5 * i + 5].allSatisfy(\.isFinite),
                    "\(op): roi \(i) has a non-finite coordinate \(Array(roiValues[5 * i..<5 * i + 5]))")
            }
            let (oh, ow) = (geometry.outputHeight, geometry.outputWidth)
            let bins = oh * ow
            let y = Tensor(uninitializedShape: [n, channels, oh, ow])
            if n > 0 && channels > 0 {
                let used = Set(levelOfRoI)
                let lastC: [Tensor?] = levels.enumerated().map { l, level in
                    used.contains(l) ? withNoGrad { level.permuted([0, 2, 3, 1]) } : nil
                }
                let sources = lastC.map { $0.map { UnsafePointer($0.data) } }
                let shapes = levels.map { ($0.shape[2], $0.shape[3]) }
                let out = y.data
                // The transposed copies must outlive the loop that reads them through raw pointers.
                withExtendedLifetime(lastC) {
                    roiValues.withUnsafeBufferPointer { rv in
                        let r = rv.baseAddress!
                        Parallel.forRanges(n, work: n * channels * bins * 16) { lo, hi in
                            var taps: [Tap] = []
                            let sums = UnsafeMutablePointer<Float>.allocate(capacity: bins * channels)
                            defer { sums.deallocate() }
                            for i in lo..<hi {
                                let l = levelOfRoI[i]
                                let (h, w) = shapes[l]
                                let (samples, count) = Self.taps(
                                    roi: r + 5 * i, scale: scales[l], height: h, width: w, geometry: geometry,
                                    into: &taps)
                                let base = sources[l]! + Int(r[5 * i]) * h * w * channels
                                sums.update(repeating: 0, count: bins * channels)
                                taps.withUnsafeBufferPointer { t in
                                    var k = 0
                                    for bin in 0..<bins {
                                        let sum = sums + bin * channels
                                        for _ in 0..<samples {
                                            let s = t[k]
                                            k += 1
                                            guard s.p1 >= 0 else { continue }
                                            accumulate(
                                                sum, base + Int(s.p1) * channels, base + Int(s.p2) * channels,
                                                base + Int(s.p3) * channels, base + Int(s.p4) * channels, s, channels)
                                        }
                                    }
                                }
                                let dst = out + i * channels * bins
                                for c in 0..<channels {
                                    for bin in 0..<bins { dst[c * bins + bin] = sums[bin * channels + c] / count }
                                }
                            }
                        }
                    }
                }
            }
            return y.recording(op, levels) { g in
                backward(
                    g, levels: levels, scales: scales, rois: roiValues, levelOfRoI: levelOfRoI, geometry: geometry)
            }
        }
    }

    /// `sum[c] += w1 * a[c] + w2 * b[c] + w3 * c3[c] + w4 * d[c]`, in that order, for every channel.
    @inline(__always)
    static func accumulate(
        _ sum: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
        _ c3: UnsafePointer<Float>, _ d: UnsafePointer<Float>, _ s: Tap, _ channels: Int
    ) {
        let (w1, w2, w3, w4) = (s.w1, s.w2, s.w3, s.w4)
        for c in 0..<channels { sum[c] += w1 * a[c] + w2 * b[c] + w3 * c3[c] + w4 * d[c] }
    }

    /// Scatters the output gradient back onto the levels, channels-last: threads
    /// split the channels, so no two write the same element, and every element
    /// receives its adds in torchvision's order (RoI, bin, sample, corner).
    static func backward(
        _ g: Tensor, levels: [Tensor], scales: [Float], rois: [Float], levelOfRoI: [Int], geometry: RoIAlign
    ) -> [Tensor?] {
        let n = levelOfRoI.count
        let channels = levels[0].shape[1]
        let lastC: [Tensor?] = levels.map { level in
            level.needsGrad ? Tensor.zeros([level.shape[0], level.shape[2], level.shape[3], level.shape[1]]) : nil
        }
        if n > 0 && channels > 0 {
            let bins = geometry.outputHeight * geometry.outputWidth
            let gradient = g.permuted([0, 2, 3, 1])
            let go = UnsafePointer(gradient.data)
            let targets = lastC.map { $0?.data }
            let shapes = levels.map { ($0.shape[2], $0.shape[3]) }
            // `gradient` must outlive the loop that reads it through `go`.
            withExtendedLifetime(gradient) {
                rois.withUnsafeBufferPointer { rv in
                    let r = rv.baseAddress!
                    Parallel.forRanges(channels, work: n * channels * bins * 16) { lo, hi in
                        var taps: [Tap] = []
                        let width = hi - lo
                        for i in 0..<n {
                            let l = levelOfRoI[i]
                            guard let target = targets[l] else { continue }
                            let (h, w) = shapes[l]
                            let (samples, count) = Self.taps(
                                roi: r + 5 * i, scale: scales[l], height: h, width: w, geometry: geometry, into: &taps)
                            let base = target + Int(r[5 * i]) * h * w * channels + lo
                            taps.withUnsafeBufferPointer { t in
                                var k = 0
                                for bin in 0..<bins {
                                    let v = go + (i * bins + bin) * channels + lo
                                    for _ in 0..<samples {
                                        let s = t[k]
                                        k += 1
                                        guard s.p1 >= 0 else { continue }
                                        scatter(base + Int(s.p1) * channels, v, s.w1, count, width)
                                        scatter(base + Int(s.p2) * channels, v, s.w2, count, width)
                                        scatter(base + Int(s.p3) * channels, v, s.w3, count, width)
                                        scatter(base + Int(s.p4) * channels, v, s.w4, count, width)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return lastC.map { $0?.permuted([0, 3, 1, 2]) }
    }

    /// `dst[c] += v[c] * weight / count` for every channel (torchvision's operation order).
    @inline(__always)
    static func scatter(
        _ dst: UnsafeMutablePointer<Float>, _ v: UnsafePointer<Float>, _ weight: Float, _ count: Float, _ channels: Int
    ) {
        for c in 0..<channels { dst[c] += v[c] * weight / count }
    }
}
