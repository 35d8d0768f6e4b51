import ArgumentParser
import Foundation
import MixKit
import MixmaeData
import MixmaeSupport

/// `mixmae bench augment`: milliseconds per image of the classification
/// finetune's data augmentation, stage by stage, on one thread.
///
/// ```
/// mixmae bench augment
/// mixmae bench augment --image photo.jpg --size 224 --images 500
/// mixmae bench augment --format json
/// ```
struct BenchAugmentCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "augment",
        abstract: "Time the training and evaluation transforms per image (one thread).",
        discussion: """
            Stages: RandomResizedCrop + flip on the source image; each RandAugment op (magnitude 9) \
            on a crop; RandAugment as the reference draws it; normalisation + RandomErasing; the \
            whole training transform (timm 0.4.12's order); and the evaluation resize + centre crop. \
            Without --image the source is a synthetic 500x375 RGB picture (ImageNet's typical size). \
            Decoding is not included. Wall times grow with other processes on the machine; the \
            thread's CPU time much less so.
            """
    )

    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "A PNG or JPEG to augment (default: a synthetic 500x375 image).")
    var image: String?

    @Option(name: .long, help: "Output side in pixels.")
    var size = 224

    @Option(name: .long, help: "Images per measurement.")
    var images = 300

    @Option(name: .long, help: "RandAugment config.")
    var autoAugment = "rand-m9-mstd0.5-inc1"

    func validate() throws {
        guard size >= 8 else { throw ValidationError("--size must be at least 8, got \(size)") }
        guard images >= 1 else { throw ValidationError("--images must be at least 1, got \(images)") }
    }

    func run() throws {
        let source = try image.map { try Image(contentsOfFile: $0, mode: .rgb) } ?? Self.syntheticImage()
        let randAugment: RandAugment
        do {
            randAugment = try RandAugment(config: autoAugment)
        } catch {
            throw ValidationError("--auto-augment: \(error)")
        }
        let crop = RandomResizedCrop(size: size)
        let erasing = RandomErasing(probability: 0.25, mode: .pixel)
        let training = TrainingAugmentation(crop: crop, randAugment: randAugment, erasing: erasing)
        var seedRNG = RandomGenerator(seed: 1)
        let crops = try (0..<8).map { _ in try crop(source, using: &seedRNG) }
        var values = [Float](repeating: 0, count: training.valueCount)
        var summary = Summary(
            sourceWidth: source.width, sourceHeight: source.height, size: size, images: images,
            autoAugment: autoAugment, loadAverage: MachineLoad.oneMinuteAverage(), stages: [])
        func measure(
            _ name: String, isRandAugmentOp: Bool = false, _ body: (Int, inout RandomGenerator) throws -> Void
        ) rethrows {
            var rng = RandomGenerator(seed: 7)
            try body(0, &rng)  // warm-up
            let (wall, cpu) = (Self.wallSeconds(), Self.threadCPUSeconds())
            for i in 0..<images { try body(i, &rng) }
            let perImage = { (seconds: Double) in seconds * 1e3 / Double(self.images) }
            summary.stages.append(
                Summary.Stage(
                    name: name, isRandAugmentOp: isRandAugmentOp,
                    wallMsPerImage: perImage(Self.wallSeconds() - wall),
                    cpuMsPerImage: perImage(Self.threadCPUSeconds() - cpu)))
        }
        try measure("RandomResizedCrop (bicubic) + flip") { _, rng in
            let out = try crop(source, using: &rng)
            _ = rng.nextDouble() < 0.5 ? out.flippedHorizontally() : out
        }
        for op in randAugment.ops {
            let argument = op.argument(magnitude: randAugment.magnitude, negated: false)
            try measure(op.rawValue, isRandAugmentOp: true) { i, _ in
                _ = try op.apply(to: crops[i % crops.count], argument: argument, fill: randAugment.fill)
            }
        }
        try measure("RandAugment \(autoAugment)") { i, rng in _ = try randAugment(crops[i % crops.count], using: &rng) }
        values.withUnsafeMutableBufferPointer { buffer in
            measure("normalise + RandomErasing (0.25, pixel)") { i, rng in
                training.finish(crops[i % crops.count], into: buffer.baseAddress!, using: &rng)
            }
        }
        try values.withUnsafeMutableBufferPointer { buffer in
            try measure("whole training transform") { _, rng in
                try training(source, into: buffer.baseAddress!, using: &rng)
            }
        }
        let evaluation = ResizeCenterCrop(size: size, cropFraction: 224.0 / 256, filter: .bicubic)
        try measure("evaluation: resize + centre crop") { _, _ in _ = try evaluation(source) }
        if output.json {
            try output.print(summary)
            return
        }
        print(
            "source \(source.width)x\(source.height), output \(size)x\(size), \(images) images per row, "
                + "load \(MachineLoad.describe(summary.loadAverage))")
        var table = TextTable(["stage", "wall ms/image", "cpu ms/image"], rightAligned: [1, 2])
        for stage in summary.stages {
            table.append([
                (stage.isRandAugmentOp ? "  " : "") + stage.name, String(format: "%.3f", stage.wallMsPerImage),
                String(format: "%.3f", stage.cpuMsPerImage),
            ])
        }
        print(table.rendered())
    }

    /// What the command measured; `--format json` prints it.
    struct Summary: Encodable {
        struct Stage: Encodable {
            var name: String
            /// One op of RandAugment's list, timed alone at magnitude 9.
            var isRandAugmentOp: Bool
            var wallMsPerImage: Double
            var cpuMsPerImage: Double

            enum CodingKeys: String, CodingKey {
                case name
                case isRandAugmentOp = "randaugment_op"
                case wallMsPerImage = "wall_ms_per_image"
                case cpuMsPerImage = "cpu_ms_per_image"
            }
        }

        var sourceWidth: Int
        var sourceHeight: Int
        var size: Int
        var images: Int
        var autoAugment: String
        var loadAverage: Double?
        var stages: [Stage]

        enum CodingKeys: String, CodingKey {
            case size, images, stages
            case sourceWidth = "source_width"
            case sourceHeight = "source_height"
            case autoAugment = "auto_augment"
            case loadAverage = "load_average"
        }
    }

    static func wallSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    /// CPU time of this thread: what the stage costs, less sensitive than the
    /// wall clock to other processes sharing the cores.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// A 500x375 picture with smooth gradients, edges and fine texture, so
    /// every op has work to do (the histogram ops see many levels).
    static func syntheticImage(width: Int = 500, height: Int = 375) throws -> Image {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let disc = (x - 250) * (x - 250) + (y - 190) * (y - 190) < 120 * 120
                let texture = ((x * 7 + y * 13) % 23) * 3
                let base = (
                    40 + 150 * x / width + texture, 30 + 120 * y / height + (disc ? 60 : 0), disc ? 200 - texture : 90
                )
                let i = (y * width + x) * 3
                pixels[i] = UInt8(clamping: base.0)
                pixels[i + 1] = UInt8(clamping: base.1)
                pixels[i + 2] = UInt8(clamping: base.2)
            }
        }
        return try Image(width: width, height: height, channels: 3, pixels: pixels)
    }
}
