import FuRAModels
import FuRANN

extension MethodName { public static let fura: MethodName = "fura" }

/// FuRA: every targeted projection factored losslessly into BTT cores, the small core and S train (Docs/factorization.md).
public struct FuRAMethod: ConvertingMethod {
    public static let name = MethodName.fura
    public static let help = "FuRA: lossless block tensor-train factorization, the small core and the singular values train"
    /// Docs/recipes.md §2: FuRA holds out 100 validation examples and never evaluates (`--load_last_model`).
    public static var sftRecipe: MethodRecipe { MethodRecipe(valSize: 100, evaluates: false) }
    public static var rlRecipe: MethodRecipe { MethodRecipe() }
    public static let adapterFormat = AdapterFormat.converted(quantized: false)
    public static var baseConversion: ConversionOptions { ConversionOptions(method: .fura) }
    public let conversion: ConversionOptions

    public init(conversion: ConversionOptions, quantization: QFuRAOptions?) throws {
        var options = conversion
        options.method = .fura
        try options.validate()
        self.conversion = options
    }


    public func planModule(_ p: PlannedProjection) throws -> PlannedModule {
        if let module = try untouched(p) { return module }
        return try bttModule(p).0
    }

    /// train_position both trains every weight (the reference's full-rank variant).
    public var nonProjectionTraining: NonProjectionTraining { (try? conversion.bttTrainPosition()) == .both ? .all : .none }
}
