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

    @Option(name: .long, help: ArgumentHelp("Export from this database (SQLite file or postgres:// URL).", valueName: "db"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("The section to export with --db.", valueName: "id"))
    var section: Int64?

    @Flag(name: .long, help: "Export every finished section of the config's shows not exported yet.")
    var pending = false

    @OptionGroup var shows: ShowFilter

    @Option(name: .long, help: ArgumentHelp("Where files go (default: tmp).", valueName: "dir"))
    var outputDir: String = "tmp"

    @Flag(name: .long, help: "Also export sections that are still being recorded.")
    var includeOpen = false

    @OptionGroup var dbCredentials: DatabaseCredentialOption

    @Argument(help: ArgumentHelp("JSON-lines files to read instead of standard input.", valueName: "file"))
    var files: [String] = []

    func validate() throws {
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
            if let db, let section {
                return run.single(db: db, section: section)
            }
            if pending {
                let config = try ConfigLoader.load(file: common.config!)
                if case .receiver(let c) = config { run.defaultProfile = run.defaultProfile ?? c.databaseCredentialProfile }
                // With an archive target, sections exported but not yet pushed come out again, so
                // `sa-export --pending | sa-push` retries a failed upload on the next run.
                if case .record(let c) = config, c.sftp != nil { run.untilPushed = true }
                let (list, password) = try ShowDirectory.databases(config: config, credentials: credentials, shows: try shows.validated())
                run.password = password
                for (_, db) in list { run.pending(db: db) }
                return run.status
            }
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
