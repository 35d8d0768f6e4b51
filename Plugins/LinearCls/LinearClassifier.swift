import MixKit

/// Classification head of the MixMAE finetune: the average over tokens of the
/// backbone's last (normalised) feature map, then a linear layer `head`.
final class LinearClassifier: Module, ClassificationHead {
    let head: Linear

    static let schema: [ParameterSpec] = [
        .int("num_classes", default: 1000, range: 1...1_000_000, doc: "Classes; the task's dataset overrides it."),
        .float(
            "init_std", default: 2e-5, range: 0...1, doc: "Std of the truncated-normal init of head.weight (bias 0)."),
    ]

    init(_ p: Parameters, context: BuildContext) throws {
        guard let last = context.inputs.last else {
            throw ComponentConfigurationError(parameter: "head", problem: "needs the backbone's final feature map")
        }
        let classes = context.numClasses ?? p.int("num_classes")
        head = Linear(last.channels, classes, rng: context.rng)
        Init.truncatedNormal(head.weight, std: Float(p.float("init_std")), using: context.rng)
        Init.constant(head.bias!, 0)
        super.init()
    }

    func pooled(_ features: [FeatureMap]) -> Tensor {
        features.last!.tensor.mean(axes: [1])
    }

    func logits(_ features: [FeatureMap]) -> Tensor {
        head(pooled(features))
    }

    static let descriptor = ComponentDescriptor(
        id: "linear-cls", kind: .head, version: "1.0.0", license: "Apache-2.0",
        summary: "Average-pooled final features, then one linear layer (MixMAE finetune head)",
        parameters: schema,
        exampleContext: { _ in
            BuildContext(inputs: [FeatureSpec(stride: 32, channels: 64)], imageSize: 64, numClasses: 10)
        },
        validate: { params, context in
            guard let last = context.inputs.last else {
                throw ComponentConfigurationError(parameter: "head", problem: "needs the backbone's final feature map")
            }
            let classes = Double(context.numClasses ?? params.int("num_classes"))
            return ComponentPlan(parameterCount: Double(last.channels + 1) * classes, activationsPerImage: classes)
        },
        build: { params, context in try LinearClassifier(params, context: context) },
        probe: { module, _, context in
            let head = module as! LinearClassifier
            var rng = RandomGenerator(seed: 0)
            let channels = context.inputs.last!.channels
            let features = FeatureMap(
                tensor: Tensor.randomNormal([2, 4, channels], using: &rng), height: 2, width: 2, stride: 32)
            return crossEntropy(head.logits([features]), labels: [0, 1])
        })
}
