import MixKit
import MixmaePluginHost

/// The backbone and optional neck a dense task's head stands on, built from
/// `model.backbone` and `model.neck` and checked against `data.img_size`.
///
/// ```swift
/// let trunk = try DenseTrunk(recipe: recipe, builder: builder)
/// let head = try builder.detectionHead("fcos", params, context: trunk.headContext(classes: 80))
/// ```
struct DenseTrunk {
    let backbone: Backbone
    let neck: Neck?
    let imageSize: Int
    /// The maps the head reads: the neck's outputs, or the backbone's without a neck.
    let maps: [FeatureSpec]

    init(recipe: TaskRecipe, builder: ComponentBuilder) throws {
        let imageSize = recipe.data.int("img_size")
        self.imageSize = imageSize
        let (backboneID, backboneParams) = try recipe.requiredComponent("backbone", for: "the encoder")
        let backbone = try recipe.building("backbone") { try builder.backbone(backboneID, backboneParams) }
        guard backbone.capabilities.imageSize == imageSize else {
            throw recipe.issue(
                at: "model.backbone.img_size",
                "the backbone is built for \(backbone.capabilities.imageSize) px but data.img_size is \(imageSize): set both to the same size"
            )
        }
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
