import Foundation
import FuRAFormats
import FuRATensor

/// A training mix of several JSON-list data files (LLM-Adapters records, or any JSON objects): `count` records in
/// all, an equal share from each file (a file with fewer records gives them all and the rest comes from the others),
/// each file's records drawn at random without replacement, the whole mix shuffled. A pure function of the files and
/// `seed`, like LLM-Adapters' merged `commonsense_170k.json` but at the size a demo or a comparison needs.
public enum SFTDataMix {
    /// The mixed records, as a JSON array.
    public static func mix(files: [String], count: Int, seed: UInt64) throws -> Data {
        guard !files.isEmpty else { throw TrainingError.invalidOption(option: "mix", value: "(none)", reason: "give at least one data file") }
        guard count > 0 else { throw TrainingError.invalidOption(option: "count", value: "\(count)", reason: "must be positive") }
        var rng = RNG(seed: seed)
        var pools: [[Any]] = []
        for path in files {
            let data: Data
            do { data = try TextFileData.read(path) } catch {
                throw TrainingError.unreadableData(path: path, reason: ErrorText.file(error))
            }
            guard let array = (try? JSONSerialization.jsonObject(with: data)) as? [Any] else {
                throw TrainingError.unreadableData(path: path, reason: "expected a JSON list of records")
            }
            guard !array.isEmpty else { throw TrainingError.emptyData(path: path, reason: "the list is empty") }
            pools.append(SFTDataset.permutation(array.count, rng: &rng).map { array[$0] })
        }
        let available = pools.map(\.count).reduce(0, +)
        guard count <= available else {
            throw TrainingError.invalidOption(option: "count", value: "\(count)",
                                              reason: "the files hold \(available) records in all; ask for at most that")
        }
        // Equal shares; what a small file cannot give is spread over the others, round by round.
        var taken = Array(repeating: 0, count: pools.count)
        var left = count
        while left > 0 {
            let open = pools.indices.filter { taken[$0] < pools[$0].count }
            let share = max(1, left / open.count)
            for i in open where left > 0 {
                let take = min(share, pools[i].count - taken[i], left)
                taken[i] += take
                left -= take
            }
        }
        var mixed: [Any] = []
        for (pool, n) in zip(pools, taken) { mixed += pool.prefix(n) }
        let order = SFTDataset.permutation(mixed.count, rng: &rng)
        return try JSONSerialization.data(withJSONObject: order.map { mixed[$0] }, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
