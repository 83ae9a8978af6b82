import CCurl
import Foundation
import SACommon
import SAStore

/// The recorder's sync API, over libcurl (one easy handle, so the connection is reused).
public final class RemoteRecorder {
    public let baseURL: String
    let token: String?
    private let handle: UnsafeMutableRawPointer
    /// Segment requests made, for the tests of chunking.

    public init(baseURL: String, token: String?) throws {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw SAError.config("remote_url '\(baseURL)' must start with http:// or https://")
        }
        self.baseURL = base
        self.token = token
        curl_global_init(Int(CURL_GLOBAL_ALL))
        guard let h = curl_easy_init() else { throw SAError.internalError("curl_easy_init failed") }
        handle = h
    }

    deinit { curl_easy_cleanup(handle) }

    struct Response {
        var status: Int
        var body: [UInt8]
        var contentType: String?
    }

    private final class Sink {
        var body: [UInt8] = []
        var contentType: String?
        var contentDigest: String?
    }

    /// GET `path`; network failures are `unavailable` (69), 401/403 are `auth` (77).
    func get(_ path: String, accept: String = "application/json") throws -> Response {
        let url = baseURL + path
        let sink = Sink()
        var headers: UnsafeMutablePointer<curl_slist>? = curl_slist_append(nil, "Accept: \(accept)")
        if let token { headers = curl_slist_append(headers, "Authorization: Bearer \(token)") }
        defer { curl_slist_free_all(headers) }
        var errbuf = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        curl_easy_reset(handle)
        sa_curl_setup_get(handle, url, headers, "sa-pull/\(ToolInfo.version)", 10, 60, &errbuf)
        let ctx = Unmanaged.passUnretained(sink).toOpaque()
        _ = sa_curl_set_data_cb(handle, CURLOPT_WRITEFUNCTION, { ptr, size, n, ctx in
            let sink = Unmanaged<Sink>.fromOpaque(ctx!).takeUnretainedValue()
            let len = size * n
            if let ptr { sink.body.append(contentsOf: UnsafeRawBufferPointer(start: ptr, count: len)) }
            return len
        })
        _ = sa_curl_set_ptr(handle, CURLOPT_WRITEDATA, ctx)
        _ = sa_curl_set_data_cb(handle, CURLOPT_HEADERFUNCTION, { ptr, size, n, ctx in
            let sink = Unmanaged<Sink>.fromOpaque(ctx!).takeUnretainedValue()
            let len = size * n
            guard let ptr else { return len }
            let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: len), as: UTF8.self)
            if line.hasPrefix("HTTP/") { sink.contentDigest = nil }  // a new response (after a redirect)
            if line.lowercased().hasPrefix("content-digest:") {
                sink.contentDigest = String(line.dropFirst("content-digest:".count)).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            return len
        })
        _ = sa_curl_set_ptr(handle, CURLOPT_HEADERDATA, ctx)
        let rc = curl_easy_perform(handle)
        guard rc == CURLE_OK else {
            let detail = String(cString: errbuf)
            throw SAError(.unavailable,
                          "cannot reach \(url): \(detail.isEmpty ? String(cString: curl_easy_strerror(rc)) : detail)")
        }
        var status = 0
        _ = sa_curl_get_long(handle, CURLINFO_RESPONSE_CODE, &status)
        var ct: UnsafeMutablePointer<CChar>? = nil
        if sa_curl_get_str(handle, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK, let ct { sink.contentType = String(cString: ct) }
        let response = Response(status: status, body: sink.body, contentType: sink.contentType)
        // A body that does not match its digest was damaged on the way: nothing of it is used.
        if let digest = sink.contentDigest, digest.hasPrefix("sha-256="), digest != SHA256Hasher.contentDigest(sink.body) {
            throw SAError(.corrupt, "\(url): the answer does not match its Content-Digest (damaged on the way); try again")
        }
        guard (200..<300).contains(status) else {
            // Only printable text of a body goes into a message.
            let message = (try? JSONValue.parse(String(decoding: sink.body, as: UTF8.self)))?["error"]?.stringValue
                ?? String(String(decoding: sink.body.prefix(200), as: UTF8.self).unicodeScalars
                    .map { $0.value < 0x20 || $0.value == 0x7F ? " " : Character($0) })
            switch status {
            case 401:
                throw SAError(.auth, "\(url): 401 \(message) (check api_token_profile and its token)")
            case 403: throw SAError(.forbidden, "\(url): 403 \(message)")
            case 404:
                let code = (try? JSONValue.parse(String(decoding: sink.body, as: UTF8.self)))?["code"]?.stringValue
                if code == "not_recorded_yet" { throw SAError(.notRecordedYet, "\(url): 404 \(message)") }
                throw SAError(.missing, "\(url): 404 \(message)")
            default: throw SAError(.unavailable, "\(url): HTTP \(status) \(message)")
            }
        }
        return response
    }

    func json(_ path: String) throws -> JSONValue {
        let r = try get(path)
        do {
            return try JSONValue.parse(String(decoding: r.body, as: UTF8.self))
        } catch {
            throw SAError(.badResponse, "\(baseURL)\(path) did not answer JSON")
        }
    }

    static func escape(_ name: String) -> String {
        name.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? name
    }

    public func shows() throws -> [String] {
        guard case .array(let list)? = try json("/api/sync/shows")["shows"] else {
            throw SAError(.badResponse, "\(baseURL)/api/sync/shows: no 'shows' list")
        }
        return list.compactMap { $0["name"]?.stringValue }
    }

    public func metadata(show: String) throws -> JSONValue {
        try json("/api/sync/shows/\(RemoteRecorder.escape(show))/metadata")
    }

    public func sections(show: String) throws -> [SectionInfo] {
        guard case .array(let list) = try json("/api/sync/shows/\(RemoteRecorder.escape(show))/sections") else {
            throw SAError(.badResponse, "sections of \(show): not a list")
        }
        return try list.map(SectionInfo.init(json:))
    }

    public func titles(show: String, afterID: Int64) throws -> [TitleRecord] {
        guard case .array(let list) = try json("/api/sync/shows/\(RemoteRecorder.escape(show))/titles?after_id=\(afterID)") else {
            throw SAError(.badResponse, "titles of \(show): not a list")
        }
        return list.compactMap { v in
            guard let id = v["id"]?.intValue, let s = v["section_id"]?.intValue, let t = v["timestamp_ms"]?.intValue,
                  let title = v["title"]?.stringValue else { return nil }
            return TitleRecord(id: id, sectionID: s, timestampMs: t, title: title)
        }
    }

    /// One chunk of segments in the binary form, checked before anything is used.
    public func segments(show: String, startID: Int64, endID: Int64, limit: Int) throws -> [SegmentRecord] {
        let r = try get("/api/sync/shows/\(RemoteRecorder.escape(show))/segments?start_id=\(startID)&end_id=\(endID)&limit=\(limit)",
                        accept: SegmentStream.contentType)
        guard r.contentType?.hasPrefix(SegmentStream.contentType) == true else {
            throw SAError(.badResponse, "\(baseURL) answered segments as \(r.contentType ?? "?"), not \(SegmentStream.contentType)")
        }
        return try SegmentStream.decode(r.body)
    }
}
