import Foundation

/// Writes files to a temporary name beside the target and renames them into place.
public enum AtomicWrite {
    /// Writes `data` to `path` through `path.tmp-<pid>` and `rename(2)`, so a crash never leaves half a file.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
        } catch {
            throw FileError.cannotWrite(path: path, reason: ErrorText.file(error))
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError.cannotWrite(path: path, reason: "rename failed: \(reason)")
        }
    }

    /// Streams a file to `path` the same way: `fill` appends its bytes through the handle (gigabytes need not be
    /// held in memory), then the temporary file is renamed into place; on an error it is removed.
    public static func stream(to path: String, _ fill: (FileHandle) throws -> Void) throws {
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        guard FileManager.default.createFile(atPath: temporary, contents: nil) else {
            throw FileError.cannotWrite(path: path, reason: String(cString: strerror(errno)))
        }
        do {
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
            defer { try? handle.close() }
            try fill(handle)
            try handle.synchronize()
        } catch {
            unlink(temporary)
            // The system's errors become a one-line FileError; the caller's own typed errors pass through.
            let domain = (error as NSError).domain
            guard domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain else { throw error }
            throw FileError.cannotWrite(path: path, reason: ErrorText.file(error))
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw FileError.cannotWrite(path: path, reason: "rename failed: \(reason)")
        }
    }

    /// Removes the temporary files that `write` leaves in `directory` when a process is killed between writing and
    /// renaming (`NAME.tmp-<pid>` of other processes); returns their names.
    @discardableResult
    public static func removeLeftovers(in directory: String) -> [String] {
        let own = ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let stray = names.filter { name in
            guard let range = name.range(of: ".tmp-", options: .backwards), !name.hasSuffix(own) else { return false }
            let digits = name[range.upperBound...]
            return !digits.isEmpty && digits.allSatisfy(\.isNumber)
        }
        for name in stray { try? FileManager.default.removeItem(atPath: directory + "/" + name) }
        return stray
    }
}
