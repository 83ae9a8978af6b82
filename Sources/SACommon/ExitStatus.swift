/// Process exit statuses, from sysexits(3). Every tool documents these under EXIT STATUS.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case ok = 0
    case someFailed = 1
    case usage = 64
    case dataError = 65
    case noInput = 66
    case unavailable = 69
    case software = 70
    case cantCreate = 73
    case ioError = 74
    case tempFail = 75
    case noPermission = 77
    case config = 78
}
