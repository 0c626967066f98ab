import FuRAFuzz
import Testing

/// A deterministic sample of mutations of every input format through its loader (the regression net of
/// scripts/fuzz.sh): every input is accepted or refused with a typed one-line error, never a crash.
@Suite struct FuzzTests {
    @Test(arguments: FuzzFormat.allCases)
    func mutatedInputsGiveTypedOneLineErrors(format: FuzzFormat) throws {
        var campaign = FuzzCampaign(format: format)
        try campaign.run(cases: 300, seed: 20261204)
        #expect(campaign.accepted + campaign.refused == 300 + (try FuzzSeeds.seeds(format).count))
        // The mutations must reach the refusals, or the sample tests nothing.
        #expect(campaign.refused >= 30, "\(format.rawValue): only \(campaign.refused) of 300 mutations refused")
    }

    @Test func mutationsAreDeterministicAndChangeTheInput() {
        var a = Mutator(seed: 7), b = Mutator(seed: 7)
        let input = Array(#"{"lr": 0.0002, "name": "x"}"#.utf8)
        var changed = 0
        for _ in 0..<100 {
            let x = a.mutate(input, text: true), y = b.mutate(input, text: true)
            #expect(x == y)
            if x != input { changed += 1 }
        }
        #expect(changed >= 90)
    }
}
