import Foundation
import SACommon
import XCTest
import SAStore

final class StoreTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "sa-store-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let settings = ShowSettings(name: "s", audioFormat: .opus, bitrate: 16, splitInterval: 10, encoderDelaySamples: 312)

    func testNewDatabaseHasIdentityAndSchemaVersion() throws {
        let store = try ShowDB.openForRecording(outputDir: dir, settings: settings)
        XCTAssertEqual(try store.metadata(MetaKey.version), String(Schema.currentVersion))
        XCTAssertEqual(try store.metadata(MetaKey.isRecipient), "false")
        XCTAssertEqual(try store.metadata(MetaKey.sampleRate), "48000")
        let id = try store.metadata(MetaKey.uniqueID)!
        XCTAssertTrue(id.hasPrefix("db_") && id.count == 15)
        // Reopening keeps the identity.
        let again = try ShowDB.openForRecording(outputDir: dir, settings: settings)
        XCTAssertEqual(try again.metadata(MetaKey.uniqueID), id)
    }

    func testSegmentIdsAreNeverReusedAndCascadeDeletes() throws {
        let store = try ShowDB.openForRecording(outputDir: dir, settings: settings)
        let sec = NewSection(id: 1_700_000_000_000_000, startTimestampMs: 1_700_000_000_000, sourceURL: "u")
        let a = try store.commitSegment(SegmentRecord(timestampMs: 1, isTimestampFromSource: true, sectionID: sec.id, durationSamples: 960, audio: [1, 2]), section: sec)
        let b = try store.commitSegment(SegmentRecord(timestampMs: 2, isTimestampFromSource: false, sectionID: sec.id, durationSamples: 960, audio: [3]), section: sec)
        XCTAssertEqual(b, a + 1)
        try store.executor.run("DELETE FROM sections")
        XCTAssertEqual(try store.executor.first("SELECT count(*) FROM segments") { $0.int(0) }, 0)
        let sec2 = NewSection(id: 1_700_000_000_000_001, startTimestampMs: 1, sourceURL: "u")
        let c = try store.commitSegment(SegmentRecord(timestampMs: 3, isTimestampFromSource: true, sectionID: sec2.id, durationSamples: 960, audio: [4]), section: sec2)
        XCTAssertGreaterThan(c, b)
    }

    func testRecipientDatabaseRefusedWithSeedMessage() throws {
        let store = try ShowDB.openForRecording(outputDir: dir, settings: settings)
        try store.setMetadata([(MetaKey.isRecipient, "true")])
        XCTAssertThrowsError(try ShowDB.openForRecording(outputDir: dir, settings: settings)) { e in
            XCTAssertEqual((e as! SAError).message,
                           "Cannot record to a recipient database. This database is configured for syncing only.")
        }
    }

    func testOlderDatabaseIsMigratedInPlace() throws {
        // A database from before any migration: just its identity in a metadata table at version 0.
        let path = ShowDB.path(outputDir: dir, show: "old")
        let raw = try SQLiteDatabase(path: path)
        try raw.script("""
            CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO metadata VALUES ('version', '0'), ('unique_id', 'db_abcdefabcdef'), ('audio_format', 'opus')
            """)
        let store = try ShowDB.openFile(path)
        XCTAssertEqual(try store.metadata(MetaKey.version), String(Schema.currentVersion))
        XCTAssertTrue(try store.executor.tableExists("segments"))
    }

    func testSQLiteFileWithoutOurMetadataIsRefusedAndNotChanged() throws {
        let path = dir + "/other.sqlite"
        let raw = try SQLiteDatabase(path: path)
        try raw.script("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine')")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try ShowDB.openFile(path)) { e in
            XCTAssertEqual((e as? SAError)?.code, .notAShowDatabase)
            XCTAssertEqual((e as? SAError)?.exitStatus, .dataError)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try raw.first("SELECT count(*) FROM sqlite_master") { $0.int(0) }, 1)
        XCTAssertEqual(try raw.first("PRAGMA journal_mode") { $0.text(0) }, "delete")
    }

    func testShowLockIsExclusive() throws {
        let lock = try ShowLock.acquire(directory: dir, show: "s")
        XCTAssertThrowsError(try ShowLock.acquire(directory: dir, show: "s")) { e in
            XCTAssertEqual((e as! SAError).exitStatus, .tempFail)
        }
        lock.release()
        XCTAssertNoThrow(try ShowLock.acquire(directory: dir, show: "s"))
    }

    /// One statement text serves both backends: numbered parameters, in any order and repeated,
    /// bind the right values on SQLite too.
    func testNumberedParametersBindByNumber() throws {
        let raw = try SQLiteDatabase(path: dir + "/p.sqlite")
        XCTAssertEqual(try raw.first("SELECT $2 || '-' || $1 || '-' || $2", [.text("a"), .text("b")]) { $0.text(0) }, "b-a-b")
        XCTAssertEqual(SQLiteDatabase.sqliteParameters("WHERE id = $1 AND x = $12 AND y = '$'"), "WHERE id = ?1 AND x = ?12 AND y = '$'")
    }

    /// The receiver path on SQLite: sections arrive open and close once their last segment is here.
    func testReceiverSectionCompletesWhenItsLastSegmentArrives() throws {
        let db = try ShowDB.openReceiverFile(directory: dir, database: "save_audio_t_s")
        let info = SectionInfo(id: 7, startTimestampMs: 1000, isOpen: false, endTimestampMs: 3000, finishReason: "stopped",
                               firstSegmentID: 1, lastSegmentID: 2, segments: 2, durationSamples: 1920)
        try db.upsertSections([info], segmentIDOffset: 0)
        XCTAssertEqual(try db.incompleteSectionIDs(), [7])
        let segs = (1...2).map { SegmentRecord(id: Int64($0), timestampMs: 1000 + Int64($0), isTimestampFromSource: $0 == 1, sectionID: 7,
                                               durationSamples: 960, audio: [UInt8($0)]) }
        try db.commitChunk([segs[0]], lastSyncedID: 1)
        XCTAssertEqual(try db.incompleteSectionIDs(), [7])
        try db.commitChunk([segs[1]], lastSyncedID: 2)
        XCTAssertEqual(try db.incompleteSectionIDs(), [])
        XCTAssertEqual(try db.unreportedCompleteSections().map(\.durationSamples), [1920])
        var read: [SegmentRecord] = []
        try db.forEachSegment(section: 7) { read.append($0) }
        XCTAssertEqual(read, segs)
        XCTAssertEqual(try db.metadata(MetaKey.lastSyncedID), "2")
    }

    /// SQLite failures keep the word scripts match ("io") with the exit status of their kind.
    func testSQLiteFailuresSayIOWithTheirKindsStatus() throws {
        let path = dir + "/garbage.sqlite"
        try Data(repeating: 0x5A, count: 8192).write(to: URL(fileURLWithPath: path))
        let db = try SQLiteDatabase(path: path, readOnly: true, create: false)
        XCTAssertThrowsError(try db.first("SELECT count(*) FROM sqlite_master") { $0.int(0) }) { e in
            XCTAssertEqual((e as? SAError)?.code.word, "io")
            XCTAssertEqual((e as? SAError)?.exitStatus, .dataError)
        }
        XCTAssertThrowsError(try SQLiteDatabase(path: dir + "/no/such/dir/x.sqlite", create: true)) { e in
            XCTAssertEqual((e as? SAError)?.exitStatus, .cantCreate)
            XCTAssertEqual((e as? SAError)?.code.word, "not_found")
        }
    }
}
