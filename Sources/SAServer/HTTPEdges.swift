import Foundation
import Hummingbird
import NIOCore
import NIOHTTPTypes

/// Logs each request (method and path) at info, like Hummingbird's LogRequestsMiddleware, but
/// with the value of a `token` query parameter (a private feed's) replaced by `***`.
public struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        context.logger.info("Request", metadata: ["hb.request.path": .string(RequestLogMiddleware.redacted(request.uri.description)),
                                                  "hb.request.method": .string(request.method.rawValue)])
        return try await next(request, context)
    }

    static func redacted(_ uri: String) -> String {
        uri.replacingOccurrences(of: #"([?&]token=)[^&]*"#, with: "$1***", options: .regularExpression)
    }
}

/// HEAD is answered wherever GET is (RFC 9110 §9.3.2): the GET route runs, its status and
/// headers (Content-Length included) are kept and the body is dropped. It wraps the whole
/// router because routes are looked up before router middleware runs.
public struct HeadAsGet<Builder: HTTPResponderBuilder>: HTTPResponderBuilder {
    let builder: Builder
    public init(_ builder: Builder) { self.builder = builder }

    public func buildResponder() -> HeadAsGetResponder<Builder.Responder> { HeadAsGetResponder(inner: builder.buildResponder()) }
}

public struct HeadAsGetResponder<Inner: HTTPResponder>: HTTPResponder {
    let inner: Inner

    public func respond(to request: Request, context: Inner.Context) async throws -> Response {
        guard request.method == .head else { return try await inner.respond(to: request, context: context) }
        var head = request.head
        head.method = .get
        // Keeps the GET answer's Content-Length (setting `body` would reset it to 0).
        return try await inner.respond(to: Request(head: head, body: request.body), context: context).createHeadResponse()
    }
}

/// Closes connections that do not send a complete request head within `headerTimeout` of
/// connecting (a client trickling a header one byte at a time), and idle keep-alive
/// connections `idleTimeout` after their last response. A request being answered is never cut.
public final class ConnectionTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPRequestPart
    public typealias InboundOut = HTTPRequestPart
    public typealias OutboundIn = HTTPResponsePart
    public typealias OutboundOut = HTTPResponsePart

    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    private var timer: Scheduled<Void>?

    public init(headerTimeoutSeconds: Int, idleTimeoutSeconds: Int) {
        headerTimeout = .seconds(Int64(headerTimeoutSeconds))
        idleTimeout = .seconds(Int64(idleTimeoutSeconds))
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context, headerTimeout) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context, headerTimeout)
        context.fireChannelActive()
    }

    public func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) { disarm() }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { disarm() }
        context.fireChannelRead(data)
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) { arm(context, idleTimeout) }
        context.write(data, promise: promise)
    }

    private func arm(_ context: ChannelHandlerContext, _ after: TimeAmount) {
        timer?.cancel()
        let channel = context.channel
        timer = context.eventLoop.scheduleTask(in: after) { channel.close(promise: nil) }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
