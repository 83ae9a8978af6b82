import ArgumentParser
import Foundation
import SACommon
import SATool
import SASync

@main
struct PullCommand: ParsableCommand {
    static let configuration = CommandConfiguration.tool(
        "sa-pull",
        abstract: "One sync pass: copy new segments from a recorder's sync API into the receiver store (PostgreSQL or SQLite).",
        discussion: """
            Resumable (each chunk is committed with the new last_synced_id), fail-fast (stops at the first \
            network error or metadata mismatch unless --keep-going), one sync per show at a time. \
            JSON lines on stdout: section_synced, show_synced, gap, error. See sa-pull(1).
            """
    )

    @OptionGroup var common: CommonOptions

    @Flag(help: "Go on with the other shows after a failure; exit 1 at the end.")
    var keepGoing = false

    @Option(help: ArgumentHelp("Re-point SHOW at a recorder database with a new unique_id (repeatable).", valueName: "show"))
    var replaceSource: [String] = []

    @OptionGroup var shows: ShowFilter

    func run() throws {
        ToolMain.run(tool: "sa-pull", options: common) {
            let file = common.config ?? ConfigPaths.receiverConfig()
            let config = try ConfigLoader.loadReceiver(file: file)
            var options = SyncPass.Options()
            options.keepGoing = keepGoing
            options.replaceSource = Set(try replaceSource.map(ShowName.validate))
            options.onlyShows = try shows.validated()
            options.progress = isatty(STDERR_FILENO) != 0
            let pass = try SyncPass(config: config, credentials: Credentials(file: common.credentials), options: options)
            return pass.run()
        }
    }
}
