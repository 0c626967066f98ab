import Foundation
import FuRAFormats

/// The output directory of a run, checked before minutes go into loading and converting a model.
public enum RunDirectory {
    /// Creates `path` (and its parents) and proves it writable with a small probe file; a read-only or foreign
    /// directory is a one-line error naming it.
    public static func prepare(_ path: String) throws {
        let probe = URL(fileURLWithPath: path).appendingPathComponent(".fura-write-probe-\(getpid())")
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try Data("ok\n".utf8).write(to: probe)
        } catch {
            throw TrainingError.writeFailed(path: path, reason: ErrorText.file(error))
        }
        try? FileManager.default.removeItem(at: probe)
    }
}
