import MixKit
import MixmaePluginHost

/// Composes a two-stage detector from a recipe (mmdetection's `MaskRCNN`):
/// `model.backbone`, `model.neck` (an FPN), `model.rpn`, `model.roi_box` and,
/// for masks, `model.roi_mask`; each a plugin of its kind, so a third-party
/// plugin can replace any one of them.
///
/// ```yaml
/// model:
///   neck: {name: fpn, start_level: 0, add_extra_convs: none}
///   rpn: {name: rpn}
///   roi_box: {name: roi-box}
///   roi_mask: {name: roi-mask}
/// ```
enum TwoStageSetup {
    static func buildModel(recipe: TaskRecipe, builder: ComponentBuilder, classes: Int) throws
        -> TwoStageDetectorModel
    {
        if recipe.component("head") != nil {
            throw recipe.issue(
                at: "model.head",
                "a two-stage detector (model.rpn, model.roi_box, model.roi_mask) has no dense head: remove model.head, "
                    + "or remove the two-stage slots to train the dense head")
        }
        let (rpnID, rpnParams) = try recipe.requiredComponent(
            "rpn", for: "the region proposal network of a two-stage detector, e.g. name: rpn")
        let (boxID, boxParams) = try recipe.requiredComponent(
            "roi_box", for: "the RoI box head of a two-stage detector, e.g. name: roi-box")
        let trunk = try DenseTrunk(recipe: recipe, builder: builder, needsAnySize: "detection")
        let context = trunk.headContext(classes: classes)
        let rpn = try recipe.building("rpn") { try builder.regionProposalHead(rpnID, rpnParams, context: context) }
        let boxHead = try recipe.building("roi_box") { try builder.roiBoxHead(boxID, boxParams, context: context) }
        var maskHead: RoIMaskHead?
        if let choice = recipe.component("roi_mask"), let params = choice.parameters {
            maskHead = try recipe.building("roi_mask") { try builder.roiMaskHead(choice.id, params, context: context) }
        }
        return TwoStageDetectorModel(
            backbone: trunk.backbone, neck: trunk.neck, rpn: rpn, boxHead: boxHead, maskHead: maskHead)
    }
}
