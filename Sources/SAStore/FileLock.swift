import Foundation
import SACommon

/// An exclusive `flock` on a file, taken without waiting. The kernel releases it when the
/// holder dies, kill -9 included, so a crashed process never blocks the next one. The one lock
/// primitive of the toolkit: show locks (recording), sync locks of SQLite receiver stores and
/// export locks all use it, each with its own file name (see `LockName`).
public final class FileLock {
    public let path: String
    private(set) var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// The lock, or nil when another process holds it. Throws when the file cannot be created;
    /// a symbolic link planted at `path` is never followed.
    public static func tryAcquire(_ path: String) throws -> FileLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else {
            throw SAError(.cantCreate, "cannot create lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            return nil
        }
        return FileLock(path: path, fd: fd)
    }

    /// What the file says (the holder's pid for show locks), read without locking.
    public static func contents(_ path: String) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buf, 31, 0)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
    }

    /// Replaces the file's contents (held locks only).
    public func write(_ text: String) {
        _ = ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

/// Where each lock lives, one place for the naming rules.
public enum LockName {
    /// The recorder's per-show lock: `<output_dir>/.<show>.lock`.
    public static func show(directory: String, show: String) -> String {
        (directory as NSString).appendingPathComponent(".\(show).lock")
    }

    /// A SQLite store's sync lock: `.<database>.sync.lock` beside `<database>.sqlite`.
    public static func sync(database path: String) -> String {
        let file = ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(".\(file).sync.lock")
    }

    /// One export of a file at a time: `.<file name>.lock` beside it.
    public static func export(directory: String, file: String) -> String {
        (directory as NSString).appendingPathComponent(".\(file).lock")
    }
}
