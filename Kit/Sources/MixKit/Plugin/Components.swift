/// What a plugin component is for; the host puts it in the matching slot of a recipe.
///
/// A two-stage detector (Mask R-CNN) fills three more slots: a region proposal
/// network (`rpn`) and RoI heads (`roi_head`: the box head and the mask head).
public enum ComponentKind: String, Sendable, CaseIterable, CustomStringConvertible {
    case backbone, neck, decoder, loss, head
    /// Collective communication between the processes of one run (``CommunicatorDescriptor``).
    case communicator
    /// A two-stage detector's region proposal network (``RegionProposalHead``).
    case rpn
    /// A two-stage detector's RoI box or mask head (``RoIBoxHead``, ``RoIMaskHead``).
    case roiHead = "roi_head"
    public var description: String { rawValue }
}

/// One feature map a component emits or consumes: its stride from the input
/// image and its channel count.
public struct FeatureSpec: Sendable, Equatable, CustomStringConvertible {
    public var stride: Int
    public var channels: Int

    public init(stride: Int, channels: Int) {
        self.stride = stride
        self.channels = channels
    }

    public var description: String { "stride \(stride), \(channels) channels" }
}

/// What a backbone declares about itself for a given set of parameters.
public struct BackboneCapabilities: Sendable, Equatable {
    /// The feature maps it emits, in output order.
    public var outputs: [FeatureSpec]
    /// Whether it supports MixMAE mixing (per-stage token grouping in attention).
    public var supportsMixing: Bool
    /// The input it expects: channels, and the square image size its position
    /// tables are defined for.
    public var inputChannels: Int
    public var imageSize: Int
    /// Whether it takes images of any height and width (not only `imageSize`
    /// square): dense tasks at the sizes the field uses need it.
    public var arbitraryInputSize: Bool

    public init(
        outputs: [FeatureSpec], supportsMixing: Bool, inputChannels: Int, imageSize: Int,
        arbitraryInputSize: Bool = false
    ) {
        self.outputs = outputs
        self.supportsMixing = supportsMixing
        self.inputChannels = inputChannels
        self.imageSize = imageSize
        self.arbitraryInputSize = arbitraryInputSize
    }
}

/// What the host knows when it builds a component: what feeds it, and the
/// model's generator.
///
/// ```swift
/// build: { params, context in
///     let fc = Linear(context.inputs.last!.channels, 10, rng: context.rng)
///     Init.truncatedNormal(fc.weight, std: 0.02, using: context.rng)
///     return MyHead(fc)
/// }
/// ```
public struct BuildContext: Sendable {
    /// The feature maps feeding this component (a backbone's or a neck's outputs).
    public var inputs: [FeatureSpec]
    /// The square input image size in pixels.
    public var imageSize: Int
    /// Classes of the task (heads), if any.
    public var numClasses: Int?
    /// The model's generator, shared by every component of one model: draw the
    /// initial weights from it while building, and keep it in the modules that
    /// draw in forward (dropout, drop path). The host seeds it from the recipe
    /// and saves its state with every checkpoint, so that a resumed run draws
    /// what an uninterrupted one would. It replaces whatever a descriptor's
    /// ``ComponentDescriptor/exampleContext`` put here.
    public var rng: RandomSource

    /// A context; `rng` defaults to a fresh generator seeded with 0 (the host
    /// always passes the model's).
    public init(
        inputs: [FeatureSpec] = [], imageSize: Int = 224, numClasses: Int? = nil,
        rng: RandomSource = RandomSource(seed: 0)
    ) {
        self.inputs = inputs
        self.imageSize = imageSize
        self.numClasses = numClasses
        self.rng = rng
    }
}

/// What a component's parameters amount to, worked out by its
/// ``ComponentDescriptor/validate`` without building any weights: the host
/// checks that a recipe fits in memory before it allocates anything, and
/// feeds ``outputs`` to the components that consume them.
///
/// ```swift
/// ComponentPlan(parameterCount: 28e6, activationsPerImage: 3.2e7, outputs: config.capabilities.outputs)
/// ```
public struct ComponentPlan: Sendable, Equatable {
    /// Trainable float32 values (weights); an estimate is fine.
    public var parameterCount: Double
    /// Float32 values one image keeps alive through forward and backward; an estimate.
    public var activationsPerImage: Double
    /// The feature maps the component emits (backbones and necks), when known.
    public var outputs: [FeatureSpec]?

    public init(parameterCount: Double = 0, activationsPerImage: Double = 0, outputs: [FeatureSpec]? = nil) {
        self.parameterCount = parameterCount
        self.activationsPerImage = activationsPerImage
        self.outputs = outputs
    }
}

/// A plugin component: identity, typed parameters, and how to build and probe it.
///
/// ```swift
/// ComponentDescriptor(
///     id: "swin", kind: .backbone, version: "1.0.0", license: "Apache-2.0",
///     summary: "Swin transformer without shifted windows, for MixMAE",
///     parameters: SwinBackbone.schema,
///     capabilities: { SwinBackbone.capabilities($0) },
///     build: { params, context in SwinBackbone(params, rng: context.rng) },
///     probe: { module, params, context in ... }
/// )
/// ```
public struct ComponentDescriptor {
    public var id: String
    public var kind: ComponentKind
    public var version: String
    public var license: String
    public var summary: String
    public var parameters: [ParameterSpec]
    /// For backbones: what it emits for the given parameters.
    public var capabilities: ((Parameters) -> BackboneCapabilities)?
    /// Runs every cross-parameter check ``build`` would (throwing the same
    /// ``ComponentConfigurationError``) without building weights, and says
    /// what the component needs: `mixmae recipe check` calls it, so that
    /// `recipe check` and `train` agree. The context is the one `build` gets
    /// (inputs, image size), without a generator. Nil: only `build` checks. (SDK 1.2)
    public var validate: ((Parameters, BuildContext) throws -> ComponentPlan)?
    /// Builds the component from validated parameters (defaults filled in),
    /// drawing its initial weights from the context's ``BuildContext/rng``.
    public var build: (Parameters, BuildContext) throws -> Module
    /// A context to build the component on its own (for `plugins check`), when
    /// it consumes other components' outputs.
    public var exampleContext: (Parameters) -> BuildContext
    /// Runs a forward pass on a deterministic dummy input of the declared shape
    /// and returns a scalar, for `plugins check` (forward, backward, finite differences).
    public var probe: (Module, Parameters, BuildContext) -> Tensor

    public init(
        id: String, kind: ComponentKind, version: String, license: String, summary: String,
        parameters: [ParameterSpec], capabilities: ((Parameters) -> BackboneCapabilities)? = nil,
        exampleContext: @escaping (Parameters) -> BuildContext = { _ in BuildContext() },
        validate: ((Parameters, BuildContext) throws -> ComponentPlan)? = nil,
        build: @escaping (Parameters, BuildContext) throws -> Module,
        probe: @escaping (Module, Parameters, BuildContext) -> Tensor
    ) {
        self.id = id
        self.kind = kind
        self.version = version
        self.license = license
        self.summary = summary
        self.parameters = parameters
        self.capabilities = capabilities
        self.exampleContext = exampleContext
        self.validate = validate
        self.build = build
        self.probe = probe
    }
}

/// A component's parameters are fine by type and range but do not fit together
/// (for example a window that does not divide its stage's grid).
public struct ComponentConfigurationError: Error, CustomStringConvertible {
    /// The parameter at fault, as the recipe names it.
    public var parameter: String
    public var problem: String

    public init(parameter: String, problem: String) {
        self.parameter = parameter
        self.problem = problem
    }

    public var description: String { "\(parameter): \(problem)" }
}

// MARK: - Component protocols

/// A feature map as tokens: `tensor` is `[B, height * width, channels]`, row-major over the grid.
public struct FeatureMap {
    public var tensor: Tensor
    public var height: Int
    public var width: Int
    public var stride: Int

    public init(tensor: Tensor, height: Int, width: Int, stride: Int) {
        self.tensor = tensor
        self.height = height
        self.width = width
        self.stride = stride
    }

    public var channels: Int { tensor.shape.last ?? 0 }

    /// The map as `[B, C, H, W]` (a copy).
    public func nchw() -> Tensor {
        tensor.reshaped([tensor.shape[0], height, width, channels]).permuted([0, 3, 1, 2])
    }
}

/// An image encoder that emits one or more feature maps.
public protocol Backbone: Module {
    /// Feature maps for `images` `[B, C, H, W]`, one per declared output. With
    /// `mixing`, the backbone mixes image i with image B-1-i after its patch
    /// embedding and keeps attention within each source image.
    func features(_ images: Tensor, mixing: MixingMask?) -> [FeatureMap]
    /// What it emits and supports.
    var capabilities: BackboneCapabilities { get }
    /// For layer-wise learning-rate decay: the depth index of a parameter (0 =
    /// closest to the input) and the number of such indices.
    func layerIndex(ofParameter name: String) -> Int
    var layerCount: Int { get }
}

/// MixMAE's decoder: reconstructs both source images of a mixed batch.
public protocol ReconstructionDecoder: Module {
    /// `latent` `[B, L, C]` (final-stage tokens) to `[2B, L, P]`: rows 0..<B keep the
    /// mask=0 tokens and fill the rest with the mask token; rows B..<2B the reverse.
    func reconstruct(_ latent: Tensor, mixing: MixingMask) -> Tensor
    /// Pixels predicted per token side (the backbone's final stride, 32).
    var patchSize: Int { get }
}

/// MixMAE's loss over the two reconstructions.
public protocol ReconstructionLoss: Module {
    /// The loss of `reconstruction` `[2B, L, P*P*C]` against `images` `[B, C, H, W]`.
    func loss(images: Tensor, reconstruction: Tensor, mixing: MixingMask, patchSize: Int) -> Tensor
    /// True when targets are per-patch normalised pixels, so that pictures of
    /// the reconstruction must undo it with each patch's mean and variance.
    var normalizesTargets: Bool { get }
}

/// A classification head: features to logits `[B, classes]`.
public protocol ClassificationHead: Module {
    func logits(_ features: [FeatureMap]) -> Tensor
    /// The pooled feature vector `[B, C]` the logits come from.
    func pooled(_ features: [FeatureMap]) -> Tensor
}

/// A neck: feature maps to feature maps (an FPN).
public protocol Neck: Module {
    func callAsFunction(_ features: [FeatureMap]) -> [FeatureMap]
    /// What it emits for the given inputs.
    var outputs: [FeatureSpec] { get }
}
