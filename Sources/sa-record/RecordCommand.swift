import ArgumentParser
import Foundation
import SACommon
import SATool
import SARecorder
import SAStore

@main
struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration.tool(
        "sa-record",
        abstract: "Record internet radio streams (or import MP3/AAC files) into one SQLite database per show.",
        discussion: """
            With --config, runs every session's daily schedule in one process (forever, or one window \
            with --once). With --url and --name, records one stream now. With --input and --name, \
            imports a file or pipe. JSON lines on stdout: section_started, segment, title, \
            section_finished. See sa-record(1).
            """
    )

    @OptionGroup var common: CommonOptions

    @OptionGroup var shows: ShowFilter

    @Flag(help: "Record the current or next window of each show, then exit (for cron).")
    var once = false

    @Option(help: "Record this stream URL now (http, https, .pls, .m3u).")
    var url: String?

    @Option(help: ArgumentHelp("Import this MP3/AAC file; '-' reads standard input.", valueName: "file"))
    var input: String?

    @Option(help: "Show name for --url or --input.")
    var name: String?

    @Option(help: ArgumentHelp("Where <name>.sqlite lives for --url/--input (default: current directory).", valueName: "dir"))
    var outputDir: String?

    @Option(help: "Stop --url recording after this long (45s, 20m, 2h, 1h30m).")
    var duration: String?

    @Option(help: ArgumentHelp("Stop --url recording at this time of day, HH:MM[:SS].", valueName: "time"))
    var until: String?

    @Option(help: ArgumentHelp("Time zone of --until (default UTC).", valueName: "Area/City"))
    var timezone: String = "UTC"

    @Option(help: ArgumentHelp("Start time of an --input import: ISO 8601 or epoch milliseconds (default: now).", valueName: "time"))
    var start: String?

    @Option(help: "opus (default) or aac, for --url/--input.")
    var format: String = "opus"

    @Option(help: ArgumentHelp("kbit/s (default 16 for opus, 32 for aac), for --url/--input.", valueName: "kbps"))
    var bitrate: Int?

    @Option(help: ArgumentHelp("Segment length in seconds (default 10), for --url/--input.", valueName: "seconds"))
    var splitInterval: Int = 10

    @Option(help: ArgumentHelp("Reconnect after this many seconds without data (default 30), for --url.", valueName: "seconds"))
    var stallTimeout: Int = 30

    @Option(help: ArgumentHelp("Trust the certificate authorities in this PEM file for an https --url (default: the system's store).", valueName: "file"))
    var caFile: String?

    @Option(help: ArgumentHelp("libopus complexity 0-10 (default \(SessionConfig.defaultOpusComplexity)): lower costs less CPU per stream, higher gives slightly better quality; for --url/--input.", valueName: "n"))
    var opusComplexity: Int = SessionConfig.defaultOpusComplexity

    @Option(help: ArgumentHelp("Refuse to record below this much free disk (default 200), for --url/--input.", valueName: "MB"))
    var minFreeMb: Int = 200

    func validate() throws {
        if url != nil && input != nil { throw ValidationError("use either --url or --input, not both") }
        if (url != nil || input != nil) && name == nil { throw ValidationError("--url and --input need --name") }
        if (url != nil || input != nil) && (common.config != nil || !shows.show.isEmpty || once) {
            throw ValidationError("--config, --show and --once do not combine with --url or --input")
        }
        if duration != nil && until != nil { throw ValidationError("use either --duration or --until, not both") }
        if (duration != nil || until != nil) && url == nil { throw ValidationError("--duration and --until apply to --url") }
        if let caFile {
            if url == nil { throw ValidationError("--ca-file applies to --url") }
            if !FileManager.default.isReadableFile(atPath: caFile) { throw ValidationError("--ca-file \(caFile) cannot be read") }
        }
        if AudioFormat(rawValue: format) == nil { throw ValidationError("--format must be opus or aac, got '\(format)'") }
        if !(1...3600).contains(splitInterval) { throw ValidationError("--split-interval must be 1 to 3600 seconds") }
        if !(1...3600).contains(stallTimeout) { throw ValidationError("--stall-timeout must be 1 to 3600 seconds") }
        if !(0...100_000_000).contains(minFreeMb) { throw ValidationError("--min-free-mb must be 0 to 100000000, got \(minFreeMb)") }
        if !(0...10).contains(opusComplexity) { throw ValidationError("--opus-complexity must be 0 to 10, got \(opusComplexity)") }
        if let b = bitrate, !(6...320).contains(b) { throw ValidationError("--bitrate must be 6 to 320 kbit/s, got \(b)") }
        if let start {
            if input == nil { throw ValidationError("--start applies to --input") }
            do { _ = try parseStart(start) } catch let e as SAError { throw ValidationError(e.message) }
        }
    }

    func run() throws {
        ToolMain.run(tool: "sa-record", options: common) {
            StopSignal.install()
            StreamConnection.globalInit()
            if let input { return try runImport(input) }
            if let url { return try runAdHoc(url) }
            return try runConfig()
        }
    }

    private func adHocJob(url: String) throws -> RecordingJob {
        let show = try ShowName.validate(name!)
        let f = AudioFormat(rawValue: format)!
        var job = RecordingJob(show: show, url: url, format: f, bitrate: bitrate ?? f.defaultBitrate, splitInterval: splitInterval,
                               stallTimeoutSeconds: stallTimeout, minFreeMB: minFreeMb, outputDir: outputDir ?? ".")
        job.caFile = caFile
        job.opusComplexity = opusComplexity
        return job
    }

    private func runImport(_ input: String) throws -> ExitStatus {
        let job = try adHocJob(url: input)
        let startMs = try start.map(parseStart) ?? Int64(Date().timeIntervalSince1970 * 1000)
        let recorder = try ShowRecorder(job: job)
        _ = try withInputFile(input) { try recorder.importInput($0, name: input == "-" ? "stdin" : input, startMs: startMs) }
        return .ok
    }

    private func parseStart(_ text: String) throws -> Int64 {
        try TimeText.milliseconds(text, what: "--start")
    }

    private func runAdHoc(_ url: String) throws -> ExitStatus {
        let job = try adHocJob(url: url)
        var deadline: Date?
        var reason = "duration"
        if let duration { deadline = Date().addingTimeInterval(try DurationText.seconds(duration)) }
        if let until {
            guard let t = TimeOfDay(parsing: until) else { throw SAError.usage("--until must be HH:MM or HH:MM:SS, got '\(until)'") }
            guard let tz = TimeZone(identifier: timezone) else { throw SAError.usage("unknown time zone '\(timezone)'") }
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = tz
            let now = Date()
            var next = cal.nextDate(after: now, matching: DateComponents(hour: t.seconds / 3600, minute: t.seconds / 60 % 60, second: t.seconds % 60),
                                    matchingPolicy: .nextTime) ?? now
            if next <= now { next = now }
            deadline = next
            reason = "window_end"
        }
        let recorder = try ShowRecorder(job: job)
        let outcome = recorder.record(until: deadline, deadlineReason: reason)
        return status(for: [(show: job.show, outcome: outcome)])
    }

    private func status(for outcomes: [(show: String, outcome: RecordingOutcome)]) -> ExitStatus {
        RecordingOutcome.exitStatus(outcomes) { ToolMain.note("error: \($0)", tool: "sa-record") }
    }

    private func runConfig() throws -> ExitStatus {
        let file = common.config ?? ConfigPaths.recordConfig()
        let config = try ConfigLoader.loadRecord(file: file)
        // Profiles the config names must resolve now, not hours later in the middle of a window.
        let creds = Credentials(file: common.credentials)
        if let p = config.apiTokenProfile { _ = try creds.value(.api, profile: p, field: "token") }
        if let s = config.sftp { _ = try creds.value(.sftp, profile: s.credentialProfile, field: "password") }
        var sessions = config.sessions
        for s in shows.show where !sessions.contains(where: { $0.name == s }) {
            throw SAError.usage("show '\(s)' is not a session in \(file)")
        }
        if !shows.show.isEmpty { sessions = sessions.filter { shows.show.contains($0.name) } }
        guard !sessions.isEmpty else { throw SAError.config("\(file) defines no [[sessions]]") }
        let scheduled = try sessions.map { try DailyScheduler.Show(session: $0, config: config) }
        return status(for: DailyScheduler.run(scheduled, once: once))
    }
}
