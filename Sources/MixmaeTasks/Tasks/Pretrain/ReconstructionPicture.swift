import Foundation
import MixKit
import MixmaeData

/// A picture of MixMAE at work: one row per image, showing the original, the
/// mixed input the encoder saw, and the reconstruction (each position taken
/// from the branch in which it was hidden), separated by white gaps. With
/// `maskTokens` (`mask.mode: mask_token`) the middle column shows the masked
/// patches as the dataset mean (where the [MASK] token went) and the
/// reconstruction is the image's own, one branch.
public struct ReconstructionPicture {
    public let image: Image

    /// - Parameters:
    ///   - images: the normalised batch `[B, 3, S, S]` (B even).
    ///   - output: the model's output on it under `mixing`: both branches `[2B, L, P]` or one reconstruction
    ///     per image `[B, L, P]`.
    ///   - normalizedTargets: the loss predicted per-patch normalised pixels;
    ///     they are mapped back with each original patch's mean and variance.
    public init(
        images: Tensor, output: PretrainModel.Output, mixing: MixingMask, maskTokens: Bool = false, patchSize p: Int,
        normalizedTargets: Bool,
        normalization: Normalization
    ) throws {
        let (b, side) = (images.shape[0], images.shape[2])
        let grid = side / p
        let plane = 3 * side * side
        let rec = output.reconstruction
        let unmixed = rec.shape[0] == b
        let perToken = p * p * 3
        let gap = 2
        let width = 3 * side + 4 * gap
        let height = b * side + (b + 1) * gap
        var canvas = try Image(width: width, height: height, channels: 3, filledWith: 255)
        let pixelMask = mixing.upsampled(height: side, width: side)
        for i in 0..<b {
            let original = images.data + i * plane
            let partner = images.data + (b - 1 - i) * plane
            var mixed = [Float](repeating: 0, count: plane)
            var reconstructed = [Float](repeating: 0, count: plane)
            for c in 0..<3 {
                for y in 0..<side {
                    for x in 0..<side {
                        let k = c * side * side + y * side + x
                        mixed[k] = pixelMask[y * side + x] == 1 ? (maskTokens ? 0 : partner[k]) : original[k]
                    }
                }
            }
            for t in 0..<(grid * grid) {
                let (gy, gx) = (t / grid, t % grid)
                // Both branches: hidden from branch 1 where m = 1 (row i), from branch 2 where m = 0 (row
                // B-1-i). Unmixed, or one image per input (mask tokens): row i.
                let row = unmixed || mixing.values[t] == 1 ? i : b + (b - 1 - i)
                let pred = rec.data + (row * grid * grid + t) * perToken
                var mean: Float = 0
                var scale: Float = 1
                if normalizedTargets {
                    var sum: Float = 0
                    var sumSq: Float = 0
                    for py in 0..<p {
                        for px in 0..<p {
                            for c in 0..<3 {
                                let v = original[c * side * side + (gy * p + py) * side + gx * p + px]
                                sum += v
                                sumSq += v * v
                            }
                        }
                    }
                    let n = Float(perToken)
                    mean = sum / n
                    scale = (max(0, (sumSq - n * mean * mean) / (n - 1)) + 1e-6).squareRoot()
                }
                for py in 0..<p {
                    for px in 0..<p {
                        for c in 0..<3 {
                            let v = pred[(py * p + px) * 3 + c] * scale + mean
                            reconstructed[c * side * side + (gy * p + py) * side + gx * p + px] = v
                        }
                    }
                }
            }
            let tiles = [
                try normalization.image(fromCHW: original, width: side, height: side),
                try mixed.withUnsafeBufferPointer {
                    try normalization.image(fromCHW: $0.baseAddress!, width: side, height: side)
                },
                try reconstructed.withUnsafeBufferPointer {
                    try normalization.image(fromCHW: $0.baseAddress!, width: side, height: side)
                },
            ]
            for (column, tile) in tiles.enumerated() {
                let ox = gap + column * (side + gap)
                let oy = gap + i * (side + gap)
                for y in 0..<side {
                    for x in 0..<side {
                        for c in 0..<3 { canvas[x: ox + x, y: oy + y, channel: c] = tile[x: x, y: y, channel: c] }
                    }
                }
            }
        }
        self.image = canvas
    }
}
