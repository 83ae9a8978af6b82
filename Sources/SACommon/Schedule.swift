import Foundation

/// A time of day, `HH:MM` or `HH:MM:SS`.
public struct TimeOfDay: Equatable, Sendable, CustomStringConvertible {
    public let seconds: Int  // since midnight

    public init(hour: Int, minute: Int, second: Int = 0) { seconds = hour * 3600 + minute * 60 + second }

    public init?(parsing text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3,
              parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
              let h = Int(parts[0]), let m = Int(parts[1]), h < 24, m < 60
        else { return nil }
        let s = parts.count == 3 ? Int(parts[2])! : 0
        guard s < 60 else { return nil }
        self.init(hour: h, minute: m, second: s)
    }

    public var description: String {
        let h = seconds / 3600, m = seconds / 60 % 60, s = seconds % 60
        return s == 0 ? String(format: "%02d:%02d", h, m) : String(format: "%02d:%02d:%02d", h, m, s)
    }
}

/// A daily recording window in a time zone. `end < start` wraps past midnight; `start == end`
/// is refused because every show needs its daily break (pruning and pulling run in it).
public struct DailyWindow: Equatable, Sendable {
    public let start: TimeOfDay
    public let end: TimeOfDay
    public let timeZone: TimeZone

    public init(start: TimeOfDay, end: TimeOfDay, timeZone: TimeZone) throws {
        guard start != end else {
            throw SAError.config("record_start and record_end are both \(start): a window needs a daily break")
        }
        self.start = start
        self.end = end
        self.timeZone = timeZone
    }

    private var calendar: Calendar {
        var c = Calendar(identifier: .gregorian)
        c.timeZone = timeZone
        return c
    }

    /// The instant `time` on the local day that contains `day`; DST gaps resolve forward.
    private func instant(on day: Date, at time: TimeOfDay) -> Date {
        let cal = calendar
        let midnight = cal.startOfDay(for: day)
        var comps = cal.dateComponents([.year, .month, .day], from: midnight)
        comps.hour = time.seconds / 3600
        comps.minute = time.seconds / 60 % 60
        comps.second = time.seconds % 60
        return cal.date(from: comps) ?? midnight.addingTimeInterval(TimeInterval(time.seconds))
    }

    /// The window that contains `now`, or nil when `now` is in the break.
    public func window(containing now: Date) -> DateInterval? {
        let cal = calendar
        // A window that contains `now` started today or yesterday (local days).
        for dayOffset in [0, -1] {
            guard let day = cal.date(byAdding: .day, value: dayOffset, to: now) else { continue }
            let s = instant(on: day, at: start)
            var e = instant(on: day, at: end)
            if end.seconds < start.seconds, let next = cal.date(byAdding: .day, value: 1, to: day) {
                e = instant(on: next, at: end)
            }
            if s <= now && now < e { return DateInterval(start: s, end: e) }
        }
        return nil
    }

    public func contains(_ now: Date) -> Bool { window(containing: now) != nil }

    /// The current window if `now` is inside one, else the next one to start.
    public func currentOrNext(after now: Date) -> DateInterval {
        if let w = window(containing: now) { return w }
        let cal = calendar
        for dayOffset in 0...2 {
            guard let day = cal.date(byAdding: .day, value: dayOffset, to: now) else { continue }
            let s = instant(on: day, at: start)
            if s > now {
                var e = instant(on: day, at: end)
                if end.seconds < start.seconds, let next = cal.date(byAdding: .day, value: 1, to: day) {
                    e = instant(on: next, at: end)
                }
                return DateInterval(start: s, end: e)
            }
        }
        return DateInterval(start: now, duration: 0)
    }
}

/// Parses durations such as `90`, `45s`, `20m`, `2h`, `1h30m`.
public enum DurationText {
    public static func seconds(_ text: String) throws -> Double {
        let bad = SAError.usage("invalid duration '\(text)': use e.g. 45s, 20m, 2h or 1h30m")
        if let plain = Double(text) {
            guard plain > 0 else { throw bad }
            return plain
        }
        var total = 0.0
        var number = ""
        var sawUnit = false
        for ch in text {
            if ch.isNumber || ch == "." {
                number.append(ch)
            } else {
                guard let n = Double(number) else { throw bad }
                switch ch {
                case "h": total += n * 3600
                case "m": total += n * 60
                case "s": total += n
                default: throw bad
                }
                number = ""
                sawUnit = true
            }
        }
        guard number.isEmpty, sawUnit, total > 0 else { throw bad }
        return total
    }
}
