import ArgumentParser
import Foundation

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

public enum ToolInfo {
    public static let version = "0.1.0"
}

/// Runs a tool body and turns errors into the documented exit status: the message on stderr,
/// an `error` record on stdout when the tool speaks JSON lines.
public enum ToolMain {
    public static func run(tool: String, emitErrorRecord: Bool = true, _ body: () throws -> ExitStatus) -> Never {
        let status: ExitStatus
        do {
            status = try body()
        } catch let e as SAError {
            fputs(Redaction.userinfo("\(tool): error: \(e.message)") + "\n", stderr)
            if emitErrorRecord { JSONLineWriter.stdout.write(e.record) }
            status = e.status
        } catch {
            fputs(Redaction.userinfo("\(tool): error: \(error)") + "\n", stderr)
            status = .software
        }
        exit(status.rawValue)
    }
}
