import Foundation
import HTTPTypes
import Hummingbird
import NIOPosix
import SACommon

/// Errors leave the HTTP API as `{"error": message, "code": word}` with the status their code
/// owns; Hummingbird renders a thrown `SAError` the same way.
extension SAError: HTTPResponseError {
    public var status: HTTPResponse.Status { HTTPResponse.Status(code: code.httpStatus) }

    public func response(from request: Request, context: some RequestContext) throws -> Response { API.error(self) }
}

enum API {
    static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Response {
        let bytes = Array((Redaction.userinfo(value.serialized()) + "\n").utf8)
        // A digest of the body (RFC 9530) lets sa-pull refuse an answer damaged on the way,
        // as the binary segment stream's CRC does for audio.
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8",
                                                  HTTPField.Name("Content-Digest")!: SHA256Hasher.contentDigest(bytes)],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func bytes(_ bytes: [UInt8], contentType: String) -> Response {
        Response(status: .ok, headers: [.contentType: contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func error(_ e: SAError) -> Response {
        json(.object([("error", .string(e.message)), ("code", .string(e.code.word))]), status: e.status)
    }

    /// The threads blocking work runs on. NIO's shared pool has one thread per core, and a
    /// request may block for seconds (a long section's first export, a database reconnect), so
    /// sa-serve keeps its own: sixteen, so that ten receivers pulling and a browser playing
    /// are not queued behind each other.
    static let pool = started(NIOThreadPool(numberOfThreads: 16))
    /// `/api/health` and `/metrics` have two threads of their own, so a monitor is answered
    /// even while every request thread waits on a long export or a database coming back.
    static let monitorPool = started(NIOThreadPool(numberOfThreads: 2))

    private static func started(_ p: NIOThreadPool) -> NIOThreadPool {
        p.start()
        return p
    }

    /// Runs blocking database work on a thread pool, off the event loops, and turns errors
    /// into their wire form.
    static func respond(on threads: NIOThreadPool = pool, _ body: @escaping @Sendable () throws -> Response) async -> Response {
        do {
            return try await threads.runIfActive { try body() }
        } catch let e as HTTPError {
            return error(e)
        } catch {
            return API.error(SAError.from(error))
        }
    }

    /// Hummingbird's own errors (no such route, a parameter of the wrong type): the same JSON
    /// body, their status.
    static func error(_ e: HTTPError) -> Response {
        var r = API.error(SAError(e.status.code == 404 ? .missing : .badParam, e.body ?? "\(e.status.code) \(e.status.reasonPhrase)"))
        r.status = e.status
        return r
    }
}

/// What a route's blocking body gets: the request and its route parameters, typed.
struct RouteInput: Sendable {
    let request: Request
    let parameters: Parameters

    /// The `:name` parameter.
    func show() throws -> String { try parameters.require("name") }
    /// An integer parameter (`:id`, `:section_id`); 400 when it is not one.
    func id(_ name: String) throws -> Int64 { try parameters.require(name, as: Int64.self) }

    /// `?from=…&to=…` (ISO 8601 or epoch milliseconds; `timezone=Area/City` for times written
    /// without a zone, default UTC); 400 naming what is wrong.
    func timeRange() throws -> (fromMs: Int64, toMs: Int64) {
        let q = request.uri.queryParameters
        guard let from = q.get("from"), let to = q.get("to") else { throw SAError(.badParam, "from and to are required") }
        var zone = TimeZone(identifier: "UTC")!
        if let name = q.get("timezone") {
            guard let z = TimeZone(identifier: name) else { throw SAError(.badParam, "unknown time zone '\(name)'") }
            zone = z
        }
        do {
            return (try TimeText.milliseconds(from, what: "from", timeZone: zone), try TimeText.milliseconds(to, what: "to", timeZone: zone))
        } catch let e as SAError {
            throw SAError(.badParam, e.message)
        }
    }
}

extension RouterGroup {
    /// A GET route whose body (database reads, building files) runs on the thread pool.
    @discardableResult
    func getOnPool(_ path: RouterPath = "", threads: NIOThreadPool = API.pool,
                   _ body: @escaping @Sendable (RouteInput) throws -> Response) -> Self {
        get(path) { request, context in
            let input = RouteInput(request: request, parameters: context.parameters)
            return await API.respond(on: threads) { try body(input) }
        }
    }
}

/// `Authorization: Bearer <token>` on every route but the health check.
public struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    public init(token: String) { self.token = token }
    let token: String

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/api/health" { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        // The scheme name is case-insensitive (RFC 9110 §11.1); the token is not.
        let scheme = header.prefix(7).lowercased()
        let presented = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        guard scheme == "bearer ", constantTimeEqual(presented, token) else {
            var r = API.error(SAError(.auth, header.isEmpty ? "missing bearer token" : "wrong bearer token"))
            r.headers[.wwwAuthenticate] = "Bearer"
            return r
        }
        return try await next(request, context)
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<min(x.count, y.count) { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// Turns any error a route throws into `{"error": ...}` with its status, never an HTML page.
public struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}
    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as HTTPError {
            return API.error(e)
        } catch {
            return API.error(SAError.from(error))
        }
    }
}
