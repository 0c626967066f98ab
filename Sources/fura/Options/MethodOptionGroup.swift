import Foundation
import ArgumentParser
import FuRA

/// The method and its options, shared by `fura train`, `grpo`, `plan` and `inspect` (one declaration, one help text).
/// Each value is checked when the command line is parsed, before any model is loaded.
struct MethodOptionGroup: ParsableArguments {
    @Option(help: ArgumentHelp("The fine-tuning method (default fura): \(MethodOptionGroup.methodList).", valueName: "name"))
    var method: String?
    @Option(help: "Projections to adapt, comma-separated: leaf names (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj), groups (qkv, o, mlp_upgate, mlp_down, attn, mlp) or all-linear. Every method but full honours it (default: all-linear; lora, dora, pissa: q_proj,k_proj,v_proj,up_proj,down_proj).")
    var targetModules: String?
    @Option(name: [.customLong("lora-rank"), .customLong("lora-r")], help: "LoRA family: rank r (default 64 for train, 32 for grpo; qlora 48).")
    var loraRank: Int?
    @Option(help: "LoRA family: alpha (default 128 for train, 32 for grpo; qlora 96).")
    var loraAlpha: Double?
    @Option(help: "LoRA family: dropout on the adapter input (default 0.05 for train, 0 for grpo).")
    var loraDropout: Double?
    @Flag(inversion: .prefixedNo, help: "LoRA family: scale by alpha/√r instead of alpha/r (PEFT use_rslora; default off).")
    var useRslora: Bool?
    @Option(help: "fura/qfura/svd: square | output_one_block | input_one_block (also output, input), or a per-group dict like {qkv:input,o:output} (default output_one_block).")
    var decompMode: String?
    @Option(help: "fura/qfura: per-block rank: full (default), a positive integer, or a fraction in (0, 1).")
    var rank: String?
    @Option(help: "fura/qfura: small (default) | large | both; svd: output (default) | input | both.")
    var trainPosition: String?
    @Option(help: "fura/qfura/svd: where the singular values go: \(SMergedTo.allCases.map(\.rawValue).joined(separator: " | ")) | none (default keep_trainable; svd frozen).")
    var sMergedTo: String?
    @Option(help: "fura/qfura: svd (default) | qr.")
    var convertMode: String?
    @Option(help: "fura/qfura: input factorization: head | closest | n,b, or a dict of group or leaf to spec (default: closest factor pair).")
    var inputFactorization: String?
    @Flag(inversion: .prefixedNo, help: "fura/qfura: head-aligned blocks for attention projections (default on).")
    var factorizeByHead: Bool?
    @Flag(inversion: .prefixedNo, help: "fura/qfura: renormalize the trainable cores after every update (default off).")
    var normalizeAfterUpdate: Bool?
    @Flag(inversion: .prefixedNo, help: "fura/qfura/svd: the biases of converted projections train (default on).")
    var trainBias: Bool?
    @Option(help: "qfura: NF4 layout of the frozen core: \(QFuRALayout.allCases.map(\.rawValue).joined(separator: " | ")) (default flat).")
    var quantBlockLayout: String?
    @Flag(name: .customLong("double-quant"), inversion: .prefixedNo, help: "qfura: double-quantize the NF4 absmax (default on).")
    var doubleQuant: Bool?

    static var methodList: String { MethodRegistry.names.map(\.rawValue).joined(separator: " | ") }

    /// The method keys given on the command line.
    var settings: MethodSettings {
        MethodSettings(loraRank: loraRank, loraAlpha: loraAlpha, loraDropout: loraDropout, useRslora: useRslora,
                       decompMode: decompMode, rank: rank, trainPosition: trainPosition, sMergedTo: sMergedTo,
                       convertMode: convertMode, inputFactorization: inputFactorization, targetModules: targetModules,
                       factorizeByHead: factorizeByHead, normalizeAfterUpdate: normalizeAfterUpdate, trainBias: trainBias,
                       quantBlockLayout: quantBlockLayout, doubleQuant: doubleQuant)
    }

    /// The given values as run-config keys (snake_case), for merging over a config file.
    var overrides: [String: Any] {
        var out = [String: Any]()
        if let method { out["method"] = method }
        let encoded = (try? JSONEncoderForOverrides.object(settings)) ?? [:]
        for (key, value) in encoded where !(value is NSNull) { out[key] = value }
        return out
    }

    /// Checks each given value on its own (the combination is checked again once a config file is merged in).
    func validate() throws {
        do {
            try settings.checkEachValue()
            if let method {
                // The flags alone must make a valid method (a config file may still add keys).
                _ = try MethodRegistry.make(try MethodName(parsing: method, option: "--method"), settings: settings)
            }
        } catch let error as ConversionError {
            throw ValidationError(error.description)
        } catch let error as MethodError {
            throw ValidationError(error.description)
        }
    }
}

/// Encodes a value's set keys as a JSON object (nil values left out).
enum JSONEncoderForOverrides {
    static func object<T: Encodable>(_ value: T) throws -> [String: Any] {
        let data = try JSONEncoder().encode(value)
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }
}
