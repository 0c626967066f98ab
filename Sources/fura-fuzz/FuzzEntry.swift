import Foundation
import FuRAFuzz

// Built two ways. Plain (`swift build`): a command that writes the seed corpus, runs the deterministic mutation sample,
// or replays files (e.g. a crash libFuzzer saved). With `-DFUZZING -sanitize=fuzzer` (scripts/fuzz.sh): a libFuzzer
// target for the format named by FURA_FUZZ_FORMAT, run by libFuzzer's driver.

#if FUZZING
nonisolated(unsafe) var fuzzFormat = FuzzFormat.gguf
nonisolated(unsafe) var fuzzScratch: FuzzScratch?

/// libFuzzer's driver, called from our own `main` (SwiftPM names the executable's entry point, so libFuzzer's
/// `main` is not linked in).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
struct FuzzDriver {
    static func main() {
        let name = ProcessInfo.processInfo.environment["FURA_FUZZ_FORMAT"] ?? ""
        guard let format = FuzzFormat(rawValue: name) else {
            FileHandle.standardError.write(Data("set FURA_FUZZ_FORMAT to one of \(FuzzFormat.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(64)
        }
        fuzzFormat = format
        do { fuzzScratch = try FuzzScratch(tag: "libfuzzer") } catch {
            FileHandle.standardError.write(Data("fura-fuzz: \(error)\n".utf8))
            exit(1)
        }
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
            do {
                _ = try fuzzFormat.exercise(bytes, scratch: fuzzScratch!)
            } catch {
                fatalError("\(error)")  // a finding: libFuzzer saves the input
            }
            return 0
        })
    }
}
#else
@main
struct FuraFuzz {
    static let usage = """
    usage: fura-fuzz corpus DIR                      write the seeds of every format to DIR/<format>/
           fura-fuzz mutate FORMAT [CASES] [SEED]    run CASES (default 1000) mutations of FORMAT's seeds
           fura-fuzz replay FORMAT FILE...           run files through FORMAT's loader
    formats: \(FuzzFormat.allCases.map(\.rawValue).joined(separator: ", "))
    """

    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        do {
            switch (args.first, args.count) {
            case ("corpus", 2):
                for format in FuzzFormat.allCases {
                    let dir = args[1] + "/" + format.rawValue
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    for (i, seed) in try FuzzSeeds.seeds(format).enumerated() {
                        try Data(seed).write(to: URL(fileURLWithPath: "\(dir)/seed-\(i)"))
                    }
                }
            case ("mutate", 2...4):
                let format = try parse(args[1])
                var campaign = FuzzCampaign(format: format)
                try campaign.run(cases: args.count > 2 ? Int(args[2]) ?? 1000 : 1000, seed: args.count > 3 ? UInt64(args[3]) ?? 1 : 1)
                print("\(format.rawValue): \(campaign.accepted) accepted, \(campaign.refused) refused with a one-line error")
                for message in campaign.sampleMessages { print("  e.g. \(message.prefix(160))") }
            case ("replay", 3...):
                let format = try parse(args[1])
                let scratch = try FuzzScratch(tag: "replay")
                defer { scratch.remove() }
                for file in args.dropFirst(2) {
                    let outcome = try format.exercise(Array(try Data(contentsOf: URL(fileURLWithPath: file))), scratch: scratch)
                    print("\(file): \(outcome)")
                }
            default:
                print(usage)
                exit(64)
            }
        } catch {
            FileHandle.standardError.write(Data("fura-fuzz: \(error)\n".utf8))
            exit(1)
        }
    }

    static func parse(_ name: String) throws -> FuzzFormat {
        guard let format = FuzzFormat(rawValue: name) else {
            throw FuzzFinding(format: .gguf, problem: "unknown format \(name); \(usage)")
        }
        return format
    }
}
#endif
