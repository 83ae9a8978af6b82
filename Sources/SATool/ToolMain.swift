import ArgumentParser
import Foundation
import SACommon

/// Options every tool has.
public struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Config file (default: $SAVE_AUDIO_STREAM_CONFIG_DIR/<tool's config>.toml).", valueName: "file"))
    public var config: String?

    @Option(name: .long, help: ArgumentHelp("Credentials file (default: <config dir>/credentials.toml).", valueName: "file"))
    public var credentials: String?

    @Option(name: .long, help: ArgumentHelp("trace, debug, info, notice, warning (default), error or critical; also SA_LOG_LEVEL.", valueName: "level"))
    public var logLevel: String?

    public init() {}
}

/// Runs a tool body and turns errors into the documented exit status: the message on stderr,
/// an `error` record on stdout when the tool speaks JSON lines.
public enum ToolMain {
    /// Sets up logging (`--log-level`), runs `body` and exits with its status, or with the
    /// status of the error it threw.
    public static func run(tool: String, options: CommonOptions, emitErrorRecord: Bool = true, _ body: () throws -> ExitStatus) -> Never {
        let status: ExitStatus
        do {
            try ToolLogging.bootstrap(level: options.logLevel)
            status = try body()
        } catch {
            let e = SAError.from(error)
            report(e, tool: tool, record: emitErrorRecord)
            status = e.exitStatus
        }
        exit(status.rawValue)
    }

    /// One failure that does not end the run: the `error` record on stdout (unless `record` is
    /// false) and `tool: error: message` on stderr, passwords in URLs masked.
    public static func report(_ e: SAError, tool: String, record: Bool = true) {
        if record { JSONLineWriter.stdout.write(e.record) }
        note("error: \(e.message)", tool: tool)
    }

    /// `tool: text` on stderr (what cron mails).
    public static func note(_ text: String, tool: String) {
        fputs(Redaction.userinfo("\(tool): \(text)") + "\n", stderr)
    }
}
