import ArgumentParser
import Foundation
import SACommon
import SAExport
import SAStore
import SAStorePostgres

@main
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sa-export",
        abstract: "Write sections as playable files without re-encoding: Opus → .ogg, AAC → .aac.",
        discussion: """
            Reads JSON lines naming sections (show, section_id, db: sa-record's section_finished, sa-pull's
            section_synced) from standard input or FILE arguments, or takes --db FILE --section ID, or
            --config F --pending for every finished section not exported yet. Writes exported records.
            See sa-export(1).
            """,
        version: ToolInfo.version)

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: ArgumentHelp("Export from this database (SQLite file or postgres:// URL).", valueName: "db"))
    var db: String?

    @Option(name: .long, help: ArgumentHelp("The section to export with --db.", valueName: "id"))
    var section: Int64?

    @Flag(name: .long, help: "Export every finished section of the config's shows not exported yet.")
    var pending = false

    @Option(name: .long, help: ArgumentHelp("Only this show with --pending (repeatable).", valueName: "name"))
    var show: [String] = []

    @Option(name: .long, help: ArgumentHelp("Where files go (default: tmp).", valueName: "dir"))
    var outputDir: String = "tmp"

    @Flag(name: .long, help: "Also export sections that are still being recorded.")
    var includeOpen = false

    @Option(name: .long, help: ArgumentHelp("Credentials profile ([postgres.<profile>]) for postgres:// databases named in input lines.", valueName: "profile"))
    var credentialProfile: String?

    @Argument(help: ArgumentHelp("JSON-lines files to read instead of standard input.", valueName: "file"))
    var files: [String] = []

    func validate() throws {
        if (db == nil) != (section == nil) { throw ValidationError("--db and --section go together") }
        if pending && common.config == nil { throw ValidationError("--pending needs --config") }
        if pending && db != nil { throw ValidationError("use either --pending or --db, not both") }
        if (pending || db != nil) && !files.isEmpty { throw ValidationError("input files do not combine with --db or --pending") }
    }

    func run() throws {
        ToolMain.run(tool: "sa-export") {
            try SALog.bootstrap(level: common.logLevel)
            let credentials = Credentials(file: common.credentials)
            var run = ExportRun(outputDir: outputDir, includeOpen: includeOpen, credentials: credentials,
                                defaultProfile: credentialProfile)
            if let db, let section {
                return run.single(db: db, section: section)
            }
            if pending {
                let config = try ConfigLoader.load(file: common.config!)
                if case .receiver(let c) = config { run.defaultProfile = run.defaultProfile ?? c.databaseCredentialProfile }
                // With an archive target, sections exported but not yet pushed come out again, so
                // `sa-export --pending | sa-push` retries a failed upload on the next run.
                if case .record(let c) = config, c.sftp != nil { run.untilPushed = true }
                let (list, password) = try ShowDirectory.databases(config: config, credentials: credentials, shows: try show.map(ShowName.validate))
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

/// One invocation's exports: databases opened once, the worst outcome remembered.
struct ExportRun {
    let outputDir: String
    let includeOpen: Bool
    let credentials: Credentials
    var defaultProfile: String?
    var password: String?
    var open: [String: ShowDB] = [:]
    var untilPushed = false
    var failures = 0
    var conflicts = 0
    var lastStatus: ExitStatus = .ok
    let output = JSONLineWriter.stdout

    init(outputDir: String, includeOpen: Bool, credentials: Credentials, defaultProfile: String?) {
        self.outputDir = outputDir
        self.includeOpen = includeOpen
        self.credentials = credentials
        self.defaultProfile = defaultProfile
    }

    var status: ExitStatus {
        if failures > 0 { return .someFailed }
        if conflicts > 0 { return .tempFail }
        return .ok
    }

    mutating func fail(_ e: SAError) {
        output.write(e.record)
        fputs(Redaction.userinfo("sa-export: error: \(e.message)") + "\n", stderr)
        if e.code == "conflict" { conflicts += 1 } else { failures += 1 }
        lastStatus = e.status
    }

    mutating func database(_ db: String) throws -> ShowDB {
        if let d = open[db] { return d }
        var pw = password
        if pw == nil, db.hasPrefix("postgres"), let p = defaultProfile {
            pw = try credentials.require(.postgres, profile: p, field: "password")
        }
        let d = try ShowDB.open(db: db, password: pw)
        open[db] = d
        return d
    }

    mutating func export(db: String, section: Int64) {
        do {
            let result = try SectionExporter.export(database: try database(db), sectionID: section, outputDir: outputDir,
                                                    includeOpen: includeOpen)
            output.write(result.record)
        } catch let skipped as OpenSectionSkipped {
            fputs(Redaction.userinfo("sa-export: note: \(skipped.message)") + "\n", stderr)
        } catch {
            var e = SAError.from(error)
            if !e.context.contains(where: { $0.0 == "db" }) { e.context += [("db", .string(db)), ("section_id", .int(section))] }
            fail(e)
        }
    }

    /// `--db --section`: the exit status is that of the one export.
    mutating func single(db: String, section: Int64) -> ExitStatus {
        export(db: db, section: section)
        return failures + conflicts > 0 ? lastStatus : .ok
    }

    mutating func pending(db: String) {
        do {
            let d = try database(db)
            let exported = try d.exportedDurations()
            let pushed = untilPushed ? try d.pushedSectionIDs() : []
            for s in try d.sections() where !s.isOpen && s.segments > 0 {
                // Done when the file holds all the audio the section has now (and, with an
                // archive target, was pushed); a section that gained audio is exported again.
                let holdsAll = (exported[s.id] ?? -1) >= s.durationSamples
                if holdsAll && (!untilPushed || pushed.contains(s.id)) { continue }
                export(db: db, section: s.id)
            }
        } catch {
            var e = SAError.from(error)
            e.context.append(("db", .string(db)))
            fail(e)
        }
    }

    /// A JSON line: section records are exported, other record types pass by.
    mutating func line(_ record: JSONValue) {
        let type = record["type"]?.stringValue
        let sectionTypes: Set<String> = ["section_finished", "section_synced", "section"]
        guard type == nil || sectionTypes.contains(type!) else { return }
        if type == "section_synced", record["complete"]?.boolValue == false, !includeOpen {
            fputs(Redaction.userinfo("sa-export: note: section \(record["section_id"]?.intValue ?? 0) of \(record["show"]?.stringValue ?? "?") is not complete yet; not exported") + "\n", stderr)
            return
        }
        guard let db = record["db"]?.stringValue, let section = record["section_id"]?.intValue else {
            var ctx: [(String, JSONValue)] = []
            if let s = record["show"] { ctx.append(("show", s)) }
            if let s = record["section_id"] { ctx.append(("section_id", s)) }
            fail(SAError(.dataError, code: "missing_field", "a section record needs db and section_id: \(record.serialized().prefix(120))",
                         context: ctx))
            return
        }
        export(db: db, section: section)
    }
}
