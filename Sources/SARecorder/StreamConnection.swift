import CCurl
import Foundation
import SACommon

/// What the server said before the audio.
public struct StreamResponse: Sendable {
    public var status: Int = 0
    public var headers: [String: String] = [:]  // lower-cased names, last value wins
    public var effectiveURL: String = ""
    public var isICY = false

    public var contentType: String? { headers["content-type"] }
    public var metaint: Int? { headers["icy-metaint"].flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    public var date: Date? { headers["date"].flatMap(HTTPDate.parse) }
}

public enum HTTPDate {
    public static func parse(_ s: String) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            f.dateFormat = format
            if let d = f.date(from: s.trimmingCharacters(in: .whitespaces)) { return d }
        }
        return nil
    }
}

/// How a connection ended.
public enum StreamEnd: Equatable, Sendable {
    case serverClosed  // the server ended the body
    case stalled  // no bytes for the stall timeout
    case stopped  // our stop condition (window end, duration, signal)
    case failed(String)  // connect error, HTTP error, bad content, …
}

/// One HTTP(S)/ICY GET of a stream through libcurl, delivering body bytes as they arrive.
/// Redirects are followed; `ICY 200 OK` answers (Shoutcast v1) are accepted and their header
/// block is parsed out of the body.
public final class StreamConnection {
    public let url: String
    public let stallTimeout: Int
    public var connectTimeout: Int

    fileprivate var response = StreamResponse()
    fileprivate var sawStatusLine = false
    fileprivate var responseDelivered = false
    fileprivate var icyPreamble: [UInt8]? = nil
    fileprivate var onResponse: ((StreamResponse) throws -> Void)!
    fileprivate var onData: ((UnsafeRawBufferPointer) throws -> Void)!
    fileprivate var shouldStop: (() -> Bool)!
    fileprivate var callbackError: (any Error)?
    fileprivate var stoppedByUs = false
    fileprivate var bodyBytes = 0
    /// When the last body byte arrived (monotonic seconds); a stall is timed from it.
    fileprivate var lastByteAt: Double = 0
    fileprivate var stalledByUs = false
    fileprivate var curl: UnsafeMutableRawPointer?

    public let caFile: String?

    public init(url: String, stallTimeout: Int, connectTimeout: Int = 15, caFile: String? = nil) {
        self.caFile = caFile
        self.url = url
        self.stallTimeout = stallTimeout
        self.connectTimeout = connectTimeout
    }

    public static func globalInit() { curl_global_init(Int(CURL_GLOBAL_ALL)) }

    /// Blocks until the transfer ends. `onResponse` sees the headers before the first body byte
    /// and may throw to refuse the stream; `onData` gets the body (ICY metadata still inside).
    public func run(shouldStop: @escaping () -> Bool,
                    onResponse: @escaping (StreamResponse) throws -> Void,
                    onData: @escaping (UnsafeRawBufferPointer) throws -> Void) -> StreamEnd {
        guard let h = curl_easy_init() else { return .failed("curl_easy_init failed") }
        defer { curl_easy_cleanup(h) }
        curl = h
        self.onResponse = onResponse
        self.onData = onData
        self.shouldStop = shouldStop
        var headers: UnsafeMutablePointer<curl_slist>? = nil
        headers = curl_slist_append(headers, "Icy-MetaData: 1")
        defer { curl_slist_free_all(headers) }
        var errbuf = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        sa_curl_setup_get(h, url, headers, "save_audio_stream/\(ToolInfo.version)", connectTimeout, stallTimeout, &errbuf)
        _ = sa_curl_set_long(h, CURLOPT_HTTP09_ALLOWED, 1)
        _ = sa_curl_set_long(h, CURLOPT_FAILONERROR, 1)
        _ = sa_curl_set_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        // Certificates are always verified; ca_file replaces the system's store when set.
        _ = sa_curl_set_long(h, CURLOPT_SSL_VERIFYPEER, 1)
        _ = sa_curl_set_long(h, CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile { _ = sa_curl_set_str(h, CURLOPT_CAINFO, caFile) }
        _ = sa_curl_set_str(h, CURLOPT_ACCEPT_ENCODING, "identity")
        _ = sa_curl_set_long(h, CURLOPT_NOPROGRESS, 0)
        let me = Unmanaged.passUnretained(self).toOpaque()
        _ = sa_curl_set_data_cb(h, CURLOPT_HEADERFUNCTION, headerCallback)
        _ = sa_curl_set_ptr(h, CURLOPT_HEADERDATA, me)
        _ = sa_curl_set_data_cb(h, CURLOPT_WRITEFUNCTION, writeCallback)
        _ = sa_curl_set_ptr(h, CURLOPT_WRITEDATA, me)
        _ = sa_curl_set_xfer_cb(h, CURLOPT_XFERINFOFUNCTION, progressCallback)
        _ = sa_curl_set_ptr(h, CURLOPT_XFERINFODATA, me)

        let rc = curl_easy_perform(h)
        if let callbackError {
            return .failed(String(describing: callbackError))
        }
        if stoppedByUs { return .stopped }
        if stalledByUs { return .stalled }
        var code = 0
        _ = sa_curl_get_long(h, CURLINFO_RESPONSE_CODE, &code)
        switch rc {
        case CURLE_OK:
            // A body that ends before any audio byte arrived counts as a failure.
            if !responseDelivered {
                finishResponseIfNeeded(h: nil)
                if let callbackError { return .failed(String(describing: callbackError)) }
                return bodyBytes == 0 ? .failed("the server sent an empty body (HTTP \(code))") : .serverClosed
            }
            return .serverClosed
        case CURLE_OPERATION_TIMEDOUT where bodyBytes > 0:
            return .stalled
        case CURLE_HTTP_RETURNED_ERROR:
            return .failed("HTTP \(code) from \(url)")
        default:
            let detail = String(cString: errbuf)
            return .failed(detail.isEmpty ? String(cString: curl_easy_strerror(rc)) : detail)
        }
    }

    fileprivate func receivedHeader(_ bytes: UnsafeRawBufferPointer) -> Bool {
        header(String(decoding: bytes, as: UTF8.self))
        return true
    }

    fileprivate func receivedBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if shouldStop() {
            stoppedByUs = true
            return false
        }
        return body(bytes, handle: curl)
    }

    private func header(_ line: String) {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("HTTP/") || trimmed.hasPrefix("ICY ") {
            // A new response (redirects give several): start over.
            response = StreamResponse()
            sawStatusLine = true
            let parts = trimmed.split(separator: " ")
            if parts.count >= 2 { response.status = Int(parts[1]) ?? 0 }
            response.isICY = trimmed.hasPrefix("ICY ")
            return
        }
        guard let colon = trimmed.firstIndex(of: ":") else { return }
        let name = trimmed[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
        let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        response.headers[name] = value
    }

    fileprivate func finishResponseIfNeeded(h: UnsafeMutableRawPointer?) {
        guard !responseDelivered else { return }
        responseDelivered = true
        if let h {
            var p: UnsafeMutablePointer<CChar>? = nil
            if sa_curl_get_str(h, CURLINFO_EFFECTIVE_URL, &p) == CURLE_OK, let p { response.effectiveURL = String(cString: p) }
            if response.status == 0 {
                var code = 0
                _ = sa_curl_get_long(h, CURLINFO_RESPONSE_CODE, &code)
                response.status = code
            }
        }
        if response.effectiveURL.isEmpty { response.effectiveURL = url }
        do { try onResponse(response) } catch { callbackError = error }
    }

    /// Body bytes. For an HTTP/0.9-style answer starting with `ICY 200 OK`, the header block is
    /// read out of the body first.
    fileprivate func body(_ bytes: UnsafeRawBufferPointer, handle: UnsafeMutableRawPointer?) -> Bool {
        bodyBytes += bytes.count
        lastByteAt = monotonicSeconds()
        if !sawStatusLine && !responseDelivered {
            var pre = icyPreamble ?? []
            pre.append(contentsOf: bytes)
            if pre.count < 4 && icyPreamble == nil { icyPreamble = pre; return true }
            if pre.starts(with: Array("ICY ".utf8)) || pre.starts(with: Array("HTTP/".utf8)) {
                if let end = findHeaderEnd(pre) {
                    let text = String(decoding: pre[0..<end], as: UTF8.self)
                    for line in text.components(separatedBy: .newlines) where !line.isEmpty { header(line) }
                    icyPreamble = nil
                    finishResponseIfNeeded(h: handle)
                    if callbackError != nil { return false }
                    let headerLen = end + (pre[end] == 0x0D ? 4 : 2)
                    return deliver(Array(pre[headerLen...]))
                }
                if pre.count > 16384 {
                    callbackError = SAError(.unsupported, "the ICY header block is too long")
                    return false
                }
                icyPreamble = pre
                return true
            }
            icyPreamble = nil
            finishResponseIfNeeded(h: handle)
            if callbackError != nil { return false }
            return deliver(pre)
        }
        finishResponseIfNeeded(h: handle)
        if callbackError != nil { return false }
        return deliver(bytes)
    }

    private func deliver(_ bytes: [UInt8]) -> Bool {
        bytes.isEmpty || bytes.withUnsafeBytes { deliver($0) }
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer) -> Bool {
        do {
            try onData(bytes)
        } catch {
            callbackError = error
            return false
        }
        return true
    }

    private func findHeaderEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 2 else { return nil }
        for i in 0..<(b.count - 1) {
            if b[i] == 0x0A && b[i + 1] == 0x0A { return i }
            if i + 3 < b.count, b[i] == 0x0D, b[i + 1] == 0x0A, b[i + 2] == 0x0D, b[i + 3] == 0x0A { return i }
        }
        return nil
    }

    fileprivate func progress() -> Bool {
        if shouldStop() {
            stoppedByUs = true
            return false
        }
        // curl's low-speed check averages over seconds, which noticed a stall up to 6 s late;
        // this one counts from the last byte (curl calls here about once a second while idle).
        if bodyBytes > 0, monotonicSeconds() - lastByteAt >= Double(stallTimeout) {
            stalledByUs = true
            return false
        }
        return true
    }
}


/// curl's header and write callbacks: the bytes go to the connection behind `ctx`; its false
/// aborts the transfer.
private func deliver(_ ptr: UnsafeMutablePointer<CChar>?, _ len: Int, _ ctx: UnsafeMutableRawPointer?,
                     to method: (StreamConnection) -> (UnsafeRawBufferPointer) -> Bool) -> Int {
    guard let ptr else { return len }
    let conn = Unmanaged<StreamConnection>.fromOpaque(ctx!).takeUnretainedValue()
    return method(conn)(UnsafeRawBufferPointer(start: ptr, count: len)) ? len : 0
}

private func headerCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ n: Int, _ ctx: UnsafeMutableRawPointer?) -> Int {
    deliver(ptr, size * n, ctx, to: StreamConnection.receivedHeader)
}

private func writeCallback(_ ptr: UnsafeMutablePointer<CChar>?, _ size: Int, _ n: Int, _ ctx: UnsafeMutableRawPointer?) -> Int {
    deliver(ptr, size * n, ctx, to: StreamConnection.receivedBody)
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func progressCallback(_ ctx: UnsafeMutableRawPointer?, _ a: curl_off_t, _ b: curl_off_t, _ c: curl_off_t, _ d: curl_off_t) -> Int32 {
    let conn = Unmanaged<StreamConnection>.fromOpaque(ctx!).takeUnretainedValue()
    return conn.progress() ? 0 : 1
}
