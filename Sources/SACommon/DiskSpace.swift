import Foundation

public enum DiskSpace {
    /// Free bytes available to this user on the file system holding `path`.
    public static func availableBytes(at path: String) -> Int64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }
}
