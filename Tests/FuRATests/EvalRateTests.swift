import Testing
@testable import FuRAEval

@Suite struct EvalRateTests {
    @Test func rateAndETAAreTimedFromEachTaskStart() {
        var rate = EvalRate()
        #expect(rate.line(EvalProgress(task: .boolq, done: 0, total: 100), now: 50) == "boolq: 0/100")
        #expect(rate.line(EvalProgress(task: .boolq, done: 20, total: 100), now: 60) == "boolq: 20/100  2.00 q/s  ETA 40s")
        #expect(rate.line(EvalProgress(task: .boolq, done: 25, total: 1000), now: 60) == "boolq: 25/1000  2.50 q/s  ETA 6m30s")
        // A new task restarts the clock.
        #expect(rate.line(EvalProgress(task: .piqa, done: 0, total: 9000), now: 70) == "piqa: 0/9000")
        #expect(rate.line(EvalProgress(task: .piqa, done: 1, total: 9000), now: 71) == "piqa: 1/9000  1.00 q/s  ETA 2h29m")
    }

    @Test func runnerReportsEveryTaskStartAndEnd() throws {
        var seen: [(String, Int, Int)] = []
        let suites = [EvalRunnerTests.suite(.boolq, 5), EvalRunnerTests.suite(.piqa, 3)]
        let generator = ForcedGenerator(answers: [])
        _ = try EvalRunner(evalProtocol: .generate, batchSize: 2).run(suites: suites, backends: EvalBackends(generator: generator)) {
            seen.append(($0.task.rawValue, $0.done, $0.total))
        }
        #expect(seen.map(\.1) == [0, 2, 4, 5, 0, 2, 3])
        #expect(seen.first?.0 == "boolq" && seen.last?.0 == "piqa")
    }
}
