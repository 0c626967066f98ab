import Foundation
import FuRATrain

/// Shows training events: one live line rewritten with `\r` on a terminal, plain lines otherwise.
final class TrainProgressDisplay {
    private let live = isatty(STDOUT_FILENO) != 0
    private var stepSeconds = 0.0
    private var stepsSeen = 0
    private var lineOpen = false

    func show(_ event: TrainingEvent) {
        switch event {
        case let .step(m):
            stepSeconds += m.seconds
            stepsSeen += 1
            let eta = stepSeconds / Double(stepsSeen) * Double(m.totalSteps - m.step)
            let line = String(format: "step %d/%d  loss %.4f  lr %.3e  %.0f tok/s  grad %.3f  ETA %@  peak %@",
                              m.step, m.totalSteps, m.loss, m.learningRate, m.tokensPerSecond, m.gradNorm,
                              Self.duration(eta), Self.bytes(m.peakRSSBytes))
            if live {
                FileHandle.standardOutput.write(Data(("\r" + line + "\u{1B}[K").utf8))
                lineOpen = true
            } else {
                print(line)
            }
        case let .evaluation(step, loss):
            closeLine()
            print(String(format: "step %d  validation loss %.4f", step, loss))
        case let .checkpoint(step, path):
            closeLine()
            print("step \(step)  checkpoint \(path)")
        }
    }

    func finish() { closeLine() }

    private func closeLine() {
        if lineOpen { print(""); lineOpen = false }
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60) : String(format: "%dm%02ds", s / 60, s % 60)
    }

    static func bytes(_ n: Int) -> String {
        n >= 1 << 30 ? String(format: "%.2f GiB", Double(n) / Double(1 << 30)) : String(format: "%.0f MiB", Double(n) / Double(1 << 20))
    }
}
