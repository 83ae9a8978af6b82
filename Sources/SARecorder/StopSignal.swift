import Foundation

/// SIGTERM/SIGINT set a flag that every recording loop polls; the current segment is then
/// committed and the section closed before the process exits.
public enum StopSignal {
    nonisolated(unsafe) private static var flag: Int32 = 0
    nonisolated(unsafe) public private(set) static var signalName = ""

    public static var requested: Bool { flag != 0 }

    public static func install() {
        signal(SIGTERM) { _ in StopSignal.flag = SIGTERM }
        signal(SIGINT) { _ in StopSignal.flag = SIGINT }
        signal(SIGPIPE, SIG_IGN)
    }

    /// Sleeps up to `seconds`, waking early when a stop is requested or `until` passes.
    public static func sleep(_ seconds: Double, until deadline: Date? = nil) {
        let end = Date().addingTimeInterval(seconds)
        while !requested {
            let now = Date()
            let limit = min(end, deadline ?? end)
            if now >= limit { return }
            usleep(UInt32(min(0.1, limit.timeIntervalSince(now)) * 1_000_000))
        }
    }
}
