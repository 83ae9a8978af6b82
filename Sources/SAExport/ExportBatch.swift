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

    /// A JSON line: section records are exported, other record types pass by.
    public mutating func line(_ record: JSONValue) {
        let type = record["type"]?.stringValue
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
