import ArgumentParser
import Foundation
import MixKit
import MixmaeSupport

/// `mixmae bench roi-align`: the time of Mask R-CNN's RoI pooling (the FPN RoI
/// extractor of the box and mask heads), forward and backward.
///
/// ```
/// mixmae bench roi-align
/// mixmae bench roi-align --image-size 256 --channels 128 --format json
/// ```
struct BenchRoIAlignCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "roi-align",
        abstract: "Time RoIAlign over an FPN as Mask R-CNN's box and mask heads use it.",
        discussion: """
            Two images of --image-size pixels, FPN levels at strides 4, 8, 16 and 32 with \
            --channels channels, RoIs with sides of 8 to 300 pixels mapped to their level as \
            mmdet's SingleRoIExtractor does, adaptive sampling (ceil(roi / output) samples per bin \
            and axis). Samples/s counts bilinear samples times channels. Other processes on the \
            machine lower every number: check the load first.
            """
    )

    @OptionGroup var output: OutputOptions

    @Option(name: .long, help: "Side of the two (square) images, in pixels.")
    var imageSize = 512

    @Option(name: .long, help: "Channels of every FPN level.")
    var channels = 256

    @Option(name: .long, help: "Timed repetitions per measurement (the best one is kept).")
    var repetitions = 3

    func validate() throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
        guard imageSize >= 32 else { throw ValidationError("--image-size must be at least 32, got \(imageSize)") }
        guard channels >= 1 else { throw ValidationError("--channels must be at least 1, got \(channels)") }
    }

    func run() throws {
        let results = OpsBenchmark.roiAlign(imageSize: imageSize, channels: channels, repetitions: repetitions)
        let summary = Summary(
            threads: Parallel.threadCount, loadAverage: MachineLoad.oneMinuteAverage(), imageSize: imageSize,
            channels: channels, cases: results.map(Summary.Case.init))
        if output.json {
            try output.print(summary)
            return
        }
        print("threads: \(summary.threads), 1-minute load average: \(MachineLoad.describe(summary.loadAverage))")
        print("two \(imageSize)x\(imageSize) images, FPN strides 4-32, \(channels) channels")
        var table = TextTable(["case", "forward ms", "Msamples/s", "backward ms"], rightAligned: [1, 2, 3])
        for c in summary.cases {
            table.append([
                c.name, String(format: "%.1f", c.forwardMs), String(format: "%.0f", c.forwardMegasamplesPerSecond),
                String(format: "%.1f", c.backwardMs),
            ])
        }
        print(table.rendered())
    }

    /// What the command measured; `--format json` prints it.
    struct Summary: Encodable {
        struct Case: Encodable {
            var name: String
            var rois: Int
            var outputSize: Int
            var samples: Int
            var forwardMs: Double
            var backwardMs: Double
            var forwardMegasamplesPerSecond: Double

            init(_ result: OpsBenchmark.RoIAlignResult) {
                name = result.name
                rois = result.rois
                outputSize = result.outputSize
                samples = result.samples
                forwardMs = result.forwardSeconds * 1e3
                backwardMs = result.backwardSeconds * 1e3
                forwardMegasamplesPerSecond = Double(result.samples) / result.forwardSeconds / 1e6
            }

            enum CodingKeys: String, CodingKey {
                case name, rois, samples
                case outputSize = "output_size"
                case forwardMs = "forward_ms"
                case backwardMs = "backward_ms"
                case forwardMegasamplesPerSecond = "forward_msamples_per_second"
            }
        }

        var threads: Int
        var loadAverage: Double?
        var imageSize: Int
        var channels: Int
        var cases: [Case]

        enum CodingKeys: String, CodingKey {
            case threads, channels, cases
            case loadAverage = "load_average"
            case imageSize = "image_size"
        }
    }
}
