import ArgumentParser
import Foundation
import FuRAFormats
import FuRAModels
import FuRATrain

/// `fura grpo --config FILE`: the file's keys are the flags' names in snake_case; a flag given on the
/// command line wins over the file, the file over the defaults; an unknown key is an error naming the
/// file and line.
extension GRPOCommand {
    /// Every key a config file may hold (the flags, snake_case).
    static let configKeys = [
        "model", "data", "task", "method", "target_modules", "train_position", "decomp_mode", "normalize_after_update",
        "lora_rank", "lora_alpha", "lora_dropout", "output", "steps", "prompts_per_step", "group_size", "max_new_tokens",
        "temperature", "top_p", "lr", "optimizer_betas", "max_grad_norm", "epochs_per_step", "micro_batch_size",
        "rollout_batch_size", "rollout_precision", "rollout_kv", "seed", "eval_data", "eval_every", "eval_limit", "save_every", "keep_checkpoints", "threads",
        "resume", "loss", "epsilon", "epsilon_high", "scale_rewards", "beta", "rewards", "reward_weights", "answer_mode",
    ]

    /// Fills every setting the command line left unset from `file`.
    mutating func merge(_ file: ConfigFile) throws {
        // Typed reads (`ConfigFile+Values`) name the file, line and key when a value has the wrong type.
        try file.checkKeys(Self.configKeys)
        let values = file
        for key in file.values.keys.sorted() {
            switch key {
            case "model": modelFlag = try modelFlag ?? values.string(key)
            case "data": data = try data ?? values.string(key)
            case "task": task = try task ?? values.string(key)
            case "method": methodFlag = try methodFlag ?? values.string(key)
            case "target_modules": targetModulesFlag = try targetModulesFlag ?? values.list(key)
            case "train_position": trainPosition = try trainPosition ?? values.string(key)
            case "decomp_mode": decompMode = try decompMode ?? values.string(key)
            case "normalize_after_update": normalizeAfterUpdateFlag = try normalizeAfterUpdateFlag ?? values.bool(key)
            case "lora_rank": loraRankFlag = try loraRankFlag ?? values.int(key)
            case "lora_alpha": loraAlphaFlag = try loraAlphaFlag ?? values.double(key)
            case "lora_dropout": loraDropoutFlag = try loraDropoutFlag ?? values.double(key)
            case "output": outputFlag = try outputFlag ?? values.string(key)
            case "steps": steps = try steps ?? values.int(key)
            case "prompts_per_step": promptsPerStep = try promptsPerStep ?? values.int(key)
            case "group_size": groupSize = try groupSize ?? values.int(key)
            case "max_new_tokens": maxNewTokens = try maxNewTokens ?? values.int(key)
            case "temperature": temperature = try temperature ?? values.double(key)
            case "top_p": topP = try topP ?? values.double(key)
            case "lr": lr = try lr ?? values.double(key)
            case "optimizer_betas": optimizerBetas = try optimizerBetas ?? values.list(key)
            case "max_grad_norm": maxGradNorm = try maxGradNorm ?? values.double(key, nullAs: 0)
            case "epochs_per_step": epochsPerStep = try epochsPerStep ?? values.int(key)
            case "micro_batch_size": microBatchSize = try microBatchSize ?? values.int(key)
            case "rollout_batch_size": rolloutBatchSize = try rolloutBatchSize ?? values.int(key)
            case "rollout_kv":
                if rolloutKv == nil, let raw = try values.string(key) {
                    guard let value = KVCache.Precision(rawValue: raw) else {
                        throw ValidationError("\(file.path): rollout_kv \(raw): expected f32 or f16")
                    }
                    rolloutKv = value
                }
            case "rollout_precision":
                if rolloutPrecision == nil, let raw = try values.string(key) {
                    guard let value = GenerationWeightPrecision(rawValue: raw) else {
                        throw ValidationError("\(file.path): rollout_precision \(raw): expected f32, bf16, q8 or bf16-compute")
                    }
                    rolloutPrecision = value
                }
            case "seed": seed = try seed ?? values.uint64(key)
            case "eval_data": evalData = try evalData ?? values.string(key)
            case "eval_every": evalEvery = try evalEvery ?? values.int(key)
            case "eval_limit": evalLimit = try evalLimit ?? values.int(key)
            case "save_every": saveEvery = try saveEvery ?? values.int(key)
            case "keep_checkpoints": keepCheckpoints = try keepCheckpoints ?? values.int(key)
            case "threads": threads = try threads ?? values.int(key)
            case "resume": configResume = try values.bool(key) ?? false
            case "loss": loss = try loss ?? values.string(key)
            case "epsilon": epsilon = try epsilon ?? values.double(key)
            case "epsilon_high": epsilonHigh = try epsilonHigh ?? values.double(key)
            case "scale_rewards": scaleRewards = try scaleRewards ?? values.string(key)
            case "beta": beta = try beta ?? values.double(key)
            case "rewards": rewardsFlag = try rewardsFlag ?? values.list(key)
            case "reward_weights": rewardWeights = try rewardWeights ?? values.list(key)
            case "answer_mode": answerModeFlag = try answerModeFlag ?? values.string(key)
            default: throw file.unknownKey(key, known: Self.configKeys)
            }
        }
    }

    /// The resolved settings under the config keys (written as `DIR/config.json`; `--config` reads it back).
    func resolvedSettings(_ o: GRPOOptions) -> [String: Any] {
        func orNull(_ v: Any?) -> Any { v ?? NSNull() }
        return [
            "model": model, "data": orNull(data), "task": orNull(task), "method": method, "target_modules": targetModules,
            "train_position": orNull(trainPosition), "decomp_mode": orNull(decompMode), "normalize_after_update": normalizeAfterUpdate,
            "lora_rank": loraRank, "lora_alpha": loraAlpha, "lora_dropout": loraDropout, "output": output, "steps": o.steps,
            "prompts_per_step": o.promptsPerStep, "group_size": o.groupSize, "max_new_tokens": o.maxNewTokens,
            "temperature": o.temperature, "top_p": o.topP, "lr": o.learningRate, "optimizer_betas": [o.adamW.beta1, o.adamW.beta2],
            "max_grad_norm": orNull(o.maxGradNorm), "epochs_per_step": o.epochsPerStep, "micro_batch_size": o.microBatchSize,
            "rollout_batch_size": o.rolloutBatchSize, "rollout_precision": o.rolloutPrecision.rawValue, "rollout_kv": o.rolloutKeyValuePrecision.rawValue, "seed": o.seed, "eval_data": orNull(evalData), "eval_every": o.evalEvery,
            "eval_limit": o.evalLimit, "save_every": o.saveEvery, "keep_checkpoints": o.keepCheckpoints, "threads": orNull(threads),
            "resume": resume, "loss": o.loss.kind.rawValue, "epsilon": o.loss.epsilon, "epsilon_high": orNull(o.loss.epsilonHigh),
            "scale_rewards": o.scaleRewards.rawValue, "beta": o.loss.beta, "rewards": rewards, "reward_weights": orNull(rewardWeights),
            "answer_mode": answerMode,
        ]
    }
}
