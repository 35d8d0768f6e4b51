/// The binary contract between the host and a plugin library.
///
/// A plugin exports two C symbols. `mixmae_plugin_abi(void *stamp)` writes a
/// ``PluginStamp`` whose values were baked into the plugin when it was
/// compiled against this SDK; the host checks it before anything else.
/// `mixmae_plugin_register(void *registrar) -> int32_t` then adds the plugin's
/// components to the host's ``PluginRegistrar``. A plugin writes both with
/// the helpers here:
///
/// ```swift
/// @_cdecl("mixmae_plugin_abi")
/// public func mixmaePluginABI(_ stamp: UnsafeMutableRawPointer) {
///     PluginABI.writeStamp(to: stamp)
/// }
///
/// @_cdecl("mixmae_plugin_register")
/// public func mixmaePluginRegister(_ registrar: UnsafeMutableRawPointer) -> Int32 {
///     PluginRegistrar.register(into: registrar) { r in
///         r.add(MyBackbone.descriptor)
///     }
/// }
/// ```
public enum PluginABI {
    /// The C symbol of the stamp function.
    public static let stampSymbol = "mixmae_plugin_abi"
    /// The C symbol of the register function.
    public static let registerSymbol = "mixmae_plugin_register"

    /// SDK major version as the code that compiles this reads it: a plugin
    /// gets the value of the SDK it was built against. Bump on any breaking change.
    ///
    /// 2: no global generator (`Random` is gone); layers and `Init` take the
    /// model's ``RandomSource``, which ``BuildContext/rng`` carries.
    @_alwaysEmitIntoClient public static var sdkMajorAtBuild: Int64 { 2 }

    /// SDK minor version at build: bump on any change of the public API or layout.
    ///
    /// 2.1: detection ops (RoIAlign, anchors, box coder, IoU, NMS, assigners, samplers); F64 safetensors.
    /// 2.2: `BackboneCapabilities.arbitraryInputSize`; `bicubicResize` (PyTorch's bicubic kernel).
    /// 2.3: ``ComponentDescriptor/validate`` and ``ComponentPlan`` (cross-parameter checks and
    /// memory estimates without building weights). The descriptor grew a stored property:
    /// rebuild 2.1 and 2.2 plugins.
    /// 2.4: the `communicator` component kind (``Communicator``, ``CommunicatorDescriptor``,
    /// ``PluginRegistrar/add(communicator:)``). Additive: no layout a 2.3 plugin sees changed,
    /// so 2.3 plugins still load.
    /// 2.5: ``MaskTokenBackbone``, ``SingleImageDecoder``, ``MaskedReconstructionLoss`` (the
    /// SimMIM-style baseline, `mask.mode: mask_token`). New protocols only: no layout changed,
    /// so 2.3 plugins still load.
    /// 2.6: two-stage detection: component kinds `rpn` and `roi_head`, the protocols
    /// ``RegionProposalHead``, ``RoIBoxHead``, ``RoIMaskHead`` and the types
    /// ``DetectionImageShape``, ``InstanceMasks``, ``MaskPasting``. Additive: the instance masks
    /// reach the mask head as a parameter of its own, not as a field of ``DetectionTarget``
    /// (which every detection head receives), so no layout changed and 2.3 plugins still load.
    /// 2.7: ``Profiler/gemmWork(of:)`` and ``Profiler/GEMMWork`` (a GEMM count that leaves the
    /// thread's profile as it was), ``RoIExtractor``'s checking `init(levels:of:...)` (an RoI
    /// head's level, channel and stride checks), `FeatureMap.probe` (MixKitTesting) and
    /// ``GEMMKernels`` (which code multiplies GEMM blocks: MixKit's own SGEMM or OpenBLAS). New
    /// functions and types only: no layout changed, so 2.3 plugins still load.
    /// 2.8: ``Parallel/forEachPart(_:_:)``, ``Parallel/spinMicroseconds``, ``Parallel/backOffs`` and
    /// ``Parallel/summary`` (MixKit's own compute thread pool replaces GCD's `concurrentPerform`). New functions
    /// only: no layout changed, so 2.3 plugins still load.
    /// 2.9: ``Parallel/isBackingOff`` (the pool also stops spinning while /proc/loadavg shows other runnable
    /// threads). A new property only: 2.3 plugins still load.
    /// 2.10: ``AttentionSpans`` and the `spans:` overloads of ``multiHeadAttention(qkv:heads:scale:bias:spans:)``
    /// and ``MultiHeadAttention`` (attention within each group's run of tokens, skipping the pairs across
    /// groups). New functions and a new type only: 2.3 plugins still load.
    /// 2.11: ``Profiler/stepFinished()`` (forward-only steps in a profile). A new function only: 2.3 plugins
    /// still load.
    /// 2.12: ``mlp(_:fc1Weight:fc1Bias:fc2Weight:fc2Bias:adding:)``, ``linear(_:weight:bias:adding:)`` and the
    /// `adding:` overloads of ``Linear``, ``MLP`` and ``MultiHeadAttention`` (final, so no vtable changed): GELU and
    /// residual connections applied as the GEMMs compute each block. New functions only: 2.3 plugins still load.
    /// 2.13: ``OpsBenchmark/fmaPeak(threads:repetitions:)`` and ``OpsBenchmark/FMAPeak`` (the multiply-add peak
    /// `mixmae bench ops` reports). A new function and type only: 2.3 plugins still load.
    /// 2.14: ``MixingMask/unmix(_:height:width:)`` (MixMAE's unmixing in one op). A new function only: 2.3
    /// plugins still load.
    /// 2.15: ``HiddenTokenDecoder``, ``UnmixedReconstructionLoss`` and ``MixingMask/hiddenRows(batch:height:width:)``
    /// (training decodes only the tokens the loss reads). New protocols and a function only: 2.3 plugins still load.
    /// 2.16: ``relativePositionBias(table:window:order:)`` (Swin's relative-position bias for windows in any token
    /// order, in one op). A new function only: 2.3 plugins still load.
    /// 2.17: ``dropPathResidual(_:p:training:using:_:)`` (a residual branch with drop path, run on the samples
    /// it keeps only). A new function only: 2.3 plugins still load.
    /// 2.18: ``Tensor/indexAdd(axis:indices:source:alpha:)`` (PyTorch's `index_add`: drop path's residual
    /// connection in one op), ``layerNorm(_:samples:weight:bias:eps:)``, ``LayerNorm/callAsFunction(_:samples:)``
    /// and ``dropPathResidual(_:p:training:using:normalizedBy:_:)`` (a pre-norm branch reading the kept samples in
    /// place). New functions only (LayerNorm is final): 2.3 plugins still load.
    @_alwaysEmitIntoClient public static var sdkMinorAtBuild: Int64 { 18 }

    /// The Swift compiler that produced the SDK interface the code was built
    /// against, as `major * 10000 + minor * 100 + patch`.
    @_alwaysEmitIntoClient public static var compilerAtBuild: Int64 {
        #if compiler(>=6.4)
            return 60400
        #elseif compiler(>=6.3.1)
            return 60301
        #elseif compiler(>=6.3)
            return 60300
        #elseif compiler(>=6.2)
            return 60200
        #else
            return 60000
        #endif
    }

    /// The address of `Tensor`'s type metadata in the SDK copy the code links
    /// to. Equal in host and plugin only when both use the one shared libMixKit.so.
    @_alwaysEmitIntoClient public static var tensorMetadataAtBuild: UInt {
        UInt(bitPattern: unsafeBitCast(Tensor.self as Any.Type, to: Int.self))
    }

    /// Writes the stamp of the calling module to `out` (``PluginStamp/byteCount`` bytes).
    @_alwaysEmitIntoClient
    public static func writeStamp(to out: UnsafeMutableRawPointer) {
        PluginStamp(
            sdkMajor: sdkMajorAtBuild, sdkMinor: sdkMinorAtBuild, compiler: compilerAtBuild,
            tensorMetadata: tensorMetadataAtBuild
        ).write(to: out)
    }

    /// The stamp of the SDK that is running (the host's).
    public static func hostStamp() -> PluginStamp {
        PluginStamp(
            sdkMajor: sdkMajorAtBuild, sdkMinor: sdkMinorAtBuild, compiler: compilerAtBuild,
            tensorMetadata: tensorMetadataAtBuild)
    }
}

/// What a plugin was built with, in a fixed little layout of six 64-bit words.
public struct PluginStamp: Equatable, Sendable {
    /// "MIXMAE01" as a little-endian 64-bit word, so a foreign function is recognisable.
    public static let magic: UInt64 = 0x3130_4541_4D58_494D
    /// The size of the stamp in bytes.
    public static let byteCount = 48

    public var sdkMajor: Int64
    public var sdkMinor: Int64
    public var compiler: Int64
    public var tensorMetadata: UInt

    @inlinable
    public init(sdkMajor: Int64, sdkMinor: Int64, compiler: Int64, tensorMetadata: UInt) {
        self.sdkMajor = sdkMajor
        self.sdkMinor = sdkMinor
        self.compiler = compiler
        self.tensorMetadata = tensorMetadata
    }

    /// The compiler version as text, e.g. "6.3.1".
    public var compilerDescription: String {
        "\(compiler / 10000).\(compiler / 100 % 100).\(compiler % 100)"
    }

    @inlinable
    public func write(to out: UnsafeMutableRawPointer) {
        out.storeBytes(of: PluginStamp.magic, toByteOffset: 0, as: UInt64.self)
        out.storeBytes(of: 1, toByteOffset: 8, as: Int64.self)
        out.storeBytes(of: sdkMajor, toByteOffset: 16, as: Int64.self)
        out.storeBytes(of: sdkMinor, toByteOffset: 24, as: Int64.self)
        out.storeBytes(of: compiler, toByteOffset: 32, as: Int64.self)
        out.storeBytes(of: UInt64(tensorMetadata), toByteOffset: 40, as: UInt64.self)
    }

    /// Reads a stamp; nil when the magic word is missing (not a mixmae stamp).
    public static func read(from raw: UnsafeRawPointer) -> PluginStamp? {
        guard raw.load(fromByteOffset: 0, as: UInt64.self) == magic else { return nil }
        return PluginStamp(
            sdkMajor: raw.load(fromByteOffset: 16, as: Int64.self),
            sdkMinor: raw.load(fromByteOffset: 24, as: Int64.self),
            compiler: raw.load(fromByteOffset: 32, as: Int64.self),
            tensorMetadata: UInt(raw.load(fromByteOffset: 40, as: UInt64.self)))
    }
}

/// Collects the components a plugin registers. The host creates one per
/// library and passes it, opaque, to the library's register function.
public final class PluginRegistrar {
    public private(set) var components: [ComponentDescriptor] = []
    /// The communicators the plugin offers (kind `communicator`).
    public private(set) var communicators: [CommunicatorDescriptor] = []
    /// Why registration failed, when the plugin said so.
    public private(set) var failure: String?

    public init() {}

    /// Adds a component.
    public func add(_ descriptor: ComponentDescriptor) { components.append(descriptor) }

    /// Adds a communicator (a component of kind `communicator`).
    public func add(communicator descriptor: CommunicatorDescriptor) { communicators.append(descriptor) }

    /// Marks registration as failed with a reason the host shows.
    public func fail(_ reason: String) { failure = reason }

    /// An opaque pointer to pass to a plugin's register function (valid while `self` lives).
    public var opaquePointer: UnsafeMutableRawPointer { Unmanaged.passUnretained(self).toOpaque() }

    /// For a plugin's register function: runs `body` on the host's registrar and
    /// returns 0, or 1 when `body` throws or calls ``fail(_:)``.
    public static func register(
        into pointer: UnsafeMutableRawPointer, _ body: (PluginRegistrar) throws -> Void
    ) -> Int32 {
        let registrar = Unmanaged<PluginRegistrar>.fromOpaque(pointer).takeUnretainedValue()
        do {
            try body(registrar)
        } catch {
            registrar.fail("\(error)")
        }
        return registrar.failure == nil ? 0 : 1
    }
}
