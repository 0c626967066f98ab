import FuRATrain
import Testing

@Suite struct ScheduleTests {
    @Test func linearWarmupThenDecayAsHF() {
        // 100 steps, warmup 0.03 ⇒ int(3.0) = 3 steps.
        let s = LearningRateSchedule(kind: .linear, peakLearningRate: 2e-4, warmup: .fraction(0.03), totalSteps: 100)
        #expect(s.warmupSteps == 3)
        #expect(s.learningRate(at: 0) == 0)
        #expect(abs(s.learningRate(at: 1) - 2e-4 / 3) < 1e-18)
        #expect(abs(s.learningRate(at: 2) - 2e-4 * 2 / 3) < 1e-18)
        #expect(s.learningRate(at: 3) == 2e-4)
        #expect(abs(s.learningRate(at: 50) - 2e-4 * 50 / 97) < 1e-18)
        #expect(abs(s.learningRate(at: 99) - 2e-4 / 97) < 1e-18)
        #expect(s.learningRate(at: 100) == 0)
    }

    @Test func fractionTruncatesLikePythonInt() {
        #expect(LearningRateSchedule.Warmup.fraction(0.03).steps(totalSteps: 31_932) == 957)
        #expect(LearningRateSchedule.Warmup.fraction(0.03).steps(totalSteps: 33) == 0)
        #expect(LearningRateSchedule.Warmup.fraction(0.03).steps(totalSteps: 10_645) == 319)
    }

    @Test func warmupParsing() throws {
        #expect(try LearningRateSchedule.Warmup(parsing: "0.03") == .fraction(0.03))
        #expect(try LearningRateSchedule.Warmup(parsing: "100") == .steps(100))
        #expect(try LearningRateSchedule.Warmup(parsing: "0") == .fraction(0))
        #expect(throws: TrainingError.self) { try LearningRateSchedule.Warmup(parsing: "2.5") }
        #expect(throws: TrainingError.self) { try LearningRateSchedule.Warmup(parsing: "-1") }
    }

    @Test func cosineAsHF() {
        let s = LearningRateSchedule(kind: .cosine, peakLearningRate: 1, warmup: .steps(10), totalSteps: 110)
        #expect(s.learningRate(at: 5) == 0.5)
        #expect(s.learningRate(at: 10) == 1)
        #expect(abs(s.learningRate(at: 60) - 0.5) < 1e-15)
        #expect(abs(s.learningRate(at: 35) - 0.5 * (1 + 0.7071067811865476)) < 1e-12)
        #expect(s.learningRate(at: 110) < 1e-15)
    }

    @Test func constantWithWarmup() {
        let s = LearningRateSchedule(kind: .constant, peakLearningRate: 3, warmup: .steps(4), totalSteps: 10)
        #expect(s.learningRate(at: 2) == 1.5)
        #expect(s.learningRate(at: 4) == 3)
        #expect(s.learningRate(at: 9) == 3)
    }
}
