import MixKit

/// One batch from a data source: images `[B, C, H, W]` and what the task needs besides.
public struct Batch {
    public var images: Tensor
    /// Class labels, for classification.
    public var labels: [Int]
    /// Task-specific targets (boxes, label maps), opaque to the loop.
    public var targets: Any?

    public init(images: Tensor, labels: [Int] = [], targets: Any? = nil) {
        self.images = images
        self.labels = labels
        self.targets = targets
    }
}

/// A source of training batches whose order is fixed by (seed, epoch), so a
/// resumed run sees the same batches as an uninterrupted one.
public protocol BatchSource: AnyObject {
    /// Full batches per epoch (a last partial batch is dropped, as the reference does).
    var batchesPerEpoch: Int { get }
    /// The batches of `epoch`, skipping the first `skip` of them.
    func batches(epoch: Int, skip: Int) -> BatchIterator
}
