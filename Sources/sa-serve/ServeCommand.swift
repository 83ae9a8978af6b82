import ArgumentParser
import Foundation
import Hummingbird
import SACommon
import SATool
import SAServer
import SAStore

@main
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration.tool(
        "sa-serve",
        abstract: "Serve a recorder's sync API, or a receiver's playback API and web UI, over HTTP.",
        discussion: """
            With a record config: the recorder's sync API (GET /api/sync/shows and each show's \
            metadata, sections, segments and titles) beside /api/health, /metrics, /api/mode and \
            /api/openapi.json. With a receiver config: the playback API, the web UI, the sync status \
            and trigger, and a sync pass every sync_interval_seconds. With --db FILE: the sync and playback \
            APIs over one database, read-only. See sa-serve(1).
            """
    )

    @OptionGroup var common: CommonOptions

    @Option(help: ArgumentHelp("Serve this one SQLite database read-only.", valueName: "file"))
    var db: String?

    @Option(help: ArgumentHelp("Close a connection that has not sent a complete request head this many seconds after connecting (default 10).", valueName: "seconds"))
    var headerTimeout: Int = 10

    @Option(help: ArgumentHelp("Close a keep-alive connection idle this many seconds after its last response (default 60).", valueName: "seconds"))
    var idleTimeout: Int = 60

    @OptionGroup var listen: PortOption

    @Option(help: ArgumentHelp("Address to bind (default: bind of the config, 127.0.0.1).", valueName: "address"))
    var bind: String?

    func validate() throws {
        if db != nil && common.config != nil { throw ValidationError("use either --config or --db, not both") }
        if !(1...86400).contains(headerTimeout) { throw ValidationError("--header-timeout must be 1 to 86400 seconds") }
        if !(1...86400).contains(idleTimeout) { throw ValidationError("--idle-timeout must be 1 to 86400 seconds") }
    }

    func run() async throws {
        let status: ExitStatus
        do {
            status = try await serve()
        } catch let e as SAError {
            ToolMain.note("error: \(e.message)", tool: "sa-serve")
            status = e.exitStatus
        } catch {
            let text = String(describing: error)
            ToolMain.note("error: \(text)", tool: "sa-serve")
            status = text.contains("Address already in use") ? .unavailable : .software
        }
        if status != .ok { throw ExitCode(status.rawValue) }
    }

    func serve() async throws -> ExitStatus {
        try ToolLogging.bootstrap(level: common.logLevel)
        var source: ShowSource?
        var receiver: ReceiverState?
        var mode = "record"
        var host = "127.0.0.1"
        var listenPort = 17000
        var token: String?
        var exportDir = "tmp"
        var sessions: [SessionConfig] = []
        var feeds: [String: FeedSettings] = [:]
        if let db {
            guard FileManager.default.fileExists(atPath: db) else {
                throw SAError(.notFound, "database \(db) does not exist")
            }
            _ = try ShowDB.openFile(db, readOnly: true)
            source = .single(path: db)
            mode = "inspect"
        } else {
            let file = common.config ?? ConfigPaths.recordConfig()
            switch try ConfigLoader.load(file: file) {
            case .record(let c):
                source = .directory(c.outputDir)
                sessions = c.sessions
                exportDir = ((c.file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("tmp")
                host = c.bind
                listenPort = c.apiPort
                token = try c.apiTokenProfile.map { try Credentials(file: common.credentials).require(.api, profile: $0, field: "token") }
            case .receiver(let c):
                mode = "receiver"
                host = c.bind
                listenPort = c.port
                let credentials = Credentials(file: common.credentials)
                receiver = try ReceiverState(config: c, credentials: credentials)
                for show in c.shows ?? [] {
                    let token = try show.feedTokenProfile.map { try credentials.require(.feed, profile: $0, field: "token") }
                    feeds[show.name] = FeedSettings(episodes: show.episodes, token: token)
                }
                exportDir = ((c.file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("tmp")
            }
        }
        var setup = ServerSetup(mode: mode, cacheDir: (exportDir as NSString).appendingPathComponent("cache"))
        setup.token = token
        setup.feeds = feeds
        if let source {
            var options = RecorderAPIOptions(mode: mode, exportDir: exportDir, readOnly: db != nil)
            options.sessions = sessions
            setup.recorder = (source, options)
        }
        setup.receiver = receiver
        if let receiver {
            setup.playback = receiver
        } else if let db {
            setup.playback = try SingleDatabaseStore(path: db)
        }
        let router = ServerRouter.make(setup)
        var logger = SALog.logger("sa-serve")
        logger.logLevel = SALog.currentLevel
        let app = Application(router: HeadAsGet(router),
                              server: .http1(configuration: .init(additionalChannelHandlers: [
                                  ConnectionTimeoutHandler(headerTimeoutSeconds: headerTimeout, idleTimeoutSeconds: idleTimeout)])),
                              configuration: .init(address: .hostname(bind ?? host, port: listen.port ?? listenPort), serverName: "sa-serve"),
                              logger: logger)
        // The receiver's first pass starts with the server; a failing remote never stops it serving.
        receiver?.startBackgroundSync()
        try await app.runService()
        return .ok
    }
}
