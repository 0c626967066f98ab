/// What happened on one question: enough to audit the score by hand (`--output`).
public struct EvalRecord: Codable, Equatable, Sendable {
    public var task: String
    public var index: Int
    public var prompt: String
    /// The generated completion, or the chosen candidate under the log-likelihood protocol.
    public var output: String
    /// The extracted answer ("" or nil when none was found).
    public var extracted: String?
    public var gold: String
    public var correct: Bool
    /// Log-likelihood protocol: the summed log-probability of each candidate, in `choices` order.
    public var scores: [Double]?
    /// Log-likelihood protocol: whether the byte-length-normalized choice is correct.
    public var correctNorm: Bool?

    enum CodingKeys: String, CodingKey {
        case task, index, prompt, output, extracted, gold, correct, scores
        case correctNorm = "correct_norm"
    }
}

/// The score of one task.
public struct TaskResult: Codable, Equatable, Sendable {
    public var task: String
    public var `protocol`: String
    public var n: Int
    public var correct: Int
    /// correct / n, in [0, 1].
    public var accuracy: Double
    /// Log-likelihood protocol: accuracy of the byte-length-normalized choice.
    public var accNorm: Double?

    enum CodingKeys: String, CodingKey {
        case task, `protocol`, n, correct, accuracy
        case accNorm = "acc_norm"
    }

    /// Aggregates the records of one task.
    public init(task: EvalTask, protocol evalProtocol: EvalProtocol, records: [EvalRecord]) {
        self.task = task.rawValue
        self.protocol = evalProtocol.rawValue
        n = records.count
        correct = records.filter(\.correct).count
        accuracy = n == 0 ? 0 : Double(correct) / Double(n)
        if evalProtocol == .loglikelihood {
            let normCorrect = records.filter { $0.correctNorm == true }.count
            accNorm = n == 0 ? 0 : Double(normCorrect) / Double(n)
        }
    }
}

/// Every task's score, their unweighted average, and the paper-style table.
public struct EvalSummary: Codable, Equatable, Sendable {
    public var tasks: [TaskResult]
    /// Unweighted mean of the task accuracies (Docs/tracks.md §3 "Avg").
    public var average: Double
    /// Unweighted mean of `acc_norm` when every task has one.
    public var averageNorm: Double?

    enum CodingKeys: String, CodingKey {
        case tasks, average
        case averageNorm = "average_norm"
    }

    public init(tasks: [TaskResult]) {
        self.tasks = tasks
        average = tasks.isEmpty ? 0 : tasks.map(\.accuracy).reduce(0, +) / Double(tasks.count)
        let norms = tasks.compactMap(\.accNorm)
        averageNorm = !tasks.isEmpty && norms.count == tasks.count ? norms.reduce(0, +) / Double(norms.count) : nil
    }

    /// The table of the paper: one column per task (display names) and "Avg", accuracies ×100 to one
    /// decimal; a second row for `acc_norm` when present.
    public func table(label: String = "model") -> String {
        let names = tasks.map { EvalTask(name: $0.task)?.displayName ?? $0.task } + ["Avg"]
        var rows: [[String]] = [[""] + names]
        rows.append([label] + (tasks.map(\.accuracy) + [average]).map(Self.percent))
        if let averageNorm {
            rows.append([label + " (norm)"] + (tasks.compactMap(\.accNorm) + [averageNorm]).map(Self.percent))
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func percent(_ x: Double) -> String {
        let tenths = (x * 1000).rounded()
        let whole = Int(tenths) / 10, frac = abs(Int(tenths) % 10)
        return "\(whole).\(frac)"
    }
}
