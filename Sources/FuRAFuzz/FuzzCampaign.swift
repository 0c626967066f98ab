/// A deterministic sample of mutations of one format's seeds run through its loader: what the test suite and
/// `fura-fuzz mutate` run (libFuzzer explores further from the same seeds).
public struct FuzzCampaign {
    public let format: FuzzFormat
    public private(set) var accepted = 0
    public private(set) var refused = 0
    /// A few refusal messages, for the record.
    public private(set) var sampleMessages: [String] = []

    public init(format: FuzzFormat) { self.format = format }

    /// Runs `cases` mutated inputs (seed `seed`); throws the first `FuzzFinding`.
    public mutating func run(cases: Int, seed: UInt64) throws {
        let seeds = try FuzzSeeds.seeds(format)
        let scratch = try FuzzScratch(tag: format.rawValue)
        defer { scratch.remove() }
        for input in seeds { try record(format.exercise(input, scratch: scratch), expectAccepted: true) }
        var mutator = Mutator(seed: seed)
        for _ in 0..<cases {
            let input = mutator.mutate(seeds[mutator.below(seeds.count)], text: format.isText)
            try record(format.exercise(input, scratch: scratch), expectAccepted: false)
        }
    }

    mutating func record(_ outcome: FuzzOutcome, expectAccepted: Bool) throws {
        switch outcome {
        case .accepted: accepted += 1
        case let .refused(message):
            if expectAccepted { throw FuzzFinding(format: format, problem: "a seed is refused: \(message)") }
            refused += 1
            if sampleMessages.count < 5 { sampleMessages.append(message) }
        }
    }
}
