import ArgumentParser
import Foundation
import FuRAEval
import FuRAFormats
import FuRATrain
import FuRAVision

/// `fura make-data`: writes a generated task in the LLM-Adapters format (for demos and smoke runs).
struct MakeDataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-data",
        abstract: "Write a generated true/false task, or a mix of data files, as LLM-Adapters JSON for `fura train` and `fura eval`.",
        discussion: """
        --task writes a generated task. --mix FILE (repeat) instead draws --count records from JSON-list data files, an \
        equal share from each, at random (--seed), shuffled: e.g. a commonsense training mix from LLM-Adapters' \
        boolq, ARC-Easy, ARC-Challenge and openbookqa files.
        """)

    @Option(help: "Task: \(SyntheticTask.allCases.map(\.rawValue).joined(separator: ", ")), or fashion-mnist (LLaVA image data: --output is a directory).")
    var task: String = SyntheticTask.parity.rawValue

    @Option(help: "Number of records.")
    var count: Int = 1000

    @Option(help: "Seed of the generator (different seeds give disjoint-looking splits).")
    var seed: UInt64 = 1

    @Option(name: .customLong("mix"), help: "A JSON-list data file to mix (repeat); replaces --task.")
    var mixFiles: [String] = []

    @Option(help: "fashion-mnist: the split, train or test.")
    var split: String = FashionMNIST.Split.train.rawValue

    @Option(help: "fashion-mnist: the questions asked, in turn: name, yesno, caption (comma-separated; default all three).")
    var questions: String = "name,yesno,caption"

    @Option(help: "fashion-mnist: the folder of the gzipped IDX files (Debian's dataset-fashion-mnist).")
    var fashionMnistDir: String = FashionMNIST.defaultDirectory

    @Option(help: "Output JSON file (fashion-mnist: a directory that receives data.json and images/).")
    var output: String

    func run() throws {
        if !mixFiles.isEmpty {
            do {
                try AtomicWrite.write(try SFTDataMix.mix(files: mixFiles, count: count, seed: seed), to: output)
            } catch let error as TrainingError {
                throw ValidationError(error.description)
            }
            print("wrote \(count) records mixed from \(mixFiles.count) files to \(output)")
            return
        }
        if task == "fashion-mnist" {
            guard let split = FashionMNIST.Split(rawValue: split) else { throw ValidationError("--split \(split): expected train or test") }
            let data = try FashionMNIST(split: split, directory: fashionMnistDir)
            let asked = try questions.split(separator: ",").map { name -> FashionMNISTInstructions.Question in
                guard let q = FashionMNISTInstructions.Question(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                    throw ValidationError("--questions \(questions): expected a comma-separated list of name, yesno, caption")
                }
                return q
            }
            let records = try FashionMNISTInstructions.write(data, split: split, count: count, seed: seed, questions: asked, to: output)
            print("wrote \(records.count) LLaVA records (\(split.rawValue) split) to \(output)/data.json and their images to \(output)/images/")
            return
        }
        guard let kind = SyntheticTask(rawValue: task) else {
            throw ValidationError("--task \(task) is unknown; use one of \(SyntheticTask.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
        let url = URL(fileURLWithPath: output)
        try kind.json(count: count, seed: seed).write(to: url, options: .atomic)
        print("wrote \(count) \(kind.rawValue) records to \(output)")
    }
}
