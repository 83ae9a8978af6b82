import Foundation
import SACommon

// The original save_audio_stream's command lines, kept working by dispatching to the tools:
//   save_audio_stream receiver --config F --sync-only  →  sa-pull --config F
//   save_audio_stream receiver --config F              →  sa-serve --config F
//   save_audio_stream record --config F                →  sa-record --config F, with sa-serve --config F beside it

let usage = "save_audio_stream record --config FILE | receiver --config FILE [--sync-only]  [--credentials FILE] [--log-level LEVEL]"
var args = Array(CommandLine.arguments.dropFirst())

if args.first == "--version" { print(ToolInfo.version); exit(0) }
if args.isEmpty || args.first == "--help" || args.first == "-h" {
    print("usage: \(usage)")
    exit(args.isEmpty ? ExitStatus.usage.rawValue : 0)
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

let command = args.removeFirst()
switch command {
case "receiver":
    if let i = args.firstIndex(of: "--sync-only") {
        args.remove(at: i)
        execTool("sa-pull", args)
    }
    execTool("sa-serve", args)
case "record":
    // Recording plus its sync API: sa-serve runs beside sa-record and stops with it.
    // sa-serve takes the options the two tools share; the rest (--once, --show) are sa-record's.
    var serveArgs: [String] = []
    var i = 0
    while i < args.count {
        if ["--config", "--credentials", "--log-level"].contains(args[i]), i + 1 < args.count {
            serveArgs += [args[i], args[i + 1]]
            i += 2
        } else if let eq = args[i].firstIndex(of: "="), ["--config", "--credentials", "--log-level"].contains(String(args[i][..<eq])) {
            serveArgs.append(args[i])
            i += 1
        } else {
            i += 1
        }
    }
    let serve = Process()
    serve.executableURL = URL(fileURLWithPath: toolPath("sa-serve"))
    serve.arguments = serveArgs
    let record = Process()
    record.executableURL = URL(fileURLWithPath: toolPath("sa-record"))
    record.arguments = args
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
        source.setEventHandler {
            kill(record.processIdentifier, sig)
        }
        source.resume()
        sources.append(source)
    }
    record.waitUntilExit()
    if serve.isRunning {
        serve.terminate()
        serve.waitUntilExit()
    }
    exit(record.terminationStatus)
default:
    fputs("usage: \(usage)\nsave_audio_stream: unknown command '\(command)'\n", stderr)
    exit(ExitStatus.usage.rawValue)
}
