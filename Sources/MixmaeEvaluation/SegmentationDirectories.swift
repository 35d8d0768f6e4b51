import Foundation
import MixmaeData
import MixmaeSupport

extension SegmentationEvaluator {
    /// Evaluates every label map in `predictionDirectory` against the one with
    /// the same name (extension aside) in `truthDirectory`.
    ///
    ///     let evaluator = try SegmentationEvaluator.evaluate(
    ///         truthDirectory: "ann/val", predictionDirectory: "out/pred", classCount: 150)
    ///     print(evaluator.metrics.meanIoU)
    ///
    /// Files are PNG (or JPEG) label maps read with `.labelMap`, paired by
    /// name; a file without its pair, or a pair of different sizes, is an error.
    /// `progress` is called after each image with (done, total).
    public static func evaluate(
        truthDirectory: String, predictionDirectory: String, classCount: Int,
        ignoreIndex: Int = 255, reduceZeroLabel: Bool = false,
        progress: (Int, Int) -> Void = { _, _ in }
    ) throws -> SegmentationEvaluator {
        var evaluator = try SegmentationEvaluator(
            classCount: classCount, ignoreIndex: ignoreIndex, reduceZeroLabel: reduceZeroLabel)
        let truth = try labelMaps(in: truthDirectory)
        let predictions = try labelMaps(in: predictionDirectory)
        let unpairedTruth = truth.keys.filter { predictions[$0] == nil }.sorted()
        let unpairedPredictions = predictions.keys.filter { truth[$0] == nil }.sorted()
        if !unpairedTruth.isEmpty {
            throw unpaired(
                unpairedTruth.map { truth[$0]! }, in: truthDirectory, missingIn: predictionDirectory)
        }
        if !unpairedPredictions.isEmpty {
            throw unpaired(
                unpairedPredictions.map { predictions[$0]! }, in: predictionDirectory,
                missingIn: truthDirectory)
        }
        if truth.isEmpty {
            throw InputError(
                file: truthDirectory, problem: "no label maps (.png, .jpg, .jpeg) in this directory")
        }
        let names = truth.keys.sorted()
        for (done, name) in names.enumerated() {
            let truthPath = (truthDirectory as NSString).appendingPathComponent(truth[name]!)
            let predictionPath = (predictionDirectory as NSString).appendingPathComponent(
                predictions[name]!)
            let truthMap = try Image(contentsOfFile: truthPath, mode: .labelMap)
            let predictionMap = try Image(contentsOfFile: predictionPath, mode: .labelMap)
            guard truthMap.width == predictionMap.width, truthMap.height == predictionMap.height
            else {
                throw InputError(
                    file: predictionPath,
                    problem: "is \(predictionMap.width)x\(predictionMap.height) but its truth "
                        + "\(truthPath) is \(truthMap.width)x\(truthMap.height); "
                        + "predictions must have the label map's size")
            }
            try evaluator.add(prediction: predictionMap, truth: truthMap, name: predictionPath)
            progress(done + 1, names.count)
        }
        return evaluator
    }

    /// Label map files in `directory` by name without extension.
    private static func labelMaps(in directory: String) throws -> [String: String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory),
            isDirectory.boolValue
        else {
            throw InputError(file: directory, problem: "not a directory")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory)
        var maps = [String: String]()
        for name in names.sorted() where !name.hasPrefix(".") {
            let pathExtension = (name as NSString).pathExtension.lowercased()
            guard ["png", "jpg", "jpeg"].contains(pathExtension) else { continue }
            let stem = (name as NSString).deletingPathExtension
            if let other = maps.updateValue(name, forKey: stem) {
                throw InputError(
                    file: directory,
                    problem: "both \(other) and \(name) are named \(stem); keep one label map per name")
            }
        }
        return maps
    }

    private static func unpaired(_ files: [String], in directory: String, missingIn other: String)
        -> InputError
    {
        let shown = files.prefix(5).joined(separator: ", ")
        let more = files.count > 5 ? " and \(files.count - 5) more" : ""
        return InputError(
            file: directory,
            problem: "\(files.count) file(s) have no counterpart in \(other): \(shown)\(more); "
                + "truth and prediction files are paired by name")
    }
}
