import Foundation
import Hummingbird
import SACommon

/// What `/metrics` and `/api/health` report: the recorder's shows or the receiver's passes.
public struct Monitor: Sendable {
    public var metrics: @Sendable () -> String
    public var problems: @Sendable () -> [(show: String, message: String)]

    public static func recorder(_ m: RecorderMonitor) -> Monitor {
        Monitor(metrics: { m.metricsText() }, problems: { m.problems() })
    }

    public static func receiver(_ r: ReceiverState) -> Monitor {
        Monitor(metrics: { r.metricsText() }, problems: { [] })
    }
}

/// Routes every mode has (health, metrics, mode, the OpenAPI document), the receiver's sync
/// status and trigger, and the web UI's static files.
public enum ReceiverAPI {
    /// Under `sync`, the `/api/sync` group.
    public static func addSyncRoutes<Context: RequestContext>(to sync: RouterGroup<Context>, state: ReceiverState) {
        sync.get("status") { _, _ in API.json(state.statusJSON()) }
        sync.post { _, _ in
            if state.triggerSync("manual") {
                return API.json(.object([("started", true)]), status: .accepted)
            }
            return API.error(SAError(.conflict, "a sync pass is already running"))
        }
    }

    /// `api` is the `/api` group, `root` the root (for `/metrics`, where Prometheus looks).
    public static func addCommonRoutes<Context: RequestContext>(api: RouterGroup<Context>, root: RouterGroup<Context>, mode: String,
                                                                monitor: Monitor? = nil) {
        api.getOnPool("health", threads: API.monitorPool) { r in
            guard let monitor else { return API.json(.object([("status", "ok")])) }
            let problems = monitor.problems()
            if problems.isEmpty { return API.json(.object([("status", "ok")])) }
            let text = problems.map { "show '\($0.show)': \($0.message)" }.joined(separator: "; ")
            return API.json(.object([("status", "failing"), ("error", .string(text)),
                                     ("shows", .array(problems.map { .object([("show", .string($0.show)), ("problem", .string($0.message))]) }))]),
                            status: .serviceUnavailable)
        }
        if let monitor {
            root.getOnPool("metrics", threads: API.monitorPool) { _ in API.bytes(Array(monitor.metrics().utf8), contentType: PrometheusText.contentType) }
        }
        api.get("mode") { _, _ in API.json(.object([("mode", .string(mode))])) }
        api.get("openapi.json") { _, _ in
            API.bytes(PackageResources.openapi_json, contentType: "application/json; charset=utf-8")
        }
    }

    public static func addUIRoutes<Context: RequestContext>(to root: RouterGroup<Context>) {
        let files: [(path: String, type: String, body: [UInt8])] = [
            ("", "text/html; charset=utf-8", PackageResources.index_html),
            ("app.js", "text/javascript; charset=utf-8", PackageResources.app_js),
            ("style.css", "text/css; charset=utf-8", PackageResources.style_css),
        ]
        for file in files {
            root.get(RouterPath(stringLiteral: file.path)) { _, _ in
                var r = API.bytes(file.body, contentType: file.type)
                r.headers[.cacheControl] = "no-cache"
                return r
            }
        }
    }
}
