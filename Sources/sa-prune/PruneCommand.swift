import ArgumentParser
import Foundation
import SACommon
import SATool
import SAStore
import SAStorePostgres

@main
struct PruneCommand: ParsableCommand {
    static let configuration = CommandConfiguration.tool(
        "sa-prune",
        abstract: "Retention cleanup that never cuts a session in half.",
        discussion: """
            Deletes the sections before the last session boundary older than retention_hours, on recorder \
            (SQLite) and receiver (PostgreSQL or SQLite) databases, and gives the space back. Writes one \
            pruned record per show. See sa-prune(1).
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: "Prune this one database (SQLite file or postgres:// URL).")
    var db: String?

    @OptionGroup var shows: ShowFilter

    @Option(help: ArgumentHelp("Keep this many hours instead of the config's retention_hours (168 with --db).", valueName: "hours"))
    var retentionHours: Int?

    @Flag(help: "Report what would be deleted; delete nothing.")
    var dryRun = false

    @OptionGroup var dbCredentials: DatabaseCredentialOption

    func validate() throws {
        if db != nil && (common.config != nil || !shows.show.isEmpty) { throw ValidationError("use either --db or --config/--show") }
        if let r = retentionHours, !(1...1_000_000).contains(r) { throw ValidationError("--retention-hours must be 1 to 1000000, got \(r)") }
    }

    func run() throws {
        ToolMain.run(tool: "sa-prune", options: common) {
            let credentials = Credentials(file: common.credentials)
            let output = JSONLineWriter.stdout
            if let db {
                let pw = try dbCredentials.password(credentials)
                let database = try ShowDB.open(db: db, password: pw)
                let name = try database.metadata()[MetaKey.name] ?? ((db as NSString).lastPathComponent as NSString).deletingPathExtension
                output.write(try Pruner.prune(database, show: name, retentionHours: retentionHours ?? 168, dryRun: dryRun))
                return .ok
            }
            let file = common.config ?? ConfigPaths.recordConfig()
            let config = try ConfigLoader.load(file: file)
            let names = try shows.validated()
            var retention: [String: Int] = [:]
            switch config {
            case .record(let c):
                for s in c.sessions { retention[s.name] = s.retentionHours }
            case .receiver(let c):
                for s in c.shows ?? [] { if let h = s.retentionHours { retention[s.name] = h } }
            }
            for n in names where retention[n] == nil && retentionHours == nil {
                throw SAError.usage("show '\(n)' has no retention_hours in \(file); pass --retention-hours")
            }
            let (list, password) = try ShowDirectory.databases(config: config, credentials: credentials, shows: names)
            var failed = false
            var isReceiver = false
            if case .receiver = config { isReceiver = true }
            let log = SALog.logger("sa-prune")
            for (name, db) in list {
                // Shows without a retention (receivers keep everything by default) are left alone.
                guard let hours = retentionHours ?? retention[name] else { continue }
                do {
                    let database: ShowDB
                    do {
                        database = try ShowDB.open(db: db, password: password)
                    } catch let e as SAError where e.code == .notFound && isReceiver {
                        // A configured show nothing was pulled for yet: nothing to prune, no
                        // alarm for the nightly cron line.
                        log.info("\(name): no database yet (nothing pulled); nothing to prune")
                        continue
                    }
                    output.write(try Pruner.prune(database, show: name, retentionHours: hours, dryRun: dryRun))
                } catch {
                    var e = SAError.from(error)
                    e.context = [("show", .string(name)), ("db", .string(db))] + e.context
                    output.write(e.record)
                    ToolMain.note("error: \(name): \(e.message)", tool: "sa-prune")
                    failed = true
                }
            }
            return failed ? .someFailed : .ok
        }
    }
}
