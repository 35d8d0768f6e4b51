import MixmaeData
import Testing

@Suite struct ImageResizeTests {
    /// Fingerprints (FNV-1a of the output bytes) of Pillow 13's `Image.resize`
    /// of the pattern image in mode "RGB" (3 channels) or "L" (1 channel):
    /// hand-picked sizes first, then random ones covering both pass orders.
    typealias Case = (
        sourceWidth: Int, sourceHeight: Int, channels: Int, filter: ResizeFilter,
        width: Int, height: Int, hash: UInt64
    )
    static let pillow: [Case] = [
        (13, 11, 3, .bilinear, 5, 4, 0x6782_ade0_4240_dc70),
        (13, 11, 3, .bilinear, 29, 23, 0x40b0_2d23_ce41_2913),
        (13, 11, 3, .bicubic, 5, 4, 0x72e3_f20a_5601_3d35),
        (13, 11, 3, .bicubic, 7, 19, 0x0210_ae8c_476f_1a01),
        (13, 11, 3, .bilinear, 20, 6, 0x8a04_f15b_c6b3_06e9),
        (13, 11, 3, .nearest, 5, 4, 0x92a3_b10d_8f1d_d88e),
        (13, 11, 3, .nearest, 29, 23, 0xc1e8_8739_484d_5572),
        (13, 11, 3, .bilinear, 13, 5, 0xeb05_36e1_f0ab_52a0),
        (13, 11, 1, .bilinear, 5, 4, 0x3791_17e1_6af6_18cf),
        (13, 11, 1, .bilinear, 29, 23, 0xcf4f_6858_5486_fdeb),
        (13, 11, 1, .bicubic, 5, 4, 0x583a_4fd3_1ea0_2f4f),
        (13, 11, 1, .bicubic, 7, 19, 0xd1f5_e523_f3b4_7766),
        (13, 11, 1, .bilinear, 20, 6, 0xbe96_c82d_aeb6_b623),
        (13, 11, 1, .nearest, 5, 4, 0xb73f_cae1_0778_e05e),
        (13, 11, 1, .nearest, 29, 23, 0x2f3f_d4a0_f267_5123),
        (13, 11, 1, .bilinear, 13, 5, 0x842e_6601_3f34_e4cd),
        (21, 27, 3, .bilinear, 42, 34, 0x5e0b_2d5f_fc1f_b0c9),
        (21, 27, 3, .bicubic, 42, 34, 0xa2bb_2b70_19d6_e67a),
        (21, 27, 3, .nearest, 42, 34, 0x6efd_6466_4dda_ad0f),
        (21, 27, 1, .bilinear, 42, 34, 0xb3a6_543f_238f_9e13),
        (21, 27, 1, .bicubic, 42, 34, 0x4e29_ed5e_1334_c56d),
        (21, 27, 1, .nearest, 42, 34, 0xe6a2_2f52_6cd7_9b83),
        (6, 34, 3, .bilinear, 4, 7, 0x65ab_6a18_3b75_06bb),
        (6, 34, 3, .bicubic, 4, 7, 0x8916_4685_d5aa_311a),
        (6, 34, 3, .nearest, 4, 7, 0x1b11_13b5_dcd3_a714),
        (6, 34, 1, .bilinear, 4, 7, 0xbeeb_6c80_4fd4_254d),
        (6, 34, 1, .bicubic, 4, 7, 0x42ee_cb43_1bc7_060a),
        (6, 34, 1, .nearest, 4, 7, 0x75ff_6ba1_7dac_7d5c),
        (15, 12, 3, .bilinear, 12, 16, 0x42d9_610b_407f_b81d),
        (15, 12, 3, .bicubic, 12, 16, 0xbacc_f259_6853_33c3),
        (15, 12, 3, .nearest, 12, 16, 0xf016_b17c_1966_6b16),
        (15, 12, 1, .bilinear, 12, 16, 0x9181_f727_1574_30fb),
        (15, 12, 1, .bicubic, 12, 16, 0xb0e6_81b5_9f18_e135),
        (15, 12, 1, .nearest, 12, 16, 0xd2c2_1140_d109_832e),
        (20, 29, 3, .bilinear, 35, 7, 0x261f_5b02_1b92_979e),
        (20, 29, 3, .bicubic, 35, 7, 0x1a6d_5251_2c12_3171),
        (20, 29, 3, .nearest, 35, 7, 0x4c9d_eae3_4bbf_95fe),
        (20, 29, 1, .bilinear, 35, 7, 0xf67d_6b97_6a43_b9df),
        (20, 29, 1, .bicubic, 35, 7, 0xb5bc_a7c2_2820_c168),
        (20, 29, 1, .nearest, 35, 7, 0x76ab_e9a5_c7a4_69d5),
        (20, 5, 3, .bilinear, 14, 7, 0x4eac_43ea_536d_0eb4),
        (20, 5, 3, .bicubic, 14, 7, 0x4726_fb11_00ef_69c5),
        (20, 5, 3, .nearest, 14, 7, 0xb1a9_e664_6ea9_d289),
        (20, 5, 1, .bilinear, 14, 7, 0xe13f_3b50_5c80_9917),
        (20, 5, 1, .bicubic, 14, 7, 0xe96f_6705_a21c_b95c),
        (20, 5, 1, .nearest, 14, 7, 0x27a8_bd96_759c_fb67),
        (22, 16, 3, .bilinear, 25, 11, 0xc248_59f1_0c95_207a),
        (22, 16, 3, .bicubic, 25, 11, 0x7cf7_7818_28da_4a78),
        (22, 16, 3, .nearest, 25, 11, 0xf4bc_99e1_b597_0f41),
        (22, 16, 1, .bilinear, 25, 11, 0xb764_19a4_20f1_3557),
        (22, 16, 1, .bicubic, 25, 11, 0x0890_b2a6_4f74_f60c),
        (22, 16, 1, .nearest, 25, 11, 0xce59_2a9c_ad9c_d81c),
        (9, 13, 3, .bilinear, 15, 5, 0x79d7_6b0e_f7a4_bb24),
        (9, 13, 3, .bicubic, 15, 5, 0x6c5d_8512_f9fa_4164),
        (9, 13, 3, .nearest, 15, 5, 0x7a17_9839_93c5_d50b),
        (9, 13, 1, .bilinear, 15, 5, 0x6f40_450e_c2ea_4e98),
        (9, 13, 1, .bicubic, 15, 5, 0xa6c1_30f2_e841_5b39),
        (9, 13, 1, .nearest, 15, 5, 0xe907_0a9c_5c3d_9132),
        (13, 5, 3, .bilinear, 1, 4, 0xba9d_7aa9_bb2f_4a87),
        (13, 5, 3, .bicubic, 1, 4, 0x8afd_e917_6f46_81e4),
        (13, 5, 3, .nearest, 1, 4, 0x5a7d_b190_7e80_2c79),
        (13, 5, 1, .bilinear, 1, 4, 0x5a7f_1eba_518f_e446),
        (13, 5, 1, .bicubic, 1, 4, 0xb9a5_cfa2_959f_caf6),
        (13, 5, 1, .nearest, 1, 4, 0x5403_f779_8d44_9891),
        (18, 15, 3, .bilinear, 11, 10, 0x04ac_6951_f5c4_25a2),
        (18, 15, 3, .bicubic, 11, 10, 0xd9dc_e1ac_c43a_72f1),
        (18, 15, 3, .nearest, 11, 10, 0xeff6_80d7_155a_db04),
        (18, 15, 1, .bilinear, 11, 10, 0xba21_6023_1b63_0a17),
        (18, 15, 1, .bicubic, 11, 10, 0xc1fd_6648_5826_59f0),
        (18, 15, 1, .nearest, 11, 10, 0x7ed4_46b8_7706_248a),
        (25, 17, 3, .bilinear, 35, 14, 0x8574_27aa_e029_703e),
        (25, 17, 3, .bicubic, 35, 14, 0x1315_faab_ecb2_4727),
        (25, 17, 3, .nearest, 35, 14, 0xcf01_8864_8376_8424),
        (25, 17, 1, .bilinear, 35, 14, 0xf31c_d815_e207_dd7a),
        (25, 17, 1, .bicubic, 35, 14, 0xd971_42c5_d61c_8949),
        (25, 17, 1, .nearest, 35, 14, 0xae6f_fe7c_7dce_a56a),
        (16, 17, 3, .bilinear, 25, 20, 0xe126_1773_3c4d_a155),
        (16, 17, 3, .bicubic, 25, 20, 0xf56d_75b6_736e_b41a),
        (16, 17, 3, .nearest, 25, 20, 0x3294_f397_bd6c_7f6b),
        (16, 17, 1, .bilinear, 25, 20, 0x913f_334c_38fc_fc05),
        (16, 17, 1, .bicubic, 25, 20, 0xdee8_4a69_1478_1077),
        (16, 17, 1, .nearest, 25, 20, 0xed1b_85fa_e562_898b),
        (6, 28, 3, .bilinear, 7, 11, 0x3b53_813e_0c89_f6a8),
        (6, 28, 3, .bicubic, 7, 11, 0xc7f3_7430_e679_7690),
        (6, 28, 3, .nearest, 7, 11, 0x10d3_50b0_ead3_4ea9),
        (6, 28, 1, .bilinear, 7, 11, 0x8cab_6be8_29f5_b59c),
        (6, 28, 1, .bicubic, 7, 11, 0x911b_137b_c0b5_702e),
        (6, 28, 1, .nearest, 7, 11, 0x283c_9d41_9279_7706),
    ]

    @Test func matchesPillowBitForBit() throws {
        for case let (sourceWidth, sourceHeight, channels, filter, width, height, hash) in Self.pillow {
            let source = try patternImage(width: sourceWidth, height: sourceHeight, channels: channels)
            let resized = try source.resized(width: width, height: height, filter: filter)
            #expect(resized.width == width && resized.height == height)
            #expect(
                fnv1a(resized.pixels) == hash,
                "\(channels)-channel \(sourceWidth)x\(sourceHeight) \(filter) to \(width)x\(height)")
        }
    }

    /// Without antialiasing, bilinear is PyTorch's align_corners=False
    /// interpolation; compare with that formula evaluated in floating point.
    @Test func bilinearWithoutAntialiasIsAlignCornersFalse() throws {
        let source = try patternImage(width: 13, height: 11, channels: 3)
        for (width, height) in [(5, 4), (29, 23), (8, 17)] {
            let resized = try source.resized(width: width, height: height, antialias: false)
            for y in 0..<height {
                for x in 0..<width {
                    for c in 0..<3 {
                        let reference = bilinearReference(source, x: x, y: y, c: c, width, height)
                        #expect(abs(Double(resized[x: x, y: y, channel: c]) - reference) <= 1.01)
                    }
                }
            }
        }
    }

    @Test func nearestKeepsLabelValues() throws {
        let labels = try Image(width: 4, height: 2, channels: 1, pixels: [0, 1, 2, 255, 3, 4, 5, 6])
        let up = try labels.resized(width: 8, height: 4, filter: .nearest)
        #expect(Set(up.pixels).isSubset(of: Set(labels.pixels)))
        #expect(Array(up.pixels[0..<8]) == [0, 0, 1, 1, 2, 2, 255, 255])
        let down = try labels.resized(width: 2, height: 1, filter: .nearest)
        #expect(down.pixels == [4, 6])  // source pixels under the centres (1.0, 1.0) and (3.0, 1.0)
    }

    @Test func rejectsEmptySizes() throws {
        let image = try patternImage(width: 4, height: 4, channels: 3)
        #expect(throws: ImageError.self) { try image.resized(width: 0, height: 3) }
        #expect(try image.resized(width: 4, height: 4) == image)
    }

    private func bilinearReference(_ image: Image, x: Int, y: Int, c: Int, _ width: Int, _ height: Int)
        -> Double
    {
        func source(_ index: Int, _ input: Int, _ output: Int) -> (Int, Int, Double) {
            let position = max((Double(index) + 0.5) * Double(input) / Double(output) - 0.5, 0)
            let low = min(Int(position), input - 1)
            return (low, min(low + 1, input - 1), position - Double(low))
        }
        let (x0, x1, fx) = source(x, image.width, width)
        let (y0, y1, fy) = source(y, image.height, height)
        func at(_ x: Int, _ y: Int) -> Double { Double(image[x: x, y: y, channel: c]) }
        return (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x1, y0))
            + fy * ((1 - fx) * at(x0, y1) + fx * at(x1, y1))
    }
}

@Suite struct ImageGeometryTests {
    @Test func cropTakesTheRectangle() throws {
        let image = try patternImage(width: 6, height: 5, channels: 3)
        let crop = try image.cropped(x: 2, y: 1, width: 3, height: 2)
        #expect(crop.width == 3 && crop.height == 2)
        for y in 0..<2 {
            for x in 0..<3 {
                for c in 0..<3 {
                    #expect(crop[x: x, y: y, channel: c] == image[x: x + 2, y: y + 1, channel: c])
                }
            }
        }
        let outside = #expect(throws: ImageError.self) {
            try image.cropped(x: 4, y: 0, width: 3, height: 2)
        }
        #expect(outside?.message.contains("not inside the 6x5 image") == true)
    }

    @Test func flipMirrorsColumns() throws {
        let image = try Image(width: 3, height: 2, channels: 1, pixels: [1, 2, 3, 4, 5, 6])
        #expect(image.flippedHorizontally().pixels == [3, 2, 1, 6, 5, 4])
        let rgb = try patternImage(width: 5, height: 2, channels: 3)
        #expect(rgb.flippedHorizontally().flippedHorizontally() == rgb)
        #expect(rgb.flippedHorizontally()[x: 0, y: 1, channel: 2] == rgb[x: 4, y: 1, channel: 2])
    }

    @Test func imageChecksItsShape() throws {
        #expect(throws: ImageError.self) { try Image(width: 2, height: 2, channels: 2) }
        #expect(throws: ImageError.self) { try Image(width: 2, height: 2, channels: 1, pixels: [1]) }
    }
}
