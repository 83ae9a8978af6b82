import Foundation

/// Where config files live: `$SAVE_AUDIO_STREAM_CONFIG_DIR`, else `$XDG_CONFIG_HOME/save_audio_stream`,
/// else `~/.config/save_audio_stream`. `--config` and `--credentials` override single files.
public enum ConfigPaths {
    public static func directory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let d = environment["SAVE_AUDIO_STREAM_CONFIG_DIR"], !d.isEmpty { return d }
        if let x = environment["XDG_CONFIG_HOME"], !x.isEmpty { return x + "/save_audio_stream" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.config/save_audio_stream"
    }

    public static func recordConfig(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        directory(environment: environment) + "/record.toml"
    }

    public static func receiverConfig(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        directory(environment: environment) + "/receiver.toml"
    }

    public static func credentials(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        directory(environment: environment) + "/credentials.toml"
    }
}

public enum HomePath {
    /// Expands a leading `~` with `$HOME` (as shells and ssh do), else the account's home.
    public static func expand(_ path: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard path == "~" || path.hasPrefix("~/") else { return path }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return home + path.dropFirst()
    }
}
