import Foundation
import SACommon
import SAStore
import SAStorePostgres

/// One `sa-export` invocation's exports: section records from JSON lines, `--pending` passes
/// over show databases, or one `--db --section`; databases opened once, exported records
/// written to `output`, failures counted into the exit status.
public struct ExportBatch {
    let outputDir: String
    let includeOpen: Bool
    let credentials: Credentials
    public var defaultProfile: String?
    public var password: String?
    var open: [String: ShowDB] = [:]
    public var untilPushed = false
    var failures = 0
    var conflicts = 0
    var lastStatus: ExitStatus = .ok
    public var output = JSONLineWriter.stdout
    /// Told of each failure (after it is counted); the tool reports it.
    public var onError: (SAError) -> Void = { _ in }
    /// Told of sections passed over on purpose (open, incomplete).
    public var onNote: (String) -> Void = { _ in }

    public init(outputDir: String, includeOpen: Bool, credentials: Credentials, defaultProfile: String?) {
        self.outputDir = outputDir
        self.includeOpen = includeOpen
        self.credentials = credentials
        self.defaultProfile = defaultProfile
    }

    public var status: ExitStatus {
        if failures > 0 { return .someFailed }
        if conflicts > 0 { return .tempFail }
        return .ok
    }

    public mutating func fail(_ e: SAError) {
        onError(e)
        if e.code == .conflict { conflicts += 1 } else { failures += 1 }
        lastStatus = e.exitStatus
    }

    mutating func database(_ db: String) throws -> ShowDB {
        if let d = open[db] { return d }
        var pw = password
        if pw == nil, db.hasPrefix("postgres"), let p = defaultProfile {
            pw = try credentials.require(.postgres, profile: p, field: "password")
        }
        let d = try ShowDB.open(db: db, password: pw)
        open[db] = d
        return d
    }

    public mutating func export(db: String, section: Int64) {
        do {
            let result = try SectionExporter.export(database: try database(db), sectionID: section, outputDir: outputDir,
                                                    includeOpen: includeOpen)
            output.write(result.record)
        } catch let skipped as SAError where skipped.code == .openSection {
            onNote(skipped.message)
        } catch {
            var e = SAError.from(error)
            if !e.context.contains(where: { $0.0 == "db" }) { e.context += [("db", .string(db)), ("section_id", .int(section))] }
            fail(e)
        }
    }

    /// `--db --section`: the exit status is that of the one export.
    public mutating func single(db: String, section: Int64) -> ExitStatus {
        export(db: db, section: section)
        return failures + conflicts > 0 ? lastStatus : .ok
    }

    public mutating func pending(db: String) {
        do {
            let d = try database(db)
            let exported = try d.exportedDurations()
            let pushed = untilPushed ? try d.pushedSectionIDs() : []
            for s in try d.sections() where !s.isOpen && s.segments > 0 {
                // Done when the file holds all the audio the section has now (and, with an
                // archive target, was pushed); a section that gained audio is exported again.
                let holdsAll = (exported[s.id] ?? -1) >= s.durationSamples
                if holdsAll && (!untilPushed || pushed.contains(s.id)) { continue }
                export(db: db, section: s.id)
            }
        } catch {
            var e = SAError.from(error)
            e.context.append(("db", .string(db)))
            fail(e)
        }
    }

    /// The config whose shows range lines may name (their databases looked up when first needed).
    public var config: LoadedConfig?
    private var showDatabases: [String: String]?
    /// The zone of range times written without one.
    public var timeZone = TimeZone(identifier: "UTC")!

    /// Every recorded part of `fromMs..<toMs` to its own file, with `gap` records between.
    public mutating func range(db: String, fromMs: Int64, toMs: Int64) {
        do {
            let out = output
            try RangeExporter.export(database: try database(db), fromMs: fromMs, toMs: toMs, outputDir: outputDir) { out.write($0) }
        } catch {
            var e = SAError.from(error)
            if !e.context.contains(where: { $0.0 == "db" }) { e.context.append(("db", .string(db))) }
            fail(e)
        }
    }

    /// The config's shows and their databases, in its order (the store's password kept for them).
    public mutating func use(config: LoadedConfig, shows: [String]) throws -> [(show: String, db: String)] {
        if case .receiver(let c) = config { defaultProfile = defaultProfile ?? c.databaseCredentialProfile }
        // With an archive target, sections exported but not yet pushed come out again, so
        // `sa-export --pending | sa-push` retries a failed upload on the next run.
        if case .record(let c) = config, c.sftp != nil { untilPushed = true }
        let (list, password) = try ShowDirectory.databases(config: config, credentials: credentials, shows: shows)
        self.password = password
        showDatabases = Dictionary(list.map { ($0.show, $0.db) }, uniquingKeysWith: { a, _ in a })
        return list
    }

    /// The database of a show of `config`.
    public mutating func database(show: String) throws -> String {
        if showDatabases == nil {
            guard let config else { throw SAError(.missingField, "a range of show '\(show)' needs --config (or db in the record)") }
            _ = try use(config: config, shows: [])
        }
        guard let db = showDatabases?[show] else { throw SAError(.missing, "show '\(show)' has no database in the config's store") }
        return db
    }

    /// `--from --to`: the exit status is that of the one range.
    public mutating func singleRange(db: String, fromMs: Int64, toMs: Int64) -> ExitStatus {
        range(db: db, fromMs: fromMs, toMs: toMs)
        return failures + conflicts > 0 ? lastStatus : .ok
    }

    /// `{"show": …, "from": …, "to": …}` (or `"db"` instead of `"show"`; an optional `"timezone"`).
    mutating func rangeLine(_ record: JSONValue) {
        var ctx: [(String, JSONValue)] = []
        if let s = record["show"] { ctx.append(("show", s)) }
        do {
            guard let fromText = record["from"]?.stringValue ?? record["from"]?.intValue.map(String.init),
                  let toText = record["to"]?.stringValue ?? record["to"]?.intValue.map(String.init) else {
                throw SAError(.missingField, "a range record needs from and to: \(record.serialized().prefix(120))")
            }
            var zone = timeZone
            if let name = record["timezone"]?.stringValue {
                guard let z = TimeZone(identifier: name) else { throw SAError(.badParam, "unknown time zone '\(name)'") }
                zone = z
            }
            let fromMs = try TimeText.milliseconds(fromText, what: "from", timeZone: zone)
            let toMs = try TimeText.milliseconds(toText, what: "to", timeZone: zone)
            let db: String
            if let d = record["db"]?.stringValue {
                db = d
            } else if let show = record["show"]?.stringValue {
                db = try database(show: try ShowName.validate(show))
            } else {
                throw SAError(.missingField, "a range record needs show (with --config) or db: \(record.serialized().prefix(120))")
            }
            range(db: db, fromMs: fromMs, toMs: toMs)
        } catch {
            var e = SAError.from(error)
            if e.code == .usage { e = SAError(.badParam, e.message) }
            e.context += ctx
            fail(e)
        }
    }

    /// A JSON line: section records are exported, range records (`from`, `to`) cut, other
    /// record types pass by.
    public mutating func line(_ record: JSONValue) {
        let type = record["type"]?.stringValue
        if type == nil || type == "range", record["from"] != nil || record["to"] != nil {
            rangeLine(record)
            return
        }
        let sectionTypes: Set<String> = ["section_finished", "section_synced", "section"]
        guard type == nil || sectionTypes.contains(type!) else { return }
        if type == "section_synced", record["complete"]?.boolValue == false, !includeOpen {
            onNote("section \(record["section_id"]?.intValue ?? 0) of \(record["show"]?.stringValue ?? "?") is not complete yet; not exported")
            return
        }
        guard let db = record["db"]?.stringValue, let section = record["section_id"]?.intValue else {
            var ctx: [(String, JSONValue)] = []
            if let s = record["show"] { ctx.append(("show", s)) }
            if let s = record["section_id"] { ctx.append(("section_id", s)) }
            fail(SAError(.missingField, "a section record needs db and section_id: \(record.serialized().prefix(120))",
                         context: ctx))
            return
        }
        export(db: db, section: section)
    }
}
