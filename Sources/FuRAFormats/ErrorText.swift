import Foundation

/// Foundation errors as one short clause for a message, never Foundation's `Error Domain=… UserInfo={…}` dump nor
/// "The operation could not be completed".
public enum ErrorText {
    /// A file-system error: the disk full or read-only said plainly with what to do, anything else as the system's
    /// own description ("No such file or directory").
    public static func file(_ error: any Error) -> String {
        if case let .cannotWrite(_, reason)? = error as? FileError { return reason }
        if case let .cannotOpen(_, reason)? = error as? FileError { return reason }
        let ns = error as NSError
        let posix = Self.posixCode(ns)
        switch posix {
        case ENOSPC, EDQUOT: return "the disk is full (no space left on the device); free some space or write elsewhere"
        case EROFS: return "the file system is read-only; write elsewhere"
        case EACCES, EPERM: return "permission denied; write to a folder you own"
        default: break
        }
        if let posix, let text = String(validatingCString: strerror(posix)) { return text }
        return ns.localizedDescription
    }

    /// A JSON parse error with where it happened, as `JSONSerialization` reports it ("Invalid value around line 1,
    /// column 7.").
    public static func json(_ error: any Error) -> String {
        let ns = error as NSError
        if let detail = ns.userInfo[NSDebugDescriptionErrorKey] as? String, !detail.isEmpty { return detail }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError { return json(underlying) }
        return ns.localizedDescription
    }

    /// The POSIX code behind a Foundation error (its own, or its underlying error's).
    static func posixCode(_ ns: NSError) -> Int32? {
        if ns.domain == NSPOSIXErrorDomain { return Int32(ns.code) }
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError { return posixCode(underlying) }
        switch ns.code {
        case NSFileWriteOutOfSpaceError: return ENOSPC
        case NSFileWriteVolumeReadOnlyError: return EROFS
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return EACCES
        case NSFileNoSuchFileError, NSFileReadNoSuchFileError: return ENOENT
        default: return nil
        }
    }
}
