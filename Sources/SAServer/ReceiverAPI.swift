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

/// Sync status and trigger, and the web UI's static files.
public enum ReceiverAPI {
    public static func registerSync<Context: RequestContext>(on router: Router<Context>, state: ReceiverState) {
        router.get("/api/sync/status") { _, _ in API.json(state.statusJSON()) }
        router.post("/api/sync") { _, _ in
            if state.triggerSync("manual") {
                return API.json(.object([("started", true)]), status: .accepted)
            }
            return API.error(SAError(.conflict, "a sync pass is already running"))
        }
    }

    public static func registerCommon<Context: RequestContext>(on router: Router<Context>, mode: String, monitor: Monitor? = nil) {
        router.get("/api/health") { _, _ in
            guard let monitor else { return API.json(.object([("status", "ok")])) }
            return await API.respond {
                let problems = monitor.problems()
                if problems.isEmpty { return API.json(.object([("status", "ok")])) }
                let text = problems.map { "show '\($0.show)': \($0.message)" }.joined(separator: "; ")
                return API.json(.object([("status", "failing"), ("error", .string(text)),
                                         ("shows", .array(problems.map { .object([("show", .string($0.show)), ("problem", .string($0.message))]) }))]),
                                status: .serviceUnavailable)
            }
        }
        if let monitor {
            router.get("/metrics") { _, _ in
                await API.respond { API.bytes(Array(monitor.metrics().utf8), contentType: PrometheusText.contentType) }
            }
        }
        router.get("/api/mode") { _, _ in API.json(.object([("mode", .string(mode))])) }
        router.get("/api/openapi.json") { _, _ in
            API.bytes(Array(OpenAPIDocument.json.utf8), contentType: "application/json; charset=utf-8")
        }
    }

    public static func registerUI<Context: RequestContext>(on router: Router<Context>) {
        for (path, asset) in WebAssets.files {
            let route = path == "index.html" ? "/" : "/\(path)"
            router.get(RouterPath(stringLiteral: route)) { _, _ in
                var r = API.bytes(Array(asset.body.utf8), contentType: asset.contentType)
                r.headers[.cacheControl] = "no-cache"
                return r
            }
        }
    }
}
