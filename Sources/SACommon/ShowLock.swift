import Foundation

/// An exclusive per-show lock: `flock` on `<dir>/.<show>.lock`. The kernel releases it when the
/// holder dies, kill -9 included, so a crashed recorder never blocks the next one.
public final class ShowLock {
    public let path: String
    private var fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock or throws a `tempFail` error (exit 75) naming the holder's pid.
    public static func acquire(directory: String, show: String) throws -> ShowLock {
        let path = (directory as NSString).appendingPathComponent(".\(show).lock")
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw SAError(.cantCreate, code: "io", "cannot create lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(fd, &buf, 31, 0)
            let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(fd)
            throw SAError(.tempFail, code: "locked",
                          "show '\(show)' is being recorded by another process (pid \(holder), lock \(path))",
                          context: [("show", .string(show))])
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
        return ShowLock(path: path, fd: fd)
    }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}

public enum DiskSpace {
    /// Free bytes available to this user on the file system holding `path`.
    public static func availableBytes(at path: String) -> Int64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }
}
