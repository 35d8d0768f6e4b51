import ArgumentParser
import Foundation
import MixKit

/// `mixmae bench roi-align`: the time of Mask R-CNN's RoI pooling (the FPN RoI
/// extractor of the box and mask heads), forward and backward.
///
/// ```
/// mixmae bench roi-align
/// mixmae bench roi-align --image-size 256 --channels 128 --json
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

    @Flag(name: .long, help: "Print JSON for scripts instead of a table.")
    var json = false

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
        let load =
            (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?
            .split(separator: " ").first.map(String.init) ?? "unknown"
        if json {
            let object: [String: Any] = [
                "threads": Parallel.threadCount, "load_average": Double(load) ?? -1, "image_size": imageSize,
                "channels": channels,
                "cases": results.map { r in
                    [
                        "name": r.name, "rois": r.rois, "output_size": r.outputSize, "samples": r.samples,
                        "forward_ms": r.forwardSeconds * 1e3, "backward_ms": r.backwardSeconds * 1e3,
                    ] as [String: Any]
                },
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print("threads: \(Parallel.threadCount), 1-minute load average: \(load)")
        print("two \(imageSize)x\(imageSize) images, FPN strides 4-32, \(channels) channels")
        print(
            pad("case", 26) + pad("forward ms", 12, right: true) + pad("Msamples/s", 12, right: true)
                + pad("backward ms", 13, right: true))
        for r in results {
            print(
                pad(r.name, 26) + pad(String(format: "%.1f", r.forwardSeconds * 1e3), 12, right: true)
                    + pad(String(format: "%.0f", Double(r.samples) / r.forwardSeconds / 1e6), 12, right: true)
                    + pad(String(format: "%.1f", r.backwardSeconds * 1e3), 13, right: true))
        }
    }

    private func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - s.count))
        return right ? fill + s : s + fill
    }
}
