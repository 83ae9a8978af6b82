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

    /// Whether some process holds the show's lock, found without touching the lock (taking it,
    /// even shared and for an instant, could make a recorder starting at that moment fail).
    /// Reads the kernel's lock table, `/proc/locks`, for an flock on the lock file's inode held
    /// on its device or by the pid the file names (some file systems, overlayfs among them,
    /// show another device there). The table lists only processes of this PID namespace: a
    /// recorder in another container is not seen.
    public static func isHeld(directory: String, show: String) -> Bool {
        let path = (directory as NSString).appendingPathComponent(".\(show).lock")
        var st = stat()
        guard stat(path, &st) == 0, let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return false }
        let inode = UInt64(st.st_ino)
        var buf = [UInt8](repeating: 0, count: 32)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        let n = fd >= 0 ? pread(fd, &buf, 31, 0) : -1
        if fd >= 0 { close(fd) }
        let holder = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        let dev = UInt64(st.st_dev)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        for line in table.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 1061 fe:00:16220163 0 EOF" (device in hex, inode in decimal)
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1] == "FLOCK", f[3] == "WRITE" else { continue }
            let id = f[5].split(separator: ":")
            guard id.count == 3, UInt64(id[2]) == inode else { continue }
            if (UInt64(id[0], radix: 16) == major && UInt64(id[1], radix: 16) == minor) || (!holder.isEmpty && f[4] == holder) {
                return true
            }
        }
        return false
    }

    public func release() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
