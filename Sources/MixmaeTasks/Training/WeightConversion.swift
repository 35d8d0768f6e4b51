import MixKit

/// Converts a checkpoint tensor to the shape a model built at another window
/// or resolution expects, as the reference's `util/pos_embed.py`
/// (`interpolate_pos_embed`) does when finetuning at another size:
///
/// - a relative-position-bias table `[(2A-1)^2, heads]` to `[(2B-1)^2, heads]`
///   (`*relative_position_bias_table`), each head's `(2A-1)^2` plane resized
///   with PyTorch's bicubic kernel (``bicubicResize(_:height:width:)``);
/// - a square position table `[1, S*S, C]` to `[1, T*T, C]` (`absolute_pos_embed`,
///   `decoder_pos_embed`), the `S x S` grid resized the same way;
/// - `relative_position_index` is never loaded: the model derives its own.
///
/// Loading code calls ``convert(name:checkpoint:to:)`` for every tensor whose
/// shape differs from the model's; anything it does not recognise stays a
/// mismatch for the caller to report.
///
/// ```swift
/// if let (tensor, note) = WeightConversion.convert(name: name, checkpoint: stored, to: own.shape) {
///     own.assign(tensor); notes.append(note)
/// }
/// ```
public enum WeightConversion {
    /// One tensor converted while loading, for the initialisation report and the run's tags.
    public struct Note: Sendable, Equatable, CustomStringConvertible {
        public var name: String
        public var from: [Int]
        public var to: [Int]
        public var how: String

        public var description: String { "\(name) \(from) -> \(to) (\(how))" }
    }

    /// Checkpoint tensors the model rebuilds itself and must never load.
    public static func isDerived(_ name: String) -> Bool {
        name.hasSuffix("relative_position_index") || name.hasSuffix("attn_mask")
    }

    /// `checkpoint` resized to `shape`, or nil when `name` is not a table the
    /// reference resizes (or the shapes do not correspond, e.g. another head count).
    public static func convert(name: String, checkpoint: Tensor, to shape: [Int]) -> (Tensor, Note)? {
        if name.hasSuffix("relative_position_bias_table") {
            return resizeBiasTable(name: name, checkpoint, to: shape)
        }
        if name.hasSuffix("pos_embed") { return resizePositionTable(name: name, checkpoint, to: shape) }
        return nil
    }

    static func resizeBiasTable(name: String, _ table: Tensor, to shape: [Int]) -> (Tensor, Note)? {
        guard table.rank == 2, shape.count == 2, table.shape[1] == shape[1],
            let from = exactSquareRoot(table.shape[0]), let to = exactSquareRoot(shape[0])
        else { return nil }
        let heads = shape[1]
        let planes = table.transposed().reshaped([1, heads, from, from])
        let resized = bicubicResize(planes, height: to, width: to).reshaped([heads, to * to]).transposed()
        let note = Note(
            name: name, from: table.shape, to: shape,
            how: "bicubic \(from)x\(from) -> \(to)x\(to) per head: window \((from + 1) / 2) -> \((to + 1) / 2)")
        return (resized.copy(), note)
    }

    static func resizePositionTable(name: String, _ table: Tensor, to shape: [Int]) -> (Tensor, Note)? {
        guard table.rank == 3, shape.count == 3, table.shape[0] == 1, shape[0] == 1, table.shape[2] == shape[2],
            let from = exactSquareRoot(table.shape[1]), let to = exactSquareRoot(shape[1])
        else { return nil }
        let c = shape[2]
        let planes = table.reshaped([1, from, from, c]).permuted([0, 3, 1, 2])
        let resized = bicubicResize(planes, height: to, width: to).permuted([0, 2, 3, 1]).reshaped([1, to * to, c])
        let note = Note(name: name, from: table.shape, to: shape, how: "bicubic grid \(from)x\(from) -> \(to)x\(to)")
        return (resized.copy(), note)
    }

    static func exactSquareRoot(_ n: Int) -> Int? {
        let root = Int(Double(n).squareRoot().rounded())
        return root * root == n ? root : nil
    }
}

extension WeightConversion {
    /// `weights` (a whole-model checkpoint) with every table whose shape differs
    /// from `model`'s resized to the model's, and derived tensors dropped; the
    /// notes list what changed. Tensors it cannot convert are left for the
    /// model's strict loading to report.
    public static func fit(_ weights: [String: Tensor], to model: Module) -> (weights: [String: Tensor], notes: [Note])
    {
        var fitted = weights.filter { !isDerived($0.key) }
        var notes: [Note] = []
        for (name, own) in model.namedTensors() {
            guard let stored = fitted[name], stored.shape != own.shape,
                let (converted, note) = convert(name: name, checkpoint: stored, to: own.shape)
            else { continue }
            fitted[name] = converted
            notes.append(note)
        }
        return (fitted, notes.sorted { $0.name < $1.name })
    }
}
