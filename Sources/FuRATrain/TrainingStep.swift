import FuRATensor

/// One kind of training step, injected into `TrainingLoop`: supervised windows (`SFTStep`) or GRPO rollouts and
/// updates (`GRPOStep`). The loop owns the optimizer, the schedule, clipping, hooks, checkpoints and resume; a step
/// owns its forward/backward passes, its metrics and its evaluation.
public protocol TrainingStep: AnyObject {
    /// What the loop reports (`TrainingEvent`, `GRPOEvent`).
    associatedtype Event
    /// Runs step `step` (0-based): each pass calls `passes.begin()`, accumulates gradients, then `passes.update()`.
    /// Returns the step's event. `rng` is the run's checkpointed generator.
    func run(step: Int, totalSteps: Int, rng: inout RNG, passes: StepPasses) throws -> Event
    /// The evaluation due after `step` steps (`every`: the loop's cadence, nil or 0 for never), or nil.
    func evaluation(afterStep step: Int, isLast: Bool, every: Int?) throws -> Event?
    /// An evaluation before the first step of a fresh run, or nil.
    func initialEvaluation() throws -> Event?
    /// The position in the data after `steps` steps (checkpointed and checked on resume).
    func cursor(afterSteps steps: Int) -> DataCursor
    /// The event that says a checkpoint was written.
    static func checkpointEvent(step: Int, path: String) -> Event
}

extension TrainingStep {
    public func initialEvaluation() throws -> Event? { nil }
}

/// What a step may do with the loop's optimizer: start a pass (gradients zeroed), run its micro-batches (shared
/// over the processes, gradients combined in a fixed order) and finish it with one update (clipped, checked finite,
/// AdamW at the scheduled learning rate, the post-update hook).
public struct StepPasses {
    /// The figures of one update.
    public struct Update: Sendable {
        /// The global gradient norm before clipping.
        public var gradNorm: Double
        public var learningRate: Double
    }
    /// The scheduled learning rate of this step.
    public let learningRate: Double
    /// Runs a pass's micro-batches (calls the pre-micro-batch hook before each).
    public let microBatches: MicroBatchWindow
    public let begin: () throws -> Void
    /// One update; `final` marks the step's last, after which the step counts as done (a checkpoint taken from the
    /// post-update hook then holds this step).
    let updateWeights: (_ final: Bool) throws -> Update

    public init(learningRate: Double, microBatches: MicroBatchWindow, begin: @escaping () throws -> Void,
                update: @escaping (_ final: Bool) throws -> Update) {
        self.learningRate = learningRate; self.microBatches = microBatches; self.begin = begin; updateWeights = update
    }

    /// Runs one update (`final`: the step's last).
    public func update(final: Bool = true) throws -> Update { try updateWeights(final) }
}
