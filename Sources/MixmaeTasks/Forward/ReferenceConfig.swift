import MixKit
import MixmaePluginHost
import MixmaeRecipes
import MixmaeSupport

/// A model configuration in the reference implementation's names (the
/// fixtures' `config.json`): `img_size`, `embed_dim`, `depths`, `num_heads`,
/// `window_size`, `decoder_*`, `norm_pix_loss`, `num_classes`, ...
///
/// JSON is read with the YAML parser (JSON is YAML), so every error points at
/// file:line:column; keys go to the component that owns them and are checked
/// against that component's schema.
///
/// ```swift
/// let config = try ReferenceConfig(path: "config.json", provider: catalog)
/// let model = try config.buildPretrainModel(with: ComponentBuilder(provider: catalog, rng: RandomSource(seed: 0)))
/// ```
public struct ReferenceConfig {
    /// Pretraining (`decoder_*` keys, a `mask` in the batch) or finetuning (`num_classes`, `labels`).
    public enum Kind: String, Sendable { case pretrain, finetune }

    public var path: String
    public var kind: Kind
    public var backbone: Parameters
    public var decoder: Parameters
    public var loss: Parameters
    public var head: Parameters
    public var numClasses: Int?
    /// The configuration itself, so that a component's complaint points at its key.
    let root: YAMLNode

    /// Component ids the reference configuration maps to.
    public static let backboneID = "swin"
    public static let decoderID = "vit-decoder"
    public static let lossID = "mix-reconstruction"
    public static let headID = "linear-cls"

    /// Keys that describe the batch or the run, not the model; accepted and not used.
    static let runKeys: Set<String> = ["kind", "batch", "masked_units", "mask_ratio", "range_mask_ratio", "model"]

    public init(path: String, provider: ComponentProvider) throws {
        self.path = path
        let root = try YAMLParser.parse(file: path)
        self.root = root
        guard let mapping = root.mapping else {
            throw RecipeValidationError(issues: [
                RecipeIssue(
                    .wrongType, at: root.mark, path: RecipePath(), message: "expected a JSON object of hyper-parameters"
                )
            ])
        }
        let backboneSchema = try provider.descriptor(Self.backboneID, kind: .backbone).parameters
        let decoderSchema = try provider.descriptor(Self.decoderID, kind: .decoder).parameters
        let lossSchema = try provider.descriptor(Self.lossID, kind: .loss).parameters
        let headSchema = try provider.descriptor(Self.headID, kind: .head).parameters

        // Route every key to the components whose schema has it (mlp_ratio and in_chans go to several).
        var sections: [String: YAMLMapping] = [
            "backbone": YAMLMapping(), "decoder": YAMLMapping(), "loss": YAMLMapping(), "head": YAMLMapping(),
        ]
        let schemas = ["backbone": backboneSchema, "decoder": decoderSchema, "loss": lossSchema, "head": headSchema]
        var issues: [RecipeIssue] = []
        let known = Set(schemas.values.flatMap { $0.map(\.name) }).union(Self.runKeys)
        for entry in mapping.entries {
            if Self.runKeys.contains(entry.key) { continue }
            let owners = schemas.filter { $0.value.contains { $0.name == entry.key } }.map(\.key)
            if owners.isEmpty {
                let close = Suggestions.closest(to: entry.key, among: Array(known))
                issues.append(
                    RecipeIssue(
                        .unknownKey, at: entry.keyMark, path: RecipePath([.key(entry.key)]),
                        message: "unknown hyper-parameter"
                            + (close.isEmpty
                                ? "" : "; did you mean \(close.map { "'\($0)'" }.joined(separator: " or "))?"),
                        suggestions: close))
            }
            for owner in owners { sections[owner]!.set(entry) }
        }
        func validate(_ name: String) -> Parameters {
            let result = ParameterValidator.validate(
                YAMLNode(.mapping(sections[name]!), mark: root.mark), against: schemas[name]!, at: RecipePath(),
                label: "the configuration")
            issues += result.issues
            return result.parameters
        }
        backbone = validate("backbone")
        decoder = validate("decoder")
        loss = validate("loss")
        head = validate("head")
        if !issues.isEmpty { throw RecipeValidationError(issues: issues) }
        numClasses = mapping["num_classes"] != nil ? head.int("num_classes") : nil
        let declared = mapping["kind"]?.scalar?.text
        if let declared, let k = Kind(rawValue: declared) {
            kind = k
        } else if declared != nil {
            throw RecipeValidationError(issues: [
                RecipeIssue(
                    .notAllowed, at: mapping["kind"]!.mark, path: RecipePath([.key("kind")]),
                    message: "kind must be 'pretrain' or 'finetune', found '\(declared!)'")
            ])
        } else {
            kind = numClasses != nil ? .finetune : .pretrain
        }
    }

    /// The encoder, decoder and loss the reference builds for pretraining.
    public func buildPretrainModel(with builder: ComponentBuilder) throws -> PretrainModel {
        try building {
            let backbone = try builder.backbone(Self.backboneID, self.backbone)
            let context = BuildContext(
                inputs: backbone.capabilities.outputs, imageSize: backbone.capabilities.imageSize)
            let decoder = try builder.decoder(Self.decoderID, self.decoder, context: context)
            let loss = try builder.reconstructionLoss(Self.lossID, self.loss)
            return PretrainModel(backbone: backbone, decoder: decoder, loss: loss)
        }
    }

    /// The encoder and classification head the reference builds for finetuning,
    /// with `numClasses` outputs when given (else the configuration's `num_classes`).
    public func buildClassifier(with builder: ComponentBuilder, numClasses: Int? = nil) throws -> ClassifierModel {
        try building {
            let backbone = try builder.backbone(Self.backboneID, self.backbone)
            let context = BuildContext(
                inputs: backbone.capabilities.outputs, imageSize: backbone.capabilities.imageSize,
                numClasses: numClasses ?? self.numClasses ?? head.int("num_classes"))
            let head = try builder.classificationHead(Self.headID, self.head, context: context)
            return ClassifierModel(backbone: backbone, head: head)
        }
    }

    /// Runs `body`; a ``ComponentConfigurationError`` (sizes that do not fit together)
    /// becomes an error at the file:line:column of the hyper-parameter it names.
    private func building<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as ComponentConfigurationError {
            let name = error.parameter.split(whereSeparator: { "[/".contains($0) }).first.map(String.init)
            let entry = root.mapping?.entries.first { $0.key == name }
            throw RecipeValidationError(issues: [
                RecipeIssue(
                    .outOfRange, at: entry?.keyMark ?? root.mark, path: RecipePath([.key(error.parameter)]),
                    message: error.problem)
            ])
        }
    }
}
