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

    /// Text from a file as a message quotes it: on one line (control characters and line separators escaped, `\n`)
    /// and at most `limit` characters, so a corrupt file's megabyte "value" is not echoed whole.
    public static func shortened(_ text: String, limit: Int = 60) -> String {
        let visible = oneLine(text)
        return visible.count <= limit ? visible : visible.prefix(max(limit - 3, 1)) + "… (\(text.utf8.count) bytes)"
    }

    /// `text` with control characters and line or paragraph separators written as escapes.
    public static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isBreaking) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isBreaking(scalar) else { out.append(scalar); continue }
            switch scalar {
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            case "\r": out.append(contentsOf: "\\r".unicodeScalars)
            case "\t": out.append(contentsOf: "\\t".unicodeScalars)
            default: out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            }
        }
        return String(out)
    }

    static func isBreaking(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .lineSeparator, .paragraphSeparator: return true
        default: return scalar == "\u{85}"
        }
    }

    /// A `DecodingError` as "at KEY.PATH: what was wrong", without Swift's debug dump.
    public static func decoding(_ error: any Error) -> String {
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "" : "at " + path.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().drop { $0 == "." } + ": "
        }
        guard let error = error as? DecodingError else { return shortened("\(error)", limit: 300) }
        switch error {
        case let .typeMismatch(type, context): return at(context.codingPath) + "expected \(Self.kind(type))"
        case let .valueNotFound(type, context): return at(context.codingPath) + "expected \(Self.kind(type)), found null"
        case let .keyNotFound(key, context): return at(context.codingPath) + "the key \"\(shortened(key.stringValue))\" is missing"
        case let .dataCorrupted(context):
            let detail = (context.underlyingError.map(json) ?? context.debugDescription)
            return at(context.codingPath) + shortened(detail, limit: 200)
        @unknown default: return shortened("\(error)", limit: 300)
        }
    }

    static func kind(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "text"
        case is Bool.Type: return "true or false"
        case is Int.Type, is UInt64.Type, is Int64.Type, is UInt32.Type, is Int32.Type: return "a whole number"
        case is Double.Type, is Float.Type: return "a number"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "a list" }
            if name.hasPrefix("Dictionary") { return "a mapping" }
            return "a value of type \(name)"
        }
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
