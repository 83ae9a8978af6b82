import ArgumentParser
import Foundation
import SACommon
import SATool

/// The original save_audio_stream's command lines, kept working by handing each to the tool
/// that does the work now:
///   record [-c F] [-p PORT]            →  sa-record --config F, with sa-serve --config F [--port PORT] beside it
///   receiver [-c F]                    →  sa-serve --config F
///   receiver [-c F] --sync-only        →  sa-pull --config F
///   inspect FILE [-p PORT] [--immutable] →  sa-serve --db FILE [--port PORT]
///   replace-source [-c F] --show NAME  →  sa-pull --config F --show NAME --replace-source NAME
@main
struct SaveAudioStream: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "save_audio_stream",
        abstract: "The original save_audio_stream's commands, each run by the tool that does the work.",
        discussion: """
            Every command line of the original save_audio_stream keeps working: record, receiver, \
            inspect and replace-source. See save_audio_stream(1).
            """,
        version: ToolInfo.version,
        subcommands: [Record.self, Receiver.self, Inspect.self, ReplaceSource.self])

    static func main() {
        // Without a command: the usage and the sysexits usage status, as before.
        if CommandLine.arguments.count == 1 {
            print("usage: save_audio_stream record [-c FILE] [-p PORT] | receiver [-c FILE] [--sync-only] | "
                  + "inspect FILE [-p PORT] [--immutable] | replace-source [-c FILE] --show NAME")
            Foundation.exit(ExitStatus.usage.rawValue)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

extension CommonOptions {
    /// The same options for the tool a command hands over to.
    var toolArgs: [String] {
        (config.map { ["--config", $0] } ?? []) + (credentials.map { ["--credentials", $0] } ?? [])
            + (logLevel.map { ["--log-level", $0] } ?? [])
    }
}

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record every show of the config and serve the sync API beside it (sa-record and sa-serve).")

    @OptionGroup var shared: CommonOptions

    @OptionGroup var listen: PortOption

    @Flag(help: "Record the current or next window of each show, then exit (sa-record --once).")
    var once = false

    @OptionGroup var shows: ShowFilter

    func run() throws {
        let recordArgs = shared.toolArgs + (once ? ["--once"] : []) + shows.show.flatMap { ["--show", $0] }
        runBeside(record: recordArgs, serve: shared.toolArgs + listen.arguments)
    }
}

struct Receiver: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the playback API and web UI with the background sync (sa-serve), or one sync pass (--sync-only: sa-pull).")

    @OptionGroup var shared: CommonOptions

    @Flag(help: "One sync pass, then exit (sa-pull).")
    var syncOnly = false

    func run() throws {
        execTool(syncOnly ? "sa-pull" : "sa-serve", shared.toolArgs)
    }
}

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve one show database read-only: sync API, playback API and web UI (sa-serve --db).")

    @Argument(help: ArgumentHelp("The show database.", valueName: "file"))
    var file: String

    @OptionGroup var listen: PortOption

    @Flag(help: "Accepted for the original's command line: the database is always opened read-only and never written.")
    var immutable = false

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning (default), error or critical.", valueName: "level"))
    var logLevel: String?

    func run() throws {
        execTool("sa-serve", ["--db", file] + listen.arguments + (logLevel.map { ["--log-level", $0] } ?? []))
    }
}

struct ReplaceSource: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replace-source",
        abstract: "Re-point a show at a recorder database with a new unique_id, and pull it (sa-pull --replace-source).")

    @OptionGroup var shared: CommonOptions

    @Option(help: ArgumentHelp("The show to re-point.", valueName: "name"))
    var show: String

    func run() throws {
        execTool("sa-pull", shared.toolArgs + ["--show", show, "--replace-source", show])
    }
}

/// The sibling tools live next to this binary.
func toolPath(_ tool: String) -> String {
    let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    return ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent(tool)
}

func execTool(_ tool: String, _ toolArgs: [String]) -> Never {
    let path = toolPath(tool)
    let argv = ([path] + toolArgs).map { strdup($0) } + [nil]
    execv(path, argv)
    fputs(Redaction.userinfo("save_audio_stream: cannot run \(path): \(String(cString: strerror(errno)))") + "\n", stderr)
    exit(ExitStatus.unavailable.rawValue)
}

/// Recording plus its sync API: sa-serve runs beside sa-record and stops with it; SIGTERM and
/// SIGINT go to sa-record, whose exit status is ours.
func runBeside(record recordArgs: [String], serve serveArgs: [String]) -> Never {
    let serve = Process()
    serve.executableURL = URL(fileURLWithPath: toolPath("sa-serve"))
    serve.arguments = serveArgs
    let record = Process()
    record.executableURL = URL(fileURLWithPath: toolPath("sa-record"))
    record.arguments = recordArgs
    do {
        try serve.run()
        try record.run()
    } catch {
        fputs(Redaction.userinfo("save_audio_stream: \(error)") + "\n", stderr)
        if serve.isRunning { serve.terminate() }
        exit(ExitStatus.unavailable.rawValue)
    }
    var sources: [any DispatchSourceSignal] = []
    for sig in [SIGTERM, SIGINT] {
        signal(sig, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: sig)
        source.setEventHandler { kill(record.processIdentifier, sig) }
        source.resume()
        sources.append(source)
    }
    record.waitUntilExit()
    if serve.isRunning {
        serve.terminate()
        serve.waitUntilExit()
    }
    withExtendedLifetime(sources) {}
    exit(record.terminationStatus)
}
