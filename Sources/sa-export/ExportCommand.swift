import ArgumentParser
import Foundation
import SACommon
import SATool
import SAExport
import SAStore
import SAStorePostgres

@main
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration.tool(
        "sa-export",
        abstract: "Write sections as playable files without re-encoding: Opus → .ogg, AAC → .aac.",
        discussion: """
            Reads JSON lines naming sections (show, section_id, db: sa-record's section_finished, sa-pull's \
            section_synced) from standard input or FILE arguments, or takes --db FILE --section ID, or \
            --config F --pending for every finished section not exported yet. Writes exported records. \
            See sa-export(1).
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Export from this database (SQLite file or postgres:// URL).")
    var db: String?

    @Option(help: ArgumentHelp("The section to export with --db.", valueName: "id"))
    var section: Int64?

    @Flag(help: "Export every finished section of the config's shows not exported yet.")
    var pending = false

    @OptionGroup var shows: ShowFilter

    @Option(help: ArgumentHelp("Where files go (default: tmp).", valueName: "dir"))
    var outputDir: String = "tmp"

    @Flag(help: "Also export sections that are still being recorded.")
    var includeOpen = false

    @Option(help: ArgumentHelp("Export the audio recorded from this time on: ISO 8601 (2026-01-05T06:00:30Z, or without a zone in --timezone) or epoch milliseconds; with --to and --db or --config --show.", valueName: "time"))
    var from: String?

    @Option(help: ArgumentHelp("Up to this time (see --from).", valueName: "time"))
    var to: String?

    @Option(help: ArgumentHelp("Time zone of --from and --to (and of range lines) written without one (default UTC).", valueName: "Area/City"))
    var timezone: String = "UTC"

    @OptionGroup var dbCredentials: DatabaseCredentialOption

    @Argument(help: ArgumentHelp("JSON-lines files to read instead of standard input.", valueName: "file"))
    var files: [String] = []

    func validate() throws {
        if TimeZone(identifier: timezone) == nil { throw ValidationError("unknown time zone '\(timezone)' for --timezone") }
        if (from == nil) != (to == nil) { throw ValidationError("--from and --to go together") }
        if from != nil {
            if section != nil || pending || !files.isEmpty {
                throw ValidationError("--from and --to do not combine with --section, --pending or input files")
            }
            if db == nil && (common.config == nil || shows.show.count != 1) {
                throw ValidationError("--from and --to need --db FILE, or --config FILE with one --show NAME")
            }
            if db != nil && common.config != nil { throw ValidationError("use either --db or --config with --from, not both") }
            return
        }
        if (db == nil) != (section == nil) { throw ValidationError("--db and --section go together") }
        if pending && common.config == nil { throw ValidationError("--pending needs --config") }
        if pending && db != nil { throw ValidationError("use either --pending or --db, not both") }
        if (pending || db != nil) && !files.isEmpty { throw ValidationError("input files do not combine with --db or --pending") }
    }

    func run() throws {
        ToolMain.run(tool: "sa-export", options: common) {
            let credentials = Credentials(file: common.credentials)
            var run = ExportBatch(outputDir: outputDir, includeOpen: includeOpen, credentials: credentials,
                                  defaultProfile: dbCredentials.credentialProfile)
            run.onError = { ToolMain.report($0, tool: "sa-export") }
            run.onNote = { ToolMain.note("note: \($0)", tool: "sa-export") }
            run.timeZone = TimeZone(identifier: timezone)!
            if let db, let section {
                return run.single(db: db, section: section)
            }
            if let from, let to {
                let zone = run.timeZone
                let fromMs = try TimeText.milliseconds(from, what: "--from", timeZone: zone)
                let toMs = try TimeText.milliseconds(to, what: "--to", timeZone: zone)
                if let db { return run.singleRange(db: db, fromMs: fromMs, toMs: toMs) }
                run.config = try ConfigLoader.load(file: common.config!)
                return run.singleRange(db: try run.database(show: try shows.validated()[0]), fromMs: fromMs, toMs: toMs)
            }
            if pending {
                for (_, db) in try run.use(config: try ConfigLoader.load(file: common.config!), shows: try shows.validated()) {
                    run.pending(db: db)
                }
                return run.status
            }
            // Range lines may name just a show of the config.
            if let file = common.config { run.config = try ConfigLoader.load(file: file) }
            try JSONLineReader().forEachLine(paths: files) { result, _ in
                switch result {
                case .failure(let e): run.fail(e)
                case .success(let record): run.line(record)
                }
            }
            return run.status
        }
    }

}
