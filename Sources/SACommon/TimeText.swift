import Foundation

/// Instants given on command lines, in JSON lines and in query strings: ISO 8601 with a zone
/// (`2026-01-05T06:00:30Z`, `…+01:00`, fractional seconds allowed), ISO 8601 without a zone
/// (read in `timeZone`), or epoch milliseconds.
public enum TimeText {
    /// Years 1970 to 9999: section ids are microseconds, so later instants would overflow.
    public static let range: ClosedRange<Int64> = 0...253_402_300_799_999

    /// Epoch milliseconds; `what` names the value in the error (`--from`, `to`).
    public static func milliseconds(_ text: String, what: String, timeZone: TimeZone = TimeZone(identifier: "UTC")!) throws -> Int64 {
        let ms: Int64
        if let n = Int64(text) {
            ms = n
        } else if let d = date(text, timeZone: timeZone), abs(d.timeIntervalSince1970) < 1e15 {
            ms = Int64((d.timeIntervalSince1970 * 1000).rounded())
        } else {
            throw SAError.usage("\(what) must be ISO 8601 (2026-01-05T06:00:30Z, or without a zone in \(timeZone.identifier == "GMT" ? "UTC" : timeZone.identifier)) or epoch milliseconds, got '\(text)'")
        }
        guard range.contains(ms) else {
            throw SAError.usage("\(what) \(text) is out of range: 1970 to 9999")
        }
        return ms
    }

    private static func date(_ text: String, timeZone: TimeZone) -> Date? {
        let f = ISO8601DateFormatter()
        for opts: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
            f.formatOptions = opts
            if let d = f.date(from: text) { return d }
        }
        // No zone: the wall-clock time in `timeZone`.
        let local = DateFormatter()
        local.locale = Locale(identifier: "en_US_POSIX")
        local.timeZone = timeZone
        for format in ["yyyy-MM-dd'T'HH:mm:ss.SSS", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm"] {
            local.dateFormat = format
            if let d = local.date(from: text) { return d }
        }
        return nil
    }

    /// `2026-01-05T06:00:30.250Z` (milliseconds only when not whole seconds).
    public static func iso(_ ms: Int64) -> String {
        // Milliseconds from the integer: a formatter's fraction goes through a Double.
        let rest = (ms % 1000 + 1000) % 1000
        return format(ms - rest, "yyyy-MM-dd'T'HH:mm:ss") + (rest == 0 ? "" : String(format: ".%03d", rest)) + "Z"
    }

    /// `ms` written with a `DateFormatter` pattern (`yyyyMMdd_HHmmss`) in `zone` (default UTC).
    public static func format(_ ms: Int64, _ pattern: String, zone: TimeZone = TimeZone(identifier: "UTC")!) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = zone
        f.dateFormat = pattern
        return f.string(from: Date(timeIntervalSince1970: Double(ms) / 1000))
    }
}
