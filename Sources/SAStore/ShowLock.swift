import Foundation
import SACommon

/// An exclusive per-show lock: `flock` on `<dir>/.<show>.lock`. The kernel releases it when the
/// holder dies, kill -9 included, so a crashed recorder never blocks the next one.
public final class ShowLock {
    private let lock: FileLock
    public var path: String { lock.path }

    private init(_ lock: FileLock) { self.lock = lock }

    /// Takes the lock or throws a `tempFail` error (exit 75) naming the holder's pid.
    public static func acquire(directory: String, show: String) throws -> ShowLock {
        let path = LockName.show(directory: directory, show: show)
        guard let lock = try FileLock.tryAcquire(path) else {
            let holder = FileLock.contents(path)
            throw SAError(.locked,
                          "show '\(show)' is being recorded by another process (pid \(holder.isEmpty ? "?" : holder), lock \(path))",
                          context: [("show", .string(show))])
        }
        lock.write("\(getpid())\n")
        return ShowLock(lock)
    }

    /// Whether some process holds the show's lock, found without touching the lock (taking it,
    /// even shared and for an instant, could make a recorder starting at that moment fail).
    /// Reads the kernel's lock table, `/proc/locks`, for an flock on the lock file's inode held
    /// on its device or by the pid the file names (some file systems, overlayfs among them,
    /// show another device there). The table lists only processes of this PID namespace: a
    /// recorder in another container is not seen.
    public static func isHeld(directory: String, show: String) -> Bool {
        let path = LockName.show(directory: directory, show: show)
        var st = stat()
        guard stat(path, &st) == 0, let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return false }
        let inode = UInt64(st.st_ino)
        let holder = FileLock.contents(path)
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

    public func release() { lock.release() }
}
