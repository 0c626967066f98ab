#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file; unmapped when the object is released.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened from (for error messages).
    public let path: String
    /// The file's size in bytes.
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    /// Maps `path` read-only; throws `FileError` when it cannot be opened or mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FileError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw FileError.cannotOpen(path: path, reason: "not a regular file") }
        count = Int(info.st_size)
        if count == 0 {
            base = nil
            return
        }
        // SAFETY: a private read-only mapping of `count` bytes of an open regular file; unmapped in deinit.
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw FileError.cannotOpen(path: path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        base = mapped
    }

    deinit {
        // SAFETY: `base` was returned by mmap with exactly `count` bytes.
        if let base { munmap(base, count) }
    }

    /// The mapped bytes. Valid while this object is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// Tells the kernel that the pages wholly inside `range` (byte offsets) are not needed now: they leave this
    /// process's resident set (they stay in the page cache, and a later read maps them again). Reading a large file
    /// once, tensor by tensor, then keeps only what was made of it resident. The bytes read the same afterwards.
    public func dropPages(_ range: Range<Int>) {
        guard let base, !range.isEmpty, range.lowerBound >= 0, range.upperBound <= count else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (range.lowerBound + page - 1) / page * page, end = range.upperBound / page * page
        guard end > start else { return }
        // SAFETY: [start, end) is page-aligned and inside the mapping; MADV_DONTNEED on a private read-only file
        // mapping only drops pages, which fault back in from the file when read.
        _ = madvise(base + start, end - start, Int32(MADV_DONTNEED))
    }
}

/// Errors from opening and writing files.
public enum FileError: Error, CustomStringConvertible, Equatable {
    /// The file does not exist or cannot be read.
    case cannotOpen(path: String, reason: String)
    /// Writing (or renaming into place) failed.
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "cannot open '\(path)': \(reason)"
        case let .cannotWrite(path, reason): return "cannot write '\(path)': \(reason)"
        }
    }
}
