/// Every fine-tuning method, by name: the one place that lists them. Adding a method is its folder under
/// `Methods/` plus one line here.
public enum MethodRegistry {
    public static let methods: [any FineTuningMethod.Type] = [
        FuRAMethod.self, SVDMethod.self, LoRAMethod.self, DoRAMethod.self, PiSSAMethod.self, FullMethod.self,
        QFuRAMethod.self, QLoRAMethod.self, QDoRAMethod.self,
    ]

    /// The registered names, in order.
    public static var names: [MethodName] { methods.map { $0.name } }

    /// Which recipe's defaults fill unset settings.
    public enum Recipe: Sendable { case sft, rl }

    /// The type of `name`.
    public static func type(of name: MethodName) throws -> any FineTuningMethod.Type {
        guard let type = methods.first(where: { $0.name == name }) else {
            throw MethodError.unknownMethod(option: "method", value: name.rawValue, known: names.map(\.rawValue))
        }
        return type
    }

    /// The recipe values of `name`.
    public static func recipe(_ name: MethodName, _ recipe: Recipe) throws -> MethodRecipe {
        let type = try type(of: name)
        return recipe == .sft ? type.sftRecipe : type.rlRecipe
    }

    /// Builds and validates `name` from `settings`, its unset values taken from the method's `recipe` defaults.
    public static func make(_ name: MethodName, settings: MethodSettings, recipe: Recipe = .sft) throws -> any FineTuningMethod {
        let type = try type(of: name)
        let defaults = recipe == .sft ? type.sftRecipe.settings : type.rlRecipe.settings
        return try type.init(settings: settings.filled(from: defaults))
    }

    /// Rebuilds the method an adapter directory describes.
    public static func make(adapter: AdapterMethod) throws -> any FineTuningMethod {
        try type(of: adapter.method).init(adapter: adapter)
    }
}
