import Foundation
import Testing
@testable import FuRAEval

@Suite struct SyntheticTaskTests {
    @Test func recordsAreBalancedCorrectAndReproducible() throws {
        for task in SyntheticTask.allCases {
            let records = task.records(count: 200, seed: 5)
            #expect(records == task.records(count: 200, seed: 5))
            #expect(records != task.records(count: 200, seed: 6))
            #expect(records.filter { $0.answer == "true" }.count == 100)
            for r in records {
                #expect(r.output == "the correct answer is \(r.answer)")
                let numbers = r.instruction.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
                switch task {
                case .parity: #expect((numbers[0] % 2 == 0) == (r.answer == "true"))
                case .compare: #expect((numbers[0] > numbers[1]) == (r.answer == "true"))
                case .animal:
                    let word = r.instruction.components(separatedBy: "Is a ")[1].components(separatedBy: " an animal")[0]
                    #expect(SyntheticTask.animals.contains(word) == (r.answer == "true"))
                    #expect(SyntheticTask.animals.contains(word) != SyntheticTask.objects.contains(word))
                }
            }
        }
    }

    @Test func generatedFileLoadsAsABoolQSuite() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UInt32.random(in: 0...UInt32.max)).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try SyntheticTask.parity.json(count: 10, seed: 1).write(to: url)
        let examples = try EvalData.load(path: url.path, task: .boolq)
        #expect(examples.count == 10)
        #expect(examples.allSatisfy { $0.gold == "true" || $0.gold == "false" })
    }
}
