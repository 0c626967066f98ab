import Foundation
import FuRAModels
import FuRATensor
import FuRATrain
import Testing

/// A rank of a simulated world in one process: what it broadcasts as root is recorded; what another rank
/// broadcasts is replayed from that rank's earlier recording (so ranks run one after the other, no MPI).
final class ReplayCollective: Collective {
    let rank: Int, size: Int
    var recorded: [[Float]] = [], recordedValues: [[Double]] = []
    private var replay: [Int: (floats: [[Float]], doubles: [[Double]])]

    init(rank: Int, size: Int, replaying others: [ReplayCollective] = []) {
        self.rank = rank; self.size = size
        replay = Dictionary(uniqueKeysWithValues: others.map { ($0.rank, ($0.recorded, $0.recordedValues)) })
    }

    func broadcast(_ values: inout [Float], root: Int) throws {
        if root == rank { recorded.append(values); return }
        guard let next = replay[root]?.floats.first else { return }
        replay[root]!.floats.removeFirst()
        values = next
    }

    func broadcast(_ values: inout [Double], root: Int) throws {
        if root == rank { recordedValues.append(values); return }
        guard let next = replay[root]?.doubles.first else { return }
        replay[root]!.doubles.removeFirst()
        values = next
    }

    func finish() throws {}
}

@Suite struct MicroBatchWindowTests {
    @Test func sharesCoverTheWindowInRankOrder() {
        for count in 0...9 {
            for size in 1...4 {
                let shares = (0..<size).map { MicroBatchWindow.share(count: count, rank: $0, size: size) }
                #expect(shares.flatMap { Array($0) } == Array(0..<count), "count \(count), size \(size): \(shares)")
                #expect(shares.map(\.count).max()! - shares.map(\.count).min()! <= 1)
            }
        }
    }

    /// The window's gradient and loss after `SFTObjective` on one rank of `size` (ranks before it recorded first).
    static func window(size: Int) throws -> [(gradients: [[Float]], loss: Double)] {
        let window = try TrainFixture.dataset(batchSize: 2, accumulation: 5).window(forStep: 0)
        var ranks = [ReplayCollective]()
        // First pass: every rank records what it broadcasts; second pass: every rank replays the others'.
        for rank in 0..<size { ranks.append(ReplayCollective(rank: rank, size: size)); _ = try run(window, on: ranks[rank]) }
        return try (0..<size).map { rank in
            try run(window, on: ReplayCollective(rank: rank, size: size, replaying: ranks.filter { $0.rank != rank }))
        }
    }

    static func run(_ window: [TokenBatch], on collective: ReplayCollective) throws -> (gradients: [[Float]], loss: Double) {
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 4)
        let parameters = model.namedParameters.filter(\.parameter.trainable).map(\.parameter)
        var rng = RNG(seed: 1)
        let result = try SFTObjective().accumulate(model: model, window: window, rng: &rng,
                                                   microBatches: MicroBatchWindow(parameters: parameters, collective: collective))
        return (parameters.map { $0.gradient!.storage }, result.loss)
    }

    @Test func everyWorldSizeGivesTheOneProcessGradientBitForBit() throws {
        let one = try Self.window(size: 1)[0]
        #expect(one.gradients.contains { $0.contains { $0 != 0 } }, "the window has a gradient")
        for size in [2, 3, 5, 7] {
            for (rank, result) in try Self.window(size: size).enumerated() {
                let same = result.gradients == one.gradients
                let largest = zip(result.gradients.joined(), one.gradients.joined()).map { abs($0 - $1) }.max() ?? 0
                #expect(same, "\(size) processes, rank \(rank): largest difference \(largest)")
                #expect(result.loss.bitPattern == one.loss.bitPattern, "\(size) processes, rank \(rank)")
            }
        }
    }

    @Test func theFoldIsTheWindowsGradientSum() throws {
        let window = try TrainFixture.dataset(batchSize: 2, accumulation: 5).window(forStep: 0)
        let one = try Self.window(size: 1)[0]
        // The same window accumulated in place by the model's backward (one pass, no fold).
        let model = try BigramLM(vocabulary: 128, width: 8, seed: 4)
        let scale = Float(1 / Double(window.reduce(0) { $0 + $1.targetCount }))
        for batch in window { _ = try model.accumulateGradients(batch, lossScale: scale) }
        let inPlace = model.namedParameters.filter(\.parameter.trainable).map { $0.parameter.gradient!.storage }
        for (a, b) in zip(one.gradients, inPlace) {
            #expect(zip(a, b).map { abs($0 - $1) }.max()! <= 1e-6 * max(1, b.map(abs).max()!))
        }
    }
}
