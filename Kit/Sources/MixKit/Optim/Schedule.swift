import Foundation

/// A learning rate as a function of training progress.
public protocol LearningRateSchedule {
    /// The learning rate at `epoch`, a fractional epoch (`step / stepsPerEpoch`).
    func learningRate(atEpoch epoch: Double) -> Double
}

/// Linear warmup from 0, then a half-cosine down to `minLR` at `epochs`,
/// evaluated per iteration, as the reference's `adjust_learning_rate`.
///
/// ```swift
/// let s = WarmupCosineSchedule(baseLR: 1e-3, minLR: 0, warmupEpochs: 5, epochs: 100)
/// s.learningRate(atEpoch: 2.5)  // 5e-4
/// ```
public struct WarmupCosineSchedule: LearningRateSchedule, Sendable {
    public var baseLR: Double
    public var minLR: Double
    public var warmupEpochs: Double
    public var epochs: Double

    public init(baseLR: Double, minLR: Double = 0, warmupEpochs: Double, epochs: Double) {
        self.baseLR = baseLR
        self.minLR = minLR
        self.warmupEpochs = warmupEpochs
        self.epochs = epochs
    }

    public func learningRate(atEpoch epoch: Double) -> Double {
        if epoch < warmupEpochs { return baseLR * epoch / warmupEpochs }
        let span = max(epochs - warmupEpochs, 1e-12)
        let t = min(max((epoch - warmupEpochs) / span, 0), 1)
        return minLR + (baseLR - minLR) * 0.5 * (1 + cos(Double.pi * t))
    }
}

/// Step decay: `baseLR * gamma^k` after the k-th milestone epoch, with optional linear warmup.
public struct StepSchedule: LearningRateSchedule, Sendable {
    public var baseLR: Double
    public var milestones: [Double]
    public var gamma: Double
    public var warmupEpochs: Double

    public init(baseLR: Double, milestones: [Double], gamma: Double = 0.1, warmupEpochs: Double = 0) {
        self.baseLR = baseLR
        self.milestones = milestones.sorted()
        self.gamma = gamma
        self.warmupEpochs = warmupEpochs
    }

    public func learningRate(atEpoch epoch: Double) -> Double {
        if epoch < warmupEpochs { return baseLR * epoch / warmupEpochs }
        let passed = milestones.filter { epoch >= $0 }.count
        return baseLR * pow(gamma, Double(passed))
    }
}

/// Polynomial decay to `minLR` (mmseg's `poly`), with optional linear warmup.
public struct PolySchedule: LearningRateSchedule, Sendable {
    public var baseLR: Double
    public var minLR: Double
    public var power: Double
    public var warmupEpochs: Double
    public var epochs: Double

    public init(baseLR: Double, minLR: Double = 0, power: Double = 1, warmupEpochs: Double = 0, epochs: Double) {
        self.baseLR = baseLR
        self.minLR = minLR
        self.power = power
        self.warmupEpochs = warmupEpochs
        self.epochs = epochs
    }

    public func learningRate(atEpoch epoch: Double) -> Double {
        if epoch < warmupEpochs { return baseLR * epoch / warmupEpochs }
        let t = min(max(epoch / max(epochs, 1e-12), 0), 1)
        return (baseLR - minLR) * pow(1 - t, power) + minLR
    }
}
