import Foundation
import Logging
import SACommon

/// The tools' logging setup: every message to stderr as one line.
public enum ToolLogging {
    nonisolated(unsafe) private static var bootstrapped = false

    /// Level from `--log-level`, else `SA_LOG_LEVEL`, else `warning` (quiet success for cron).
    public static func bootstrap(level: String?) throws {
        let name = level ?? ProcessInfo.processInfo.environment["SA_LOG_LEVEL"] ?? "warning"
        guard let parsed = Logger.Level(rawValue: name.lowercased()) else {
            throw SAError.usage("unknown log level '\(name)' (use trace, debug, info, notice, warning, error or critical)")
        }
        if !bootstrapped {
            bootstrapped = true
            LoggingSystem.bootstrap { label in
                var handler = StderrLogHandler(label: label)
                handler.logLevel = parsed
                return handler
            }
        }
        SALog.currentLevel = parsed
    }
}

/// `tool: level: message key=value` lines on stderr.
public struct StderrLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .warning
    private let label: String

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let meta = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let ts = ISO8601DateFormatter.string(from: Date(), timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime])
        fputs(Redaction.userinfo("\(ts) \(label): \(event.level): \(event.message)\(meta)") + "\n", stderr)
    }
}
