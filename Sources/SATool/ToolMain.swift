import ArgumentParser
import Foundation
import SACommon

/// Options every tool has.
public struct CommonOptions: ParsableArguments {
    @Option(name: [.customShort("c"), .long], help: ArgumentHelp("Config file (default: $SAVE_AUDIO_STREAM_CONFIG_DIR/<tool's config>.toml).", valueName: "file"))
    public var config: String?

    @Option(help: ArgumentHelp("Credentials file (default: <config dir>/credentials.toml).", valueName: "file"))
    public var credentials: String?

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning (default), error or critical; also SA_LOG_LEVEL.", valueName: "level"))
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
        } catch let e as SAError {
            report(e, tool: tool, record: emitErrorRecord)
            status = e.exitStatus
        } catch {
            note("error: \(error)", tool: tool)
            status = .software
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

/// `--show NAME`, repeatable: only these shows of the config.
public struct ShowFilter: ParsableArguments {
    @Option(help: ArgumentHelp("Only this show of the config (repeatable).", valueName: "name"))
    public var show: [String] = []

    public init() {}

    /// The names, each checked against the show-name rule.
    public func validated() throws -> [String] { try show.map(ShowName.validate) }
}

/// `-p, --port PORT`: where an HTTP server listens.
public struct PortOption: ParsableArguments {
    @Option(name: [.customShort("p"), .long], help: ArgumentHelp("Port to listen on (default: api_port or port of the config, else 17000).", valueName: "port"))
    public var port: Int?

    public init() {}

    public func validate() throws {
        if let port, !(1...65535).contains(port) { throw ValidationError("--port must be 1 to 65535") }
    }

    /// `--port PORT` for a tool's command line, nothing without a port.
    public var arguments: [String] { port.map { ["--port", String($0)] } ?? [] }
}

/// `--credential-profile P`: the password for postgres:// databases named on the command line
/// or in input lines.
public struct DatabaseCredentialOption: ParsableArguments {
    @Option(help: ArgumentHelp("Credentials profile ([postgres.<profile>] password) for postgres:// databases named on the command line or in input lines.", valueName: "profile"))
    public var credentialProfile: String?

    public init() {}

    /// The profile's password, nil without a profile.
    public func password(_ credentials: Credentials) throws -> String? {
        try credentialProfile.map { try credentials.require(.postgres, profile: $0, field: "password") }
    }
}

extension CommandConfiguration {
    /// A tool's configuration: its name, what it does, and the toolkit's version.
    public static func tool(_ name: String, abstract: String, discussion: String) -> CommandConfiguration {
        CommandConfiguration(commandName: name, abstract: abstract, discussion: discussion, version: ToolInfo.version)
    }
}
