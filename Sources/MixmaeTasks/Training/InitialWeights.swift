import Foundation
import MixKit
import MixmaeSupport

/// Loads a backbone's initial weights from a checkpoint written by another
/// run (or imported from PyTorch), taking only the tensors the backbone has.
///
/// Decoder, mask-token and head tensors of the source are ignored. Tables the
/// reference resizes when the window or resolution changes (relative-position
/// bias, position embeddings) are converted by ``WeightConversion`` and listed
/// in the report; `relative_position_index` is never loaded. Another fixed
/// buffer whose shape differs keeps the model's own value; another trainable
/// tensor whose shape differs is an error, because training would silently
/// start from random weights.
public enum InitialWeights {
    /// What loading did, for the log and the registry.
    public struct Report: Sendable {
        public var path: String
        public var loaded: Int
        public var missing: [String]
        public var skippedBuffers: [String]
        public var ignored: Int
        /// Tensors resized to the model's window or resolution while loading.
        public var conversions: [WeightConversion.Note] = []

        public var summary: String {
            var s = "initialised \(loaded) backbone tensors from \(path)"
            if !conversions.isEmpty {
                s += "; converted \(conversions.count): " + conversions.map(\.description).joined(separator: "; ")
            }
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
        var converted: [String: Tensor] = [:]
        var notes: [WeightConversion.Note] = []
        for (name, tensor) in own {
            guard let shape = file.shape(of: name), !WeightConversion.isDerived(name) else {
                missing.append(name)
                continue
            }
            if shape != tensor.shape {
                if let (value, note) = WeightConversion.convert(
                    name: name, checkpoint: try file.tensor(name), to: tensor.shape)
                {
                    converted[name] = value
                    notes.append(note)
                    used += 1
                } else if tensor.requiresGrad {
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
        for (name, tensor) in own {
            if let value = converted[name] {
                tensor.assign(value)
            } else if file.shape(of: name) == tensor.shape {
                tensor.assign(try file.tensor(name))
            }
        }
        let ownNames = Set(own.map(\.0))
        return Report(
            path: path, loaded: used, missing: missing, skippedBuffers: skipped,
            ignored: file.names.filter { !ownNames.contains($0) }.count, conversions: notes)
    }
}
