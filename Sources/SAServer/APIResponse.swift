import Foundation
import HTTPTypes
import Hummingbird
import SACommon

/// Errors of the HTTP API, each with its status; the body is always `{"error": "..."}`.
struct APIError: Error {
    var status: HTTPResponse.Status
    var message: String
    /// A machine-readable reason beside the message, when a client acts on it.
    var code: String? = nil

    static func notFound(_ m: String) -> APIError { APIError(status: .notFound, message: m) }
    static func badRequest(_ m: String) -> APIError { APIError(status: .badRequest, message: m) }
    static func forbidden(_ m: String) -> APIError { APIError(status: .forbidden, message: m) }

    /// The wire form of any error: known ones keep their status; SAError codes map to one;
    /// anything else is a real fault (500).
    static func from(_ error: any Error) -> APIError {
        if let e = error as? APIError { return e }
        if let e = error as? SAError {
            switch e.code {
            case "not_found": return .notFound(e.message)
            case "recipient", "forbidden": return .forbidden(e.message)
            case "conflict", "locked": return APIError(status: .conflict, message: e.message)
            case "bad_param", "bad_show_name", "usage": return .badRequest(e.message)
            case "auth": return APIError(status: .unauthorized, message: e.message)
            case "unavailable": return APIError(status: .serviceUnavailable, message: e.message)
            case "not_a_show_database": return .notFound(e.message)
            default: return APIError(status: .internalServerError, message: e.message)
            }
        }
        return APIError(status: .internalServerError, message: String(describing: error))
    }
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

    static func error(_ e: APIError) -> Response {
        json(.object([("error", .string(e.message))] + (e.code.map { [("code", .string($0))] } ?? [])), status: e.status)
    }

    /// Runs blocking database work off the event loop and turns errors into their wire form.
    static func respond(_ body: @escaping @Sendable () throws -> Response) async -> Response {
        await withCheckedContinuation { (cont: CheckedContinuation<Response, Never>) in
            DispatchQueue.global().async {
                do {
                    cont.resume(returning: try body())
                } catch {
                    cont.resume(returning: API.error(APIError.from(error)))
                }
            }
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
            var r = API.error(APIError(status: .unauthorized, message: header.isEmpty ? "missing bearer token" : "wrong bearer token"))
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
            return API.error(APIError(status: e.status, message: e.body ?? "\(e.status.code) \(e.status.reasonPhrase)"))
        } catch {
            return API.error(APIError.from(error))
        }
    }
}
