import Foundation
import HTTPTypes
import Hummingbird
import SACommon
import SAExport
import SAStore

/// A show's podcast feed settings (from the receiver config's `[[shows]]`).
public struct FeedSettings: Sendable {
    public var episodes: [EpisodeSlot]
    /// When set, the feed answers only `?token=` with this value.
    public var token: String?

    public init(episodes: [EpisodeSlot] = [], token: String? = nil) {
        self.episodes = episodes
        self.token = token
    }
}

/// `GET /feeds/{show}.xml`: RSS 2.0 with the iTunes podcast namespace. One item per finished
/// section, or per configured daily slot that has ended and holds recorded audio; each
/// enclosure is the range endpoint for its time span, so it answers HEAD and Range requests.
enum PodcastFeed {
    /// The newest items only: a feed is read often, and podcast apps keep what they fetched.
    static let maxItems = 200

    /// A span of time the feed offers: a whole session (`section`), or a slot's range.
    typealias Span = (guid: String, title: String, from: Int64, to: Int64, section: Int64?)

    struct Item {
        var span: Span
        var plan: RangePlan
        var file: (url: String, bytes: Int64)
        var titles: [String]

        var seconds: Double { plan.parts.reduce(0) { $0 + $1.durationSeconds } }
    }

    static func addRoutes<Context: RequestContext>(to root: RouterGroup<Context>, store: any PlaybackStore,
                                                   cache: AudioCache, feeds: [String: FeedSettings]) {
        root.getOnPool("feeds/:file") { r in
            let file: String = try r.parameters.require("file")
            guard file.hasSuffix(".xml") else { throw SAError(.missing, "feeds are /feeds/<show>.xml") }
            let show = try ShowName.validate(String(file.dropLast(4)))
            let settings = feeds[show] ?? FeedSettings()
            let token: String? = r.request.uri.queryParameters.get("token").map { String($0) }
            if let expected = settings.token {
                guard let token, constantTimeEqual(token, expected) else {
                    throw SAError(.auth, "the feed of '\(show)' needs its token (?token=)")
                }
            }
            let base = baseURL(r.request)
            let db = try store.database(show)
            let items = try makeItems(show: show, db: db, cache: cache, settings: settings, base: base)
            let selfURL = base + "/feeds/\(show).xml" + (settings.token == nil ? "" : "?token=\(percentEncoded(token ?? ""))")
            var response = API.bytes(Array(xml(show: show, items: items, base: base, selfURL: selfURL).utf8),
                                     contentType: "application/rss+xml; charset=utf-8")
            response.headers[.cacheControl] = "no-cache"
            return response
        }
    }

    /// Equal strings take as long to compare as unequal ones of the same length.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var diff = UInt8(x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) { diff |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0) }
        return diff == 0
    }

    /// `http://host[:port]` as the client reached us (or as the first reverse proxy says it did).
    static func baseURL(_ request: Request) -> String {
        func first(_ name: String) -> String? {
            request.headers[HTTPField.Name(name)!]?.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let proto = first("X-Forwarded-Proto") ?? "http"
        let host = first("X-Forwarded-Host") ?? request.head.authority ?? "localhost"
        return "\(proto == "https" ? "https" : "http")://\(host)"
    }

    /// The feed's items, newest first. Nothing is built here (a feed is read often): an
    /// enclosure's length is the made file's when there is one, else the stored audio's size,
    /// which the file's is within about 1 % of. An item that cannot be planned is left out.
    static func makeItems(show: String, db: ShowDBPool, cache: AudioCache, settings: FeedSettings, base: String) throws -> [Item] {
        // Metadata and sections read once for every item's plan.
        let source = try db.with { try RangeExporter.Source($0) }
        let (meta, sections, rate) = (source.meta, source.sections, source.rate)
        let format = AudioFormat(rawValue: meta[MetaKey.audioFormat] ?? "") ?? .opus
        let finished = sections.filter { !$0.isOpen && $0.segments > 0 }
        var spans: [Span] = []
        if settings.episodes.isEmpty {
            for s in finished.reversed().prefix(maxItems) {
                let end = s.startTimestampMs + (s.durationSamples * 1000 + rate - 1) / rate
                spans.append(("\(show)/section/\(s.id)", "\(show) \(TimeText.format(s.startTimestampMs, "yyyy-MM-dd HH:mm:ss")) UTC",
                              s.startTimestampMs, end, s.id))
            }
        } else if let first = sections.first(where: { $0.segments > 0 }) {
            // What is still being recorded (or pulled) and how far its audio reaches.
            let open = sections.filter(\.isOpen).map { (start: $0.startTimestampMs, end: $0.startTimestampMs + $0.durationSamples * 1000 / rate) }
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            for slot in settings.episodes {
                for (from, to, day) in slotSpans(slot, fromMs: first.startTimestampMs, toMs: now) {
                    // Only slots that are over and whose audio is all here.
                    guard to <= now, !open.contains(where: { $0.start < to && $0.end < to }) else { continue }
                    spans.append(("\(show)/\(slot.name)/\(day)", "\(slot.name) \(day)", from, to, nil))
                }
            }
            spans.sort { $0.from > $1.from }
        }
        let fm = FileManager.default
        func size(_ path: String) -> Int64? { ((try? fm.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value }
        var items: [Item] = []
        for span in spans where items.count < maxItems {
            do {
                let plan = try RangeExporter.plan(source, fromMs: span.from, toMs: span.to, onlySection: span.section)
                let stored = try db.with { d in try plan.parts.reduce(Int64(0)) { sum, part in
                    let bytes = try d.sizes(of: [part.section.id]).bytes
                    return sum + bytes * (part.toSample - part.fromSample) / max(1, part.section.durationSamples)
                } }
                let url: String, made: String
                if let id = span.section {
                    // The whole session: the playback API's own file.
                    url = base + "/show/\(show)/session/\(id)/audio.\(format.fileExtension)"
                    made = (cache.dir as NSString).appendingPathComponent(
                        "\(show)/" + SectionExporter.fileName(show: show, startTimestampMs: span.from, sectionID: id, format: format))
                } else {
                    url = base + "/show/\(show)/range.\(format.fileExtension)?from=\(span.from)&to=\(span.to)"
                    made = (cache.rangeDirectory(show) as NSString).appendingPathComponent(RangeExporter.joinedNames(plan).cache)
                }
                let titles = try db.with { d in try plan.parts.flatMap { try RangeExporter.titles(of: $0, database: d) } }
                items.append(Item(span: span, plan: plan, file: (url, size(made) ?? stored),
                                  titles: titles.map { "\(TimeText.format($0.timestampMs, "yyyy-MM-dd HH:mm:ss")) UTC \($0.title)" }))
            } catch let e as SAError where e.code == .missing {
                continue  // nothing recorded in that slot
            } catch {
                SALog.logger("sa-serve").warning("feed of \(show): \(span.guid) left out: \(SAError.from(error).message)")
            }
        }
        return items
    }

    /// Each day's occurrence of `slot` that overlaps `fromMs...toMs`: its start, end and local date.
    static func slotSpans(_ slot: EpisodeSlot, fromMs: Int64, toMs: Int64) -> [(Int64, Int64, String)] {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = slot.timeZone
        var out: [(Int64, Int64, String)] = []
        // From the day before the first recording (a slot across midnight) to today.
        var day = cal.startOfDay(for: Date(timeIntervalSince1970: Double(fromMs) / 1000 - 86_400))
        let last = Date(timeIntervalSince1970: Double(toMs) / 1000)
        while day <= last {
            let start = instant(day, slot.from, cal)
            var endDay = day
            if slot.to.seconds <= slot.from.seconds { endDay = cal.date(byAdding: .day, value: 1, to: day)! }
            let end = instant(endDay, slot.to, cal)
            let date = TimeText.format(Int64(day.timeIntervalSince1970 * 1000), "yyyy-MM-dd", zone: slot.timeZone)
            if end > fromMs && start < toMs { out.append((start, end, date)) }
            day = cal.date(byAdding: .day, value: 1, to: day)!
        }
        return out
    }

    private static func instant(_ day: Date, _ t: TimeOfDay, _ cal: Calendar) -> Int64 {
        let d = cal.date(bySettingHour: t.seconds / 3600, minute: t.seconds / 60 % 60, second: t.seconds % 60, of: day) ?? day
        return Int64(d.timeIntervalSince1970 * 1000)
    }

    static func xml(show: String, items: [Item], base: String, selfURL: String) -> String {
        let rfc822 = "EEE, dd MMM yyyy HH:mm:ss Z"
        var x = """
            <?xml version="1.0" encoding="UTF-8"?>
            <rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:atom="http://www.w3.org/2005/Atom">
            <channel>
            <title>\(escape(show))</title>
            <link>\(escape(base))/</link>
            <description>\(escape("Recordings of \(show), by save_audio_stream"))</description>
            <atom:link href="\(escape(selfURL))" rel="self" type="application/rss+xml"/>
            <itunes:author>save_audio_stream</itunes:author>
            <itunes:explicit>false</itunes:explicit>
            <lastBuildDate>\(TimeText.format(Int64(Date().timeIntervalSince1970 * 1000), rfc822))</lastBuildDate>

            """
        for item in items {
            let seconds = Int(item.seconds.rounded())
            let duration = String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
            let type = item.plan.format == .opus ? "audio/ogg" : "audio/aac"
            let description = item.titles.isEmpty ? "No stream titles." : item.titles.joined(separator: "\n")
            x += """
                <item>
                <title>\(escape(item.span.title))</title>
                <guid isPermaLink="false">\(escape(item.span.guid))</guid>
                <pubDate>\(TimeText.format(item.plan.parts[0].fromMs, rfc822))</pubDate>
                <description>\(escape(description))</description>
                <enclosure url="\(escape(item.file.url))" length="\(item.file.bytes)" type="\(type)"/>
                <itunes:duration>\(duration)</itunes:duration>
                </item>

                """
        }
        return x + "</channel>\n</rss>\n"
    }

    /// What XML 1.0 text and attribute values cannot hold as themselves.
    static let entities: [Unicode.Scalar: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&apos;"]

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if let entity = entities[c] {
                out += entity
            } else if c.value >= 0x20 || c == "\n" || c == "\t" || c == "\r" {
                out.unicodeScalars.append(c)
            }  // other control characters cannot be carried by XML 1.0 at all: left out
        }
        return out
    }

    static func percentEncoded(_ s: String) -> String {
        // RFC 3986 unreserved characters stay as they are.
        s.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")) ?? ""
    }
}
