import Foundation
import Hummingbird
import SACommon

/// Sync status and trigger, and the web UI's static files.
public enum ReceiverAPI {
    public static func registerSync<Context: RequestContext>(on router: Router<Context>, state: ReceiverState) {
        router.get("/api/sync/status") { _, _ in API.json(state.statusJSON()) }
        router.post("/api/sync") { _, _ in
            if state.triggerSync("manual") {
                return API.json(.object([("started", true)]), status: .accepted)
            }
            return API.error(APIError(status: .conflict, message: "a sync pass is already running"))
        }
    }

    public static func registerCommon<Context: RequestContext>(on router: Router<Context>, mode: String) {
        router.get("/api/health") { _, _ in API.json(.object([("status", "ok")])) }
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
