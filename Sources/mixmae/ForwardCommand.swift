import ArgumentParser
import Foundation
import MixKit
import MixmaePluginHost
import MixmaeTasks

/// `mixmae forward --config C.json --weights W.safetensors --batch B.safetensors --out O.safetensors`
struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run the reference model once on a saved batch and write every output and gradient.",
        discussion: """
            Builds the model the reference implementation builds from config.json (its \
            hyper-parameter names: img_size, embed_dim, depths, num_heads, window_size, \
            decoder_dim, decoder_depth, decoder_num_heads, norm_pix_loss, num_classes, ...), \
            loads the weights by their reference names, runs one forward pass on the batch \
            (images, plus mask for pretraining or labels for finetuning) and, unless --no-grad, \
            a backward pass. Writes loss, features, reconstruction or logits, and grad.NAME for \
            every trainable parameter, in the layouts of the parity fixtures: the way to check \
            weights imported from PyTorch.
            """
    )

    @Option(help: "The model's hyper-parameters (JSON, reference names).") var config: String
    @Option(help: "Weights by reference name (safetensors, or a PyTorch .pth/.pt/.bin).") var weights: String
    @Option(help: "The key of the state dict in a PyTorch file (default: found in the usual places).") var key: String?
    @Option(help: "The batch: images, and mask or labels (safetensors).") var batch: String
    @Option(help: "Where to write the outputs (safetensors).") var out: String
    @Flag(help: "Forward only: no backward pass, no grad.* outputs.") var noGrad = false
    @OptionGroup var plugins: PluginRegistryOptions

    func run() throws {
        let catalog = try plugins.catalog()
        let reference = try ReferenceConfig(path: config, provider: catalog)
        let started = Date()
        let outputs = try ForwardRunner(
            config: reference, builder: ComponentBuilder(provider: catalog, rng: RandomSource(seed: 0))
        )
        .run(weights: weights, key: key, batch: batch, computeGradients: !noGrad)
        try SafeTensors.write(outputs, metadata: ["config": config, "kind": reference.kind.rawValue], to: out)
        let grads = outputs.keys.filter { $0.hasPrefix("grad.") }.count
        print(
            "\(reference.kind.rawValue): loss \(outputs["loss"]!.item()); wrote \(outputs.count) tensors (\(grads) gradients) to \(out) in \(String(format: "%.2f", Date().timeIntervalSince(started))) s"
        )
    }
}
