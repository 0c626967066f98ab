import ArgumentParser
import Foundation
import FuRAEval
import FuRAFormats
import FuRA
import FuRAModels
import FuRATrain

extension GenerateCommand {
    /// `--image FILE`: a greedy answer about one image, through a visual run's adapter (projector and, for stage 2, the
    /// language model's adapter), prompted with the adapter's conversation template.
    func runWithImage(_ image: String) throws {
        let settings = try imageOptions.settings(adapter: adapter)
        let (loaded, tokenizer) = try loadModelWithTokenizer(model, adapter: adaptsLanguageModel(adapter) ? adapter : nil, threads: threads,
                                                             purpose: "answering about an image")
        let sft = try sftTokenizer(tokenizer, model: model, purpose: "answering about an image")
        let setup = try MultimodalRunSetup(settings: settings, language: loaded.model, tokenizer: sft, seed: 0)
        let parts = try setup.data.prompt(question: prompt, imagePath: image)
        try setup.computeFeatures()
        let tokenized = try SFTExample(parts: parts).tokenized(with: sft, maxSeqLen: Int(Int32.max), trainOnInputs: true)
        let stop = tokenizer.turnEndIds
        let start = DispatchTime.now().uptimeNanoseconds
        let ids = try setup.model.greedy(ids: [tokenized.ids], spliced: tokenized.splicedRows(sequence: 0),
                                         maxNewTokens: sampling.maxTokens, stop: stop)[0]
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let text = tokenizer.decode(ids.filter { !stop.contains($0) }, skipSpecial: true)
        if json {
            let out = Output(promptIds: tokenized.ids, ids: ids, text: text, finishReason: ids.last.map(stop.contains) == true ? "eos" : "length",
                             tokensPerSecond: Double(ids.count) / max(seconds, 1e-9))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(out), as: UTF8.self))
        } else {
            print(text)
            FileHandle.standardError.write(Data(String(format: "[%d prompt rows (%d of them the image) + %d new tokens, greedy, %.1f tokens/s]\n",
                                                       tokenized.ids.count, tokenized.images.first?.count ?? 0, ids.count,
                                                       Double(ids.count) / max(seconds, 1e-9)).utf8))
        }
    }
}
