import MixKit
import MixmaeSupport

/// Where the host finds plugin components by id: the plugin catalog loaded
/// from `registry.yaml`.
public protocol ComponentProvider {
    /// The component `id` of `kind`; throws an error that lists the ids there are.
    func descriptor(_ id: String, kind: ComponentKind) throws -> ComponentDescriptor
}

/// Builds typed components from validated parameters, for one model: every
/// component it builds draws from the same generator, `rng` (passed to plugins
/// as ``BuildContext/rng``), whose state the training loop checkpoints.
public struct ComponentBuilder {
    public let provider: ComponentProvider
    /// The model's generator.
    public let rng: RandomSource

    public init(provider: ComponentProvider, rng: RandomSource) {
        self.provider = provider
        self.rng = rng
    }

    /// `context` with the model's generator.
    private func withGenerator(_ context: BuildContext) -> BuildContext {
        var context = context
        context.rng = rng
        return context
    }

    /// A backbone and what it declares.
    public func backbone(_ id: String, _ parameters: Parameters) throws -> Backbone {
        let d = try provider.descriptor(id, kind: .backbone)
        return try cast(d.build(parameters, BuildContext(rng: rng)), d, as: Backbone.self, "Backbone")
    }

    public func decoder(_ id: String, _ parameters: Parameters, context: BuildContext) throws
        -> ReconstructionDecoder
    {
        let d = try provider.descriptor(id, kind: .decoder)
        return try cast(
            d.build(parameters, withGenerator(context)), d, as: ReconstructionDecoder.self, "ReconstructionDecoder")
    }

    public func reconstructionLoss(_ id: String, _ parameters: Parameters) throws -> ReconstructionLoss {
        let d = try provider.descriptor(id, kind: .loss)
        return try cast(
            d.build(parameters, BuildContext(rng: rng)), d, as: ReconstructionLoss.self, "ReconstructionLoss")
    }

    public func classificationHead(_ id: String, _ parameters: Parameters, context: BuildContext) throws
        -> ClassificationHead
    {
        let d = try provider.descriptor(id, kind: .head)
        return try cast(
            d.build(parameters, withGenerator(context)), d, as: ClassificationHead.self, "ClassificationHead")
    }

    public func neck(_ id: String, _ parameters: Parameters, context: BuildContext) throws -> Neck {
        let d = try provider.descriptor(id, kind: .neck)
        return try cast(d.build(parameters, withGenerator(context)), d, as: Neck.self, "Neck")
    }

    public func detectionHead(_ id: String, _ parameters: Parameters, context: BuildContext) throws -> DetectionHead {
        let d = try provider.descriptor(id, kind: .head)
        return try cast(d.build(parameters, withGenerator(context)), d, as: DetectionHead.self, "DetectionHead")
    }

    public func segmentationHead(_ id: String, _ parameters: Parameters, context: BuildContext) throws
        -> SegmentationHead
    {
        let d = try provider.descriptor(id, kind: .head)
        return try cast(d.build(parameters, withGenerator(context)), d, as: SegmentationHead.self, "SegmentationHead")
    }

    /// The region proposal network of a two-stage detector.
    public func regionProposalHead(_ id: String, _ parameters: Parameters, context: BuildContext) throws
        -> RegionProposalHead
    {
        let d = try provider.descriptor(id, kind: .rpn)
        return try cast(
            d.build(parameters, withGenerator(context)), d, as: RegionProposalHead.self, "RegionProposalHead")
    }

    /// The RoI box head of a two-stage detector.
    public func roiBoxHead(_ id: String, _ parameters: Parameters, context: BuildContext) throws -> RoIBoxHead {
        let d = try provider.descriptor(id, kind: .roiHead)
        return try cast(d.build(parameters, withGenerator(context)), d, as: RoIBoxHead.self, "RoIBoxHead")
    }

    /// The RoI mask head of a two-stage detector.
    public func roiMaskHead(_ id: String, _ parameters: Parameters, context: BuildContext) throws -> RoIMaskHead {
        let d = try provider.descriptor(id, kind: .roiHead)
        return try cast(d.build(parameters, withGenerator(context)), d, as: RoIMaskHead.self, "RoIMaskHead")
    }

    private func cast<T>(_ module: Module, _ d: ComponentDescriptor, as: T.Type, _ name: String) throws -> T {
        guard let typed = module as? T else {
            throw ComponentMismatchError(
                id: d.id, kind: d.kind,
                problem: "its module \(type(of: module)) does not conform to \(name), which this task needs")
        }
        return typed
    }
}

/// A component was found but cannot serve where the recipe put it.
public struct ComponentMismatchError: UserFacingError {
    public var id: String
    public var kind: ComponentKind
    public var problem: String

    public var what: String { "\(kind) '\(id)': \(problem)" }
}
