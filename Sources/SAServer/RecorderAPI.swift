import Foundation
import Hummingbird
import SACommon
import SAExport
import SASync
import SAStore

/// Where the recorder API finds show databases: every `<show>.sqlite` in `output_dir`, or one
/// file (`sa-serve --db`).
public enum ShowSource: Sendable {
    case directory(String)
    case single(path: String, name: String)

    /// One database; its show name (metadata `name`, else the file name) is read once.
    public static func single(path: String) -> ShowSource {
        let name = (try? ShowDB.openFile(path, readOnly: true).metadata()[MetaKey.name]).flatMap { $0 }
            ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
        return .single(path: path, name: name)
    }

    func path(of show: String) throws -> String {
        do { _ = try ShowName.validate(show) } catch let e as SAError { throw SAError(.badParam, e.message) }
        switch self {
        case .directory(let dir):
            let p = ShowDB.path(outputDir: dir, show: show)
            guard FileManager.default.fileExists(atPath: p) else { throw SAError(.missing, "unknown show '\(show)'") }
            return p
        case .single(let path, let name):
            guard show == name else { throw SAError(.missing, "unknown show '\(show)'") }
            return path
        }
    }

    var all: [(name: String, path: String)] {
        switch self {
        case .directory(let dir): return ShowCatalog.shows(in: dir)
        case .single(let path, let name): return [(name, path)]
        }
    }
}

public struct RecorderAPIOptions: Sendable {
    public var mode: String
    public var maxLimit = 1000
    /// Where the export endpoint writes files (the server's tmp/).
    public var exportDir: String
    /// `--db` inspection: the database is never written, not even export bookkeeping.
    public var readOnly: Bool
    /// The record config's sessions, for the health check (which shows should be recording now).
    public var sessions: [SessionConfig] = []
    public init(mode: String, exportDir: String, readOnly: Bool = false) {
        self.mode = mode
        self.exportDir = exportDir
        self.readOnly = readOnly
    }
}

/// The recorder's sync API: paths, parameters and field names as the original save_audio_stream
/// has them, so its receivers keep working.
public enum RecorderAPI {
    /// The routes under `shows`, the `/api/sync/shows` group.
    public static func addRoutes<Context: RequestContext>(to shows: RouterGroup<Context>, source: ShowSource, options: RecorderAPIOptions) {
        let show = shows.group(":name")
        /// A show the config records but that has no database yet is told apart from an unknown
        /// one, so receivers configured for it wait quietly for its first window.
        @Sendable func openShow(_ name: String) throws -> ShowDB {
            do {
                return try open(source, name)
            } catch let e as SAError where e.code == .missing && options.sessions.contains(where: { $0.name == name }) {
                throw SAError(.notRecordedYet, "show '\(name)' has recorded nothing yet")
            }
        }

        shows.getOnPool { _ in
            var list: [JSONValue] = []
            for (name, path) in source.all {
                guard let reader = try? ShowDB.openFile(path, readOnly: true), let meta = try? reader.metadata(),
                      meta[MetaKey.isRecipient] != "true", let range = try? reader.idRange(), let maxID = range.max
                else { continue }
                list.append(.object([("name", .string(name)), ("min_id", .int(range.min ?? maxID)), ("max_id", .int(maxID)),
                                     ("audio_format", .string(meta[MetaKey.audioFormat] ?? "")),
                                     ("bitrate", .string(meta[MetaKey.bitrate] ?? "")),
                                     ("unique_id", .string(meta[MetaKey.uniqueID] ?? ""))]))
            }
            return API.json(.object([("shows", .array(list))]))
        }

        show.getOnPool("metadata") { r in
            let name = try r.show()
            let reader = try openShow(name)
            let meta = try reader.metadata()
            let range = try reader.idRange()
            return API.json(.object([
                ("unique_id", .string(meta[MetaKey.uniqueID] ?? "")), ("name", .string(meta[MetaKey.name] ?? name)),
                ("audio_format", .string(meta[MetaKey.audioFormat] ?? "")), ("bitrate", .string(meta[MetaKey.bitrate] ?? "")),
                ("sample_rate", .string(meta[MetaKey.sampleRate] ?? "")), ("version", .string(meta[MetaKey.version] ?? "")),
                ("is_recipient", .bool(false)),
                ("min_id", range.min.map { .int($0) } ?? .null), ("max_id", range.max.map { .int($0) } ?? .null),
                ("split_interval", .string(meta[MetaKey.splitInterval] ?? "")),
                ("encoder_delay_samples", .string(meta[MetaKey.encoderDelay] ?? "")),
            ]))
        }

        show.getOnPool("sections") { r in
            API.json(.array(try openShow(try r.show()).sections().map(\.json)))
        }

        show.getOnPool("titles") { r in
            let name = try r.show()
            let after = r.request.uri.queryParameters.get("after_id")
            let afterID = try integer(after, "after_id", default: 0, min: 0)
            return API.json(.array(try openShow(name).titles(afterID: afterID).map(\.json)))
        }

        show.getOnPool("segments") { r in
            let name = try r.show()
            let q = r.request.uri.queryParameters
            let start = q.get("start_id"), end = q.get("end_id"), limitText = q.get("limit")
            let binary = (r.request.headers[.accept] ?? "").contains(SegmentStream.contentType)
            let startID = try integer(start, "start_id", default: 0, min: 0)
            let endID = try integer(end, "end_id", default: Int64.max, min: 0)
            let limit = try integer(limitText, "limit", default: 100, min: 1)
            guard startID <= endID else { throw SAError(.badParam, "start_id \(startID) is after end_id \(endID)") }
            let reader = try openShow(name)
            let rows = try reader.segments(startID: startID, endID: endID, limit: Int(min(limit, Int64(options.maxLimit))))
            if binary { return API.bytes(SegmentStream.encode(rows), contentType: SegmentStream.contentType) }
            return API.json(.array(rows.map(\.json)))
        }

        show.getOnPool("sections/:section_id/export") { r in
            let name = try r.show()
            let sectionID = try r.id("section_id")
            let includeOpen = r.request.uri.queryParameters.get("include_open") == "true"
            let path = try openShow(name).location
            let db = try ShowDB.openFile(path, readOnly: options.readOnly)
            do {
                let r = try SectionExporter.export(database: db, sectionID: sectionID, outputDir: options.exportDir,
                                                   includeOpen: includeOpen, recordBookkeeping: !options.readOnly)
                return API.json(.object([("file_path", .string(r.filePath)), ("section_id", .int(r.sectionID)),
                                         ("format", .string(r.format)), ("duration_seconds", .double((r.durationSeconds * 1000).rounded() / 1000)),
                                         ("bytes", .int(r.bytes)), ("sha256", .string(r.sha256)), ("status", .string(r.status))]))
            } catch var skipped as SAError where skipped.code == .openSection {
                skipped.message += " (add ?include_open=true)"
                throw skipped
            }
        }
    }

    /// Opens a show for reading; a recipient database is never served.
    static func open(_ source: ShowSource, _ name: String) throws -> ShowDB {
        let path = try source.path(of: name)
        let reader: ShowDB
        do {
            reader = try ShowDB.openFile(path, readOnly: true)
        } catch let e as SAError where e.code == .notAShowDatabase {
            // Some other SQLite file, or a database whose recorder is creating it this instant.
            throw SAError(.missing, "unknown show '\(name)'")
        } catch {
            throw SAError(.internalError, "cannot open the database of '\(name)'")
        }
        if try reader.metadata()[MetaKey.isRecipient] == "true" {
            throw SAError(.forbidden, "'\(name)' is a recipient database; it is not served for syncing")
        }
        return reader
    }

    static func integer(_ text: String?, _ name: String, default d: Int64, min: Int64) throws -> Int64 {
        guard let text else { return d }
        guard let v = Int64(text), v >= min else { throw SAError(.badParam, "\(name) must be an integer ≥ \(min), got '\(text)'") }
        return v
    }
}
