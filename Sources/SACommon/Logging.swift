import Foundation
import Logging

/// Loggers for the libraries, at the level the tool chose (`ToolLogging.bootstrap`). Logging
/// goes to stderr only; stdout is reserved for JSON lines.
public enum SALog {
    nonisolated(unsafe) public static var currentLevel: Logger.Level = .warning

    public static func logger(_ label: String) -> Logger {
        var l = Logger(label: label)
        l.logLevel = currentLevel
        return l
    }
}

public enum ToolInfo {
    public static let version = "0.1.0"
}
