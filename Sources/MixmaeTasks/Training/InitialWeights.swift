import Foundation
import MixKit
import MixmaeSupport

/// Loads a backbone's initial weights from a checkpoint written by another
/// run (or imported from PyTorch), taking only the tensors the backbone has.
///
/// Decoder, mask-token and head tensors of the source are ignored. A fixed
/// buffer whose shape differs (the sin-cos position table at another image
/// size) keeps the model's own value; a trainable tensor whose shape differs
/// is an error, because training would silently start from random weights.
public enum InitialWeights {
    /// What loading did, for the log and the registry.
    public struct Report: Sendable {
        public var path: String
        public var loaded: Int
        public var missing: [String]
        public var skippedBuffers: [String]
        public var ignored: Int

        public var summary: String {
            var s = "initialised \(loaded) backbone tensors from \(path)"
            if !missing.isEmpty {
                s +=
                    "; \(missing.count) not in the checkpoint (kept random): \(missing.prefix(5).joined(separator: ", "))"
            }
            if !skippedBuffers.isEmpty {
                s += "; kept the model's own \(skippedBuffers.joined(separator: ", ")) (other shape)"
            }
            if ignored > 0 { s += "; ignored \(ignored) tensors that are not the backbone's" }
            return s
        }
    }

    /// Copies the matching tensors of `path` into `backbone`; with `strict`,
    /// every backbone tensor must be present.
    public static func load(into backbone: Module, from path: String, strict: Bool) throws -> Report {
        let file = try WeightsFile.open(path)
        let own = backbone.namedTensors()
        var missing: [String] = []
        var skipped: [String] = []
        var wrong: [String] = []
        var used = 0
        for (name, tensor) in own {
            guard let shape = file.shape(of: name) else {
                missing.append(name)
                continue
            }
            if shape != tensor.shape {
                if tensor.requiresGrad {
                    wrong.append("\(name): model \(tensor.shape), checkpoint \(shape)")
                } else {
                    skipped.append(name)
                }
                continue
            }
            used += 1
        }
        if !wrong.isEmpty {
            throw InputError(
                file: path,
                problem: "tensors do not fit the backbone (was it pretrained with another configuration?):\n  "
                    + wrong.joined(separator: "\n  "))
        }
        if strict && !missing.isEmpty {
            throw InputError(
                file: path,
                problem:
                    "\(missing.count) backbone tensors are missing (init.strict is on): \(missing.prefix(10).joined(separator: ", "))"
            )
        }
        if used == 0 {
            throw InputError(
                file: path,
                problem: "no tensor of the checkpoint belongs to this backbone: is it a checkpoint of another model?")
        }
        for (name, tensor) in own where file.shape(of: name) == tensor.shape {
            tensor.assign(try file.tensor(name))
        }
        let ownNames = Set(own.map(\.0))
        return Report(
            path: path, loaded: used, missing: missing, skippedBuffers: skipped,
            ignored: file.names.filter { !ownNames.contains($0) }.count)
    }
}
