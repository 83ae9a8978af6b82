import Foundation
import Hummingbird
import SACommon

/// What sa-serve serves, by mode: a recorder's sync API (`record`, and `inspect` with one
/// database), a receiver's sync control, and playback with the web UI (`receiver`, `inspect`).
public struct ServerSetup: Sendable {
    public var mode: String
    public var token: String?
    public var recorder: (source: ShowSource, options: RecorderAPIOptions)?
    public var receiver: ReceiverState?
    public var playback: (any PlaybackStore)?
    /// Where playback keeps built audio files.
    public var cacheDir: String
    /// Podcast feed settings by show.
    public var feeds: [String: FeedSettings] = [:]

    public init(mode: String, cacheDir: String) {
        self.mode = mode
        self.cacheDir = cacheDir
    }
}

public enum ServerRouter {
    /// The whole router: middleware (request log, JSON errors, bearer token), then one group
    /// per API.
    public static func make(_ setup: ServerSetup) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: JSONErrorMiddleware())
        if let token = setup.token { router.add(middleware: BearerTokenMiddleware(token: token)) }
        let root = router.group()
        let api = router.group("api")
        var monitor: Monitor?
        if let receiver = setup.receiver {
            monitor = .receiver(receiver)
        } else if let recorder = setup.recorder {
            monitor = .recorder(RecorderMonitor(source: recorder.source, sessions: recorder.options.sessions))
        }
        ReceiverAPI.addCommonRoutes(api: api, root: root, mode: setup.mode, monitor: monitor)
        if let recorder = setup.recorder {
            RecorderAPI.addRoutes(to: api.group("sync/shows"), source: recorder.source, options: recorder.options)
        }
        if let receiver = setup.receiver { ReceiverAPI.addSyncRoutes(to: api.group("sync"), state: receiver) }
        if let playback = setup.playback {
            PlaybackAPI.addRoutes(api: api, files: root, store: playback, cacheDir: setup.cacheDir, feeds: setup.feeds)
            ReceiverAPI.addUIRoutes(to: root)
        }
        return router
    }
}
