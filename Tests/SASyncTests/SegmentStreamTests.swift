import Foundation
import SACommon
import XCTest
import SAStore
import SAStorePostgres
import SASync

final class SegmentStreamTests: XCTestCase {
    let records = [
        SegmentRecord(id: 1, timestampMs: 1_700_000_000_000, isTimestampFromSource: true, sectionID: 1_700_000_000_000_000,
                      durationSamples: 479_688, audio: [1, 2, 3]),
        SegmentRecord(id: 2, timestampMs: 1_700_000_010_000, isTimestampFromSource: false, sectionID: 1_700_000_000_000_000,
                      durationSamples: 480_000, audio: Array(repeating: 0xAB, count: 1000)),
    ]

    func testRoundTrip() throws {
        XCTAssertEqual(try SegmentStream.decode(SegmentStream.encode(records)), records)
        XCTAssertEqual(try SegmentStream.decode(SegmentStream.encode([])), [])
    }

    func testEveryFlippedByteIsRejected() {
        let body = SegmentStream.encode(records)
        for i in stride(from: 0, to: body.count, by: 7) {
            var bad = body
            bad[i] ^= 0x10
            XCTAssertThrowsError(try SegmentStream.decode(bad), "flip at \(i)")
        }
    }

    func testTruncationIsRejected() {
        let body = SegmentStream.encode(records)
        for n in [0, 5, 12, 40, body.count / 2, body.count - 1] {
            XCTAssertThrowsError(try SegmentStream.decode(Array(body[0..<n])), "cut at \(n)") { e in
                XCTAssertEqual((e as? SAError)?.exitStatus, .dataError)
            }
        }
    }

    func testCRC32MatchesTheStandardCheckValue() {
        XCTAssertEqual(CRC32.checksum(Array("123456789".utf8)), 0xCBF4_3926)
        // Long enough for the eight-byte steps, with a tail; the value zlib.crc32 gives.
        let long = (0..<1001).map { UInt8($0 * 7 % 256) }
        XCTAssertEqual(CRC32.checksum(long), 0x9AA1_9313)
        XCTAssertEqual(CRC32.checksum(long[1...]), CRC32.checksum(Array(long[1...])))
    }

    func testPostgresURLKeepsPasswordsOut() throws {
        let u = try PostgresURL(parsing: "postgres://radio@db.example:6543/postgres?sslmode=require")
        XCTAssertEqual(u.user, "radio")
        XCTAssertEqual(u.port, 6543)
        XCTAssertEqual(u.with(database: "save_audio_show_x").display, "postgres://radio@db.example:6543/save_audio_show_x")
        XCTAssertThrowsError(try PostgresURL(parsing: "postgres://radio:secret@db/x")) { e in
            XCTAssertFalse("\(e)".contains("secret"))
        }
        XCTAssertThrowsError(try PostgresURL(parsing: "mysql://x"))
    }

    func testDatabaseNamesAreValidatedAndBounded() throws {
        XCTAssertEqual(try ReceiverStoreLocation.databaseName(prefix: "show", show: "am-1"), "save_audio_show_am-1")
        XCTAssertThrowsError(try ReceiverStoreLocation.databaseName(prefix: "show", show: "x\"; drop"))
        XCTAssertThrowsError(try ReceiverStoreLocation.databaseName(prefix: "long_prefix_here", show: String(repeating: "a", count: 48)))
        XCTAssertEqual(PGConnection.quoteIdentifier("a\"b"), "\"a\"\"b\"")
    }
}
