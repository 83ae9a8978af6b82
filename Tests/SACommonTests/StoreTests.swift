import Foundation
import SACommon
import XCTest

final class StoreTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "sa-store-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    let settings = ShowSettings(name: "s", audioFormat: .opus, bitrate: 16, splitInterval: 10, encoderDelaySamples: 312)

    func testNewDatabaseHasIdentityAndSchemaVersion() throws {
        let store = try SQLiteShowStore.openForRecording(outputDir: dir, settings: settings)
        XCTAssertEqual(try store.metadata(MetaKey.version), String(Schema.currentVersion))
        XCTAssertEqual(try store.metadata(MetaKey.isRecipient), "false")
        XCTAssertEqual(try store.metadata(MetaKey.sampleRate), "48000")
        let id = try store.metadata(MetaKey.uniqueID)!
        XCTAssertTrue(id.hasPrefix("db_") && id.count == 15)
        // Reopening keeps the identity.
        let again = try SQLiteShowStore.openForRecording(outputDir: dir, settings: settings)
        XCTAssertEqual(try again.metadata(MetaKey.uniqueID), id)
    }

    func testSegmentIdsAreNeverReusedAndCascadeDeletes() throws {
        let store = try SQLiteShowStore.openForRecording(outputDir: dir, settings: settings)
        let sec = NewSection(id: 1_700_000_000_000_000, startTimestampMs: 1_700_000_000_000, sourceURL: "u")
        let a = try store.commitSegment(NewSegment(timestampMs: 1, isTimestampFromSource: true, audioData: [1, 2], durationSamples: 960), section: sec)
        let b = try store.commitSegment(NewSegment(timestampMs: 2, isTimestampFromSource: false, audioData: [3], durationSamples: 960), section: sec)
        XCTAssertEqual(b, a + 1)
        try store.db.execute("DELETE FROM sections")
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM segments")?.int, 0)
        let sec2 = NewSection(id: 1_700_000_000_000_001, startTimestampMs: 1, sourceURL: "u")
        let c = try store.commitSegment(NewSegment(timestampMs: 3, isTimestampFromSource: true, audioData: [4], durationSamples: 960), section: sec2)
        XCTAssertGreaterThan(c, b)
    }

    func testRecipientDatabaseRefusedWithSeedMessage() throws {
        let store = try SQLiteShowStore.openForRecording(outputDir: dir, settings: settings)
        try store.setMetadata(MetaKey.isRecipient, "true")
        XCTAssertThrowsError(try SQLiteShowStore.openForRecording(outputDir: dir, settings: settings)) { e in
            XCTAssertEqual((e as! SAError).message,
                           "Cannot record to a recipient database. This database is configured for syncing only.")
        }
    }

    func testOlderDatabaseIsMigratedInPlace() throws {
        // A database from before any migration: just its identity in a metadata table at version 0.
        let path = SQLiteShowStore.path(outputDir: dir, show: "old")
        let raw = try SQLiteDatabase(path: path)
        try raw.execute("""
            CREATE TABLE metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            INSERT INTO metadata VALUES ('version', '0'), ('unique_id', 'db_abcdefabcdef'), ('audio_format', 'opus')
            """)
        let store = try SQLiteShowStore(path: path)
        XCTAssertEqual(store.schemaVersion, Schema.currentVersion)
        XCTAssertEqual(try store.db.scalar("SELECT count(*) FROM sqlite_master WHERE name = 'segments'")?.int, 1)
    }

    func testSQLiteFileWithoutOurMetadataIsRefusedAndNotChanged() throws {
        let path = dir + "/other.sqlite"
        let raw = try SQLiteDatabase(path: path)
        try raw.execute("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('mine')")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try SQLiteShowStore(path: path)) { e in
            XCTAssertEqual((e as? SAError)?.code, "not_a_show_database")
            XCTAssertEqual((e as? SAError)?.status, .dataError)
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
        XCTAssertEqual(try raw.scalar("SELECT count(*) FROM sqlite_master")?.int, 1)
        XCTAssertEqual(try raw.scalar("PRAGMA journal_mode")?.text, "delete")
    }

    func testShowLockIsExclusive() throws {
        let lock = try ShowLock.acquire(directory: dir, show: "s")
        XCTAssertThrowsError(try ShowLock.acquire(directory: dir, show: "s")) { e in
            XCTAssertEqual((e as! SAError).status, .tempFail)
        }
        lock.release()
        XCTAssertNoThrow(try ShowLock.acquire(directory: dir, show: "s"))
    }
}
