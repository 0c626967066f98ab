import FuRAModels
import FuRANN

extension MethodName { public static let svd: MethodName = "svd" }

/// The SVD baseline: each targeted projection as U·diag(S)·Vᵀ with one factor (and S) training (Docs/methods.md §4).
public struct SVDMethod: ConvertingMethod {
    public static let name = MethodName.svd
    public static let help = "SVD: each projection as U·S·Vᵀ, one factor and the singular values train"
    public static var sftRecipe: MethodRecipe { MethodRecipe() }
    public static let adapterFormat = AdapterFormat.converted(quantized: false)
    public static var baseConversion: ConversionOptions { ConversionOptions(method: .svd) }
    public let conversion: ConversionOptions

    public init(conversion: ConversionOptions, quantization: QFuRAOptions?) throws {
        var options = conversion
        if options.method != .svd { options = ConversionOptions(method: .svd) }  // options written for FuRA: the SVD recipe
        try options.validate()
        self.conversion = options
    }

    /// Both factors packed in bf16 for the two products.
    public var bf16PackedCopies: Int { 2 }


    public func planModule(_ p: PlannedProjection) throws -> PlannedModule {
        if let module = try untouched(p) { return module }
        let position = try conversion.svdTrainPosition()
        let r = min(p.inFeatures, p.outFeatures)
        let target = SVDLayer.mergeTarget(conversion.sMergedTo, trainPosition: position)
        let a = p.outFeatures * r, b = r * p.inFeatures, s = target.keepsSingularValues ? r : 0
        let trainS = target == .keepTrainable
        let biasCount = p.hasBias ? p.outFeatures : 0
        let trainable = (position != .input ? a : 0) + (position != .output ? b : 0) + (trainS ? s : 0)
            + (conversion.trainBias ? biasCount : 0)
        return PlannedModule(trainable: trainable, frozen: a + b + s + biasCount - trainable)
    }

    /// train_position both also trains the embeddings and the head.
    public var nonProjectionTraining: NonProjectionTraining { (try? conversion.svdTrainPosition()) == .both ? .embeddingsAndHead : .none }
}
