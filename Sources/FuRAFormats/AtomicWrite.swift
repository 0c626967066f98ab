import Foundation

/// Writes files to a temporary name beside the target and renames them into place.
public enum AtomicWrite {
    /// Writes `data` to `path` through `path.tmp-<pid>` and `rename(2)`, so a crash never leaves half a file.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw FileError.cannotWrite(path: path, reason: "\(error.localizedDescription)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError.cannotWrite(path: path, reason: "rename failed: \(reason)")
        }
    }
}
