import Foundation
import Hummingbird
import SACommon
import SAExport
import SAStore
import SAStorePostgres

/// Where the playback API finds shows: the receiver store, or one recorder database (`--db`).
public protocol PlaybackStore: AnyObject, Sendable {
    func showNames() throws -> [String]
    func database(_ show: String) throws -> ShowDBPool
}

extension ReceiverState: PlaybackStore {}

/// `sa-serve --db FILE`: one database, read-only.
public final class SingleDatabaseStore: PlaybackStore, @unchecked Sendable {
    let name: String
    let pooled: ShowDBPool

    public init(path: String) throws {
        let db = try ShowDB.open(db: path, password: nil, readOnly: true)
        name = try db.metadata()[MetaKey.name] ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        pooled = ShowDBPool(size: 4) { try ShowDB.open(db: path, password: nil, readOnly: true) }
    }

    public func showNames() throws -> [String] { [name] }

    public func database(_ show: String) throws -> ShowDBPool {
        guard show == name else { throw SAError(.missing, "unknown show '\(show)'") }
        return pooled
    }
}

/// Built HLS segments, by show, session and segment id. A stored segment never changes (ids are
/// never reused and pruning removes whole sessions), so neither does its fragment.
final class SegmentCache: @unchecked Sendable {
    private let lock = NSLock()
    /// Kept as the response body itself: a cached answer shares its storage, never copied.
    private var entries: [String: ByteBuffer] = [:]
    private var order: [String] = []
    private var bytes = 0
    let limit: Int

    init(limit: Int = 64 << 20) { self.limit = limit }

    func get(_ key: String) -> ByteBuffer? {
        lock.lock()
        defer { lock.unlock() }
        return entries[key]
    }

    func put(_ key: String, _ value: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        guard entries[key] == nil else { return }
        entries[key] = ByteBuffer(bytes: value)
        order.append(key)
        bytes += value.count
        while bytes > limit, !order.isEmpty {
            let old = order.removeFirst()
            bytes -= entries.removeValue(forKey: old)?.readableBytes ?? 0
        }
    }
}

/// Per-session audio files, made with the export code and kept while the section is unchanged.
final class AudioCache: @unchecked Sendable {
    let dir: String
    private let lock = NSLock()
    private var entries: [String: (lastSegment: Int64, path: String)] = [:]

    init(dir: String) { self.dir = dir }

    func file(show: String, database: ShowDBPool, section: Int64) throws -> (path: String, format: AudioFormat) {
        let info: SectionInfo? = try database.with { try $0.section(section) }
        guard let info, info.segments > 0 else { throw SAError(.missing, "unknown session \(section) of '\(show)'") }
        let format = AudioFormat(rawValue: try database.with { try $0.metadata()[MetaKey.audioFormat] } ?? "") ?? .opus
        let key = "\(show)/\(section)"
        lock.lock()
        if let e = entries[key], e.lastSegment == info.lastSegmentID, FileManager.default.fileExists(atPath: e.path) {
            lock.unlock()
            return (e.path, format)
        }
        lock.unlock()
        let outDir = (dir as NSString).appendingPathComponent(show)
        var result: ExportResult?
        for _ in 0..<600 {
            do {
                result = try database.with {
                    try SectionExporter.export(database: $0, sectionID: section, outputDir: outDir, includeOpen: true, recordBookkeeping: false)
                }
                break
            } catch let e as SAError where e.code == .conflict {
                usleep(50_000)  // another request is making the same file
            }
        }
        guard let result else { throw SAError(.busy, "session \(section) is busy; try again") }
        lock.lock()
        entries[key] = (info.lastSegmentID ?? 0, result.filePath)
        lock.unlock()
        return (result.filePath, format)
    }
}

extension AudioCache {
    /// Longer ranges are for sa-export: a file per request of a whole archive would fill the disk.
    static let maxRangeMs: Int64 = 25 * 3_600_000
    /// Range files kept per show; the least recently used go first.
    static let rangeCacheBytes: Int64 = 1 << 30

    func rangeDirectory(_ show: String) -> String { (dir as NSString).appendingPathComponent("\(show)/ranges") }

    /// A time range of a show as one file, made with the export code (see `RangeExporter`).
    func range(show: String, database: ShowDBPool, fromMs: Int64, toMs: Int64, format: AudioFormat? = nil) throws
        -> (path: String, downloadName: String, format: AudioFormat)
    {
        guard toMs - fromMs <= AudioCache.maxRangeMs else {
            throw SAError(.badParam, "a range over HTTP is at most 25 hours; sa-export --from --to exports longer ones")
        }
        let directory = rangeDirectory(show)
        for _ in 0..<600 {
            do {
                let made = try database.with {
                    try RangeExporter.joinedFile(database: $0, fromMs: fromMs, toMs: toMs, format: format, directory: directory)
                }
                trim(directory, keepBytes: AudioCache.rangeCacheBytes)
                return (made.path, made.downloadName, made.plan.format)
            } catch let e as SAError where e.code == .conflict {
                usleep(50_000)  // another request is making the same file
            }
        }
        throw SAError(.busy, "that range of '\(show)' is busy; try again")
    }

    /// Deletes the least recently used range files until the rest fit in `keepBytes`.
    func trim(_ directory: String, keepBytes: Int64) {
        let fm = FileManager.default
        guard let names = try? fm.contentsOfDirectory(atPath: directory) else { return }
        var files: [(path: String, used: Date, bytes: Int64)] = []
        for name in names where name.hasPrefix("range_") {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let a = try? fm.attributesOfItem(atPath: path), let used = a[.modificationDate] as? Date,
                  let bytes = (a[.size] as? NSNumber)?.int64Value else { continue }
            files.append((path, used, bytes))
        }
        var total = files.reduce(0) { $0 + $1.bytes }
        for f in files.sorted(by: { $0.used < $1.used }) where total > keepBytes {
            unlink(f.path)  // a response still reading it keeps its open file
            total -= f.bytes
        }
    }
}

/// The receiver's playback API: shows, metadata, sessions by time range, titles,
/// segment estimates, per-session audio with HTTP ranges, and HLS playlists.
public enum PlaybackAPI {
    /// `api` is the `/api` group (JSON), `files` the root (audio, playlists, fragments).
    public static func addRoutes<Context: RequestContext>(api: RouterGroup<Context>, files: RouterGroup<Context>, store: any PlaybackStore,
                                                          cacheDir: String, feeds: [String: FeedSettings] = [:]) {
        let cache = AudioCache(dir: cacheDir)
        PodcastFeed.addRoutes(to: files, store: store, cache: cache, feeds: feeds)
        let segments = SegmentCache()
        let show = api.group("show/:name")
        let session = show.group("session/:id")
        let media = files.group("show/:name/session/:id")

        api.getOnPool("shows") { r in
            var list: [JSONValue] = []
            for name in try store.showNames() {
                guard let db = try? store.database(name) else { continue }
                let (meta, sections) = try db.with { (try $0.metadata(), try $0.sections()) }
                let withAudio = sections.filter { $0.segments > 0 }
                let rate = AudioFormat.sampleRate(stored: meta[MetaKey.sampleRate], format: meta[MetaKey.audioFormat])
                list.append(.object([
                    ("name", .string(name)), ("audio_format", .string(meta[MetaKey.audioFormat] ?? "")),
                    ("bitrate", .string(meta[MetaKey.bitrate] ?? "")), ("sample_rate", .string(meta[MetaKey.sampleRate] ?? "")),
                    ("sessions", .int(Int64(withAudio.count))),
                    ("first_start_ms", withAudio.first.map { .int($0.startTimestampMs) } ?? .null),
                    ("last_end_ms", withAudio.last.map { .int($0.startTimestampMs + $0.durationSamples * 1000 / rate) } ?? .null),
                ]))
            }
            return API.json(.object([("shows", .array(list))]))
        }

        show.getOnPool("metadata") { r in
            let name = try r.show()
            let meta = try store.database(name).with { try $0.metadata() }
            return API.json(.object(meta.keys.sorted().map { ($0, .string(meta[$0]!)) }))
        }

        show.getOnPool("sessions") { r in
            let name = try r.show()
            let q = r.request.uri.queryParameters
            let fromText = q.get("from_ms"), toText = q.get("to_ms")
            let from = try RecorderAPI.integer(fromText, "from_ms", default: 0, min: 0)
            let to = try RecorderAPI.integer(toText, "to_ms", default: Int64.max, min: 0)
            guard from <= to else { throw SAError(.badParam, "from_ms is after to_ms") }
            let db = try store.database(name)
            let (meta, sections) = try db.with { (try $0.metadata(), try $0.sections()) }
            let rate = AudioFormat.sampleRate(stored: meta[MetaKey.sampleRate], format: meta[MetaKey.audioFormat])
            var list: [JSONValue] = []
            for s in sections where s.segments > 0 {
                let end = s.startTimestampMs + s.durationSamples * 1000 / rate
                // A session overlapping the range is included.
                guard end >= from && s.startTimestampMs <= to else { continue }
                let titles = try db.with { try $0.titles(section: s.id) }.count
                list.append(.object([
                    ("section_id", .int(s.id)), ("start_ms", .int(s.startTimestampMs)), ("end_ms", .int(end)),
                    ("duration_ms", .int(end - s.startTimestampMs)), ("segments", .int(s.segments)),
                    ("first_segment_id", s.firstSegmentID.map { .int($0) } ?? .null),
                    ("last_segment_id", s.lastSegmentID.map { .int($0) } ?? .null),
                    ("is_open", .bool(s.isOpen)), ("titles", .int(Int64(titles))),
                ]))
            }
            return API.json(.object([("show", .string(name)), ("audio_format", .string(meta[MetaKey.audioFormat] ?? "")),
                                     ("sessions", .array(list))]))
        }

        session.getOnPool("titles") { r in
            let name = try r.show(), id = try r.id("id")
            let db = try store.database(name)
            guard let s = try db.with({ try $0.section(id) }) else { throw SAError(.missing, "unknown session \(id) of '\(name)'") }
            let titles = try db.with { try $0.titles(section: id) }
            return API.json(.array(titles.map {
                .object([("timestamp_ms", .int($0.timestampMs)), ("offset_seconds", .double(Double(max(0, $0.timestampMs - s.startTimestampMs)) / 1000)),
                         ("title", .string($0.title))])
            }))
        }

        session.getOnPool("estimate_segment") { r in
            let name = try r.show(), id = try r.id("id")
            let tsText = r.request.uri.queryParameters.get("timestamp_ms")
            guard let tsText, let ts = Int64(tsText) else { throw SAError(.badParam, "timestamp_ms is required") }
            let db = try store.database(name)
            let rate = try db.with { try $0.sampleRate() }
            guard let s = try db.with({ try $0.section(id) }), let first = s.firstSegmentID, let last = s.lastSegmentID else {
                throw SAError(.missing, "unknown session \(id) of '\(name)'")
            }
            let end = s.startTimestampMs + s.durationSamples * 1000 / rate
            guard ts >= s.startTimestampMs && ts <= end else {
                throw SAError(.badParam, "timestamp \(ts) is outside session \(id) (\(s.startTimestampMs) – \(end))")
            }
            // Walk the real segment timestamps rather than assuming equal lengths.
            var found = first
            for seg in try db.with({ try $0.timeline(section: id) }) where seg.timestampMs <= ts { found = seg.id }
            return API.json(.object([("section_id", .int(id)), ("estimated_segment_id", .int(min(found, last))), ("timestamp_ms", .int(ts))]))
        }

        // Per-session audio a browser's <audio> plays and seeks: .ogg (Opus) or .aac (AAC).
        for ext in ["ogg", "aac"] {
            media.getOnPool(RouterPath(stringLiteral: "audio.\(ext)")) { r in
                let name = try r.show(), id = try r.id("id")
                let range = r.request.headers[.range]
                let isHead = r.request.method == .head
                let (path, format) = try cache.file(show: name, database: try store.database(name), section: id)
                guard format.fileExtension == ext else {
                    throw SAError(.missing, "session \(id) of '\(name)' is \(format.rawValue); use audio.\(format.fileExtension)")
                }
                return try FileResponder.respond(path: path, contentType: ext == "ogg" ? "audio/ogg" : "audio/aac", range: range, head: isHead)
            }
        }

        // Any time range of a show as one file (the parts of several sessions one after the
        // other), seekable with Range requests and named for saving.
        for ext in ["ogg", "aac"] {
            files.getOnPool(RouterPath(stringLiteral: "show/:name/range.\(ext)")) { r in
                let name = try r.show()
                let (fromMs, toMs) = try r.timeRange()
                let made = try cache.range(show: name, database: try store.database(name), fromMs: fromMs, toMs: toMs,
                                           format: ext == "ogg" ? .opus : .aac)
                var response = try FileResponder.respond(path: made.path, contentType: ext == "ogg" ? "audio/ogg" : "audio/aac",
                                                         range: r.request.headers[.range], head: r.request.method == .head)
                response.headers[.contentDisposition] = "inline; filename=\"\(made.downloadName)\""
                return response
            }
        }

        media.getOnPool("playlist.m3u8") { r in
            let name = try r.show(), id = try r.id("id")
            let db = try store.database(name)
            let meta = try db.with { try $0.metadata() }
            guard let s = try db.with({ try $0.section(id) }), s.segments > 0 else { throw SAError(.missing, "unknown session \(id) of '\(name)'") }
            let rate = Double(AudioFormat.sampleRate(stored: meta[MetaKey.sampleRate], format: meta[MetaKey.audioFormat]))
            let lines = try db.with { try $0.timeline(section: id) }.map { ($0.id, Double($0.durationSamples) / rate) }
            let isOpus = meta[MetaKey.audioFormat] == "opus"
            var text = "#EXTM3U\n#EXT-X-VERSION:\(isOpus ? 7 : 3)\n"
            text += "#EXT-X-TARGETDURATION:\(Int((lines.map(\.1).max() ?? 10).rounded(.up)))\n#EXT-X-MEDIA-SEQUENCE:0\n"
            text += "#EXT-X-PLAYLIST-TYPE:\(s.isOpen ? "EVENT" : "VOD")\n"
            if isOpus { text += "#EXT-X-MAP:URI=\"init.mp4\"\n" }
            for (segID, duration) in lines {
                // Relative URLs, so a reverse proxy under a sub-path works.
                text += String(format: "#EXTINF:%.6f,\n", duration) + "segment/\(segID).\(isOpus ? "m4s" : "aac")\n"
            }
            if !s.isOpen { text += "#EXT-X-ENDLIST\n" }
            return API.bytes(Array(text.utf8), contentType: "application/vnd.apple.mpegurl")
        }

        media.get("segment/:file") { _, context in
            let name = try context.parameters.require("name"), id = try context.parameters.require("id", as: Int64.self)
            let file = try context.parameters.require("file")
            // A built fragment never changes: answered here, without a trip to the thread pool.
            let key = "\(name)/\(id)/\(file)"
            if let body = segments.get(key) {
                return Response(status: .ok, headers: [.contentType: file.hasSuffix(".m4s") ? "audio/mp4" : "audio/aac"],
                                body: ResponseBody(byteBuffer: body))
            }
            return await API.respond {
                let parts = file.split(separator: ".")
                guard parts.count == 2, let segID = Int64(parts[0]), ["m4s", "aac"].contains(parts[1]) else {
                    throw SAError(.badParam, "segment must be <id>.m4s or <id>.aac")
                }
                let db = try store.database(name)
                let meta = try db.metadata()
                guard let section = try db.with({ try $0.section(id) }) else { throw SAError(.missing, "unknown session \(id) of '\(name)'") }
                // Decode times from the stored durations: every segment adds its duration; the
                // first also carries the encoder's pre-skip, which the init segment declares.
                let timeline = try db.timeline(section: section)
                guard let index = timeline.firstIndex(where: { $0.id == segID }), let seg = try db.with({ try $0.segment(segID) }) else {
                    throw SAError(.missing, "unknown segment \(segID) in session \(id) of '\(name)'")
                }
                let preSkip = Int64(meta[MetaKey.encoderDelay] ?? "0") ?? 0
                let decodeTime = index == 0 ? 0 : preSkip + timeline[0..<index].reduce(0) { $0 + $1.durationSamples }
                let sequence = UInt32(index)
                if meta[MetaKey.audioFormat] == "opus" {
                    guard parts[1] == "m4s" else { throw SAError(.missing, "Opus sessions serve .m4s segments") }
                    let body = try FragmentedMP4.mediaSegment(sequence: sequence + 1, baseDecodeTime: decodeTime, packets: try OpusFraming.packets(seg.audio))
                    if !section.isOpen { segments.put(key, body) }
                    return API.bytes(body, contentType: "audio/mp4")
                }
                guard parts[1] == "aac" else { throw SAError(.missing, "AAC sessions serve .aac segments") }
                segments.put(key, seg.audio)
                return API.bytes(seg.audio, contentType: "audio/aac")
            }
        }

        media.getOnPool("init.mp4") { r in
            let name = try r.show()
            let meta = try store.database(name).with { try $0.metadata() }
            guard meta[MetaKey.audioFormat] == "opus" else { throw SAError(.missing, "only Opus sessions have an init segment") }
            return API.bytes(FragmentedMP4.initSegment(preSkip: Int(meta[MetaKey.encoderDelay] ?? "312") ?? 312), contentType: "audio/mp4")
        }
    }
}

/// A file with HTTP range support (206 with Content-Range, 416 when unsatisfiable).
enum FileResponder {
    static func respond(path: String, contentType: String, range: String?, head: Bool) throws -> Response {
        guard let attrs = try? FileManager.default.attributesOfItem(atPath: path), let size = (attrs[.size] as? NSNumber)?.int64Value else {
            throw SAError(.missing, "file gone")
        }
        var status: HTTPResponse.Status = .ok
        var start: Int64 = 0, end: Int64 = size - 1
        var headers: HTTPFields = [.contentType: contentType, .acceptRanges: "bytes"]
        if let range, range.hasPrefix("bytes="), !range.contains(",") {
            let spec = range.dropFirst(6).trimmingCharacters(in: .whitespaces)
            let bounds = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            var ok = bounds.count == 2
            if ok {
                if bounds[0].isEmpty {
                    // Suffix: the last N bytes.
                    if let n = Int64(bounds[1]), n > 0 { start = max(0, size - n) } else { ok = false }
                } else if let a = Int64(bounds[0]) {
                    start = a
                    if !bounds[1].isEmpty { if let b = Int64(bounds[1]), b >= a { end = min(b, size - 1) } else { ok = false } }
                } else {
                    ok = false
                }
            }
            if !ok || start >= size {
                headers[.contentRange] = "bytes */\(size)"
                // The client's header is not echoed: the message says what was wrong, as JSON.
                var r = API.json(.object([("error", .string("range not satisfiable for \(size) bytes"))]), status: .rangeNotSatisfiable)
                for f in headers { r.headers[f.name] = f.value }
                r.headers[.contentType] = "application/json; charset=utf-8"
                return r
            }
            status = .partialContent
            headers[.contentRange] = "bytes \(start)-\(end)/\(size)"
        }
        let length = end - start + 1
        headers[.contentLength] = String(length)
        if head { return Response(status: status, headers: headers, body: ResponseBody()) }
        let from = start
        return Response(status: status, headers: headers, body: ResponseBody(contentLength: Int(length)) { writer in
            guard let fh = FileHandle(forReadingAtPath: path) else { return }
            defer { try? fh.close() }
            try fh.seek(toOffset: UInt64(from))
            var left = length
            while left > 0 {
                let chunk = try fh.read(upToCount: Int(min(left, 1 << 16))) ?? Data()
                if chunk.isEmpty { break }
                try await writer.write(ByteBuffer(bytes: chunk))
                left -= Int64(chunk.count)
            }
        })
    }
}
