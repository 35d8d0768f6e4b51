import MixKit
import MixmaePluginHost

/// The backbone and optional neck a dense task's head stands on, built from
/// `model.backbone` and `model.neck`. A task whose inputs have their own sizes
/// (`needsAnySize`) needs a backbone that takes any size; otherwise the
/// backbone is checked against `data.img_size`.
///
/// ```swift
/// let trunk = try DenseTrunk(recipe: recipe, builder: builder, needsAnySize: "detection")
/// let head = try builder.detectionHead("fcos", params, context: trunk.headContext(classes: 80))
/// ```
struct DenseTrunk {
    let backbone: Backbone
    let neck: Neck?
    let imageSize: Int
    /// The maps the head reads: the neck's outputs, or the backbone's without a neck.
    let maps: [FeatureSpec]

    /// - Parameter needsAnySize: what needs inputs of any size (for the error), or nil
    ///   when inputs are `data.img_size` squares.
    init(recipe: TaskRecipe, builder: ComponentBuilder, needsAnySize: String? = nil) throws {
        let (backboneID, backboneParams) = try recipe.requiredComponent("backbone", for: "the encoder")
        let backbone = try recipe.building("backbone") { try builder.backbone(backboneID, backboneParams) }
        let capabilities = backbone.capabilities
        if let needsAnySize {
            guard capabilities.arbitraryInputSize else {
                throw recipe.issue(
                    at: "model.backbone.name",
                    "\(needsAnySize) feeds images of their own sizes (resized keeping their aspect, padded per batch) "
                        + "but backbone '\(backboneID)' takes only \(capabilities.imageSize)x\(capabilities.imageSize) "
                        + "inputs: choose a backbone that takes any size (such as swin)")
            }
        } else {
            let wanted = recipe.data.int("img_size")
            guard capabilities.imageSize == wanted else {
                throw recipe.issue(
                    at: "model.backbone.img_size",
                    "the backbone is built for \(capabilities.imageSize) px but data.img_size is \(wanted): set both to the same size"
                )
            }
        }
        let imageSize = capabilities.imageSize
        self.imageSize = imageSize
        self.backbone = backbone
        var maps = backbone.capabilities.outputs
        var neck: Neck? = nil
        if let choice = recipe.component("neck"), let params = choice.parameters {
            let inputs = maps
            let built = try recipe.building("neck") {
                try builder.neck(choice.id, params, context: BuildContext(inputs: inputs, imageSize: imageSize))
            }
            maps = built.outputs
            neck = built
        }
        self.neck = neck
        self.maps = maps
    }

    /// What a head is built against: the trunk's maps, the image size and the class count.
    func headContext(classes: Int) -> BuildContext {
        BuildContext(inputs: maps, imageSize: imageSize, numClasses: classes)
    }
}
