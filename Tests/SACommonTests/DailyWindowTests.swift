import Foundation
import SACommon
import XCTest

/// Window arithmetic with an injected clock: every check passes the instant explicitly.
final class DailyWindowTests: XCTestCase {
    let utc = TimeZone(identifier: "UTC")!

    func at(_ text: String) -> Date {
        let f = ISO8601DateFormatter()
        return f.date(from: text)!
    }

    func window(_ s: String, _ e: String, tz: TimeZone? = nil) throws -> DailyWindow {
        try DailyWindow(start: TimeOfDay(parsing: s)!, end: TimeOfDay(parsing: e)!, timeZone: tz ?? utc)
    }

    func testInsideAndOutsideADaytimeWindow() throws {
        let w = try window("06:00", "09:30")
        XCTAssertFalse(w.contains(at("2024-05-01T05:59:59Z")))
        XCTAssertTrue(w.contains(at("2024-05-01T06:00:00Z")))
        XCTAssertTrue(w.contains(at("2024-05-01T09:29:59Z")))
        XCTAssertFalse(w.contains(at("2024-05-01T09:30:00Z")))
        XCTAssertEqual(w.window(containing: at("2024-05-01T07:00:00Z"))?.end, at("2024-05-01T09:30:00Z"))
    }

    func testWindowWrapsPastMidnight() throws {
        let w = try window("22:00", "02:00")
        XCTAssertTrue(w.contains(at("2024-05-01T23:00:00Z")))
        XCTAssertTrue(w.contains(at("2024-05-02T01:59:59Z")))
        XCTAssertFalse(w.contains(at("2024-05-02T02:00:00Z")))
        XCTAssertFalse(w.contains(at("2024-05-01T21:59:59Z")))
        let inside = w.window(containing: at("2024-05-02T00:30:00Z"))!
        XCTAssertEqual(inside.start, at("2024-05-01T22:00:00Z"))
        XCTAssertEqual(inside.end, at("2024-05-02T02:00:00Z"))
    }

    func testSecondsPrecision() throws {
        let w = try window("06:00:15", "06:00:45")
        XCTAssertFalse(w.contains(at("2024-05-01T06:00:14Z")))
        XCTAssertTrue(w.contains(at("2024-05-01T06:00:15Z")))
        XCTAssertTrue(w.contains(at("2024-05-01T06:00:44Z")))
        XCTAssertFalse(w.contains(at("2024-05-01T06:00:45Z")))
    }

    func testNextWindowAfterTheBreak() throws {
        let w = try window("06:00", "09:00")
        let next = w.currentOrNext(after: at("2024-05-01T10:00:00Z"))
        XCTAssertEqual(next.start, at("2024-05-02T06:00:00Z"))
        XCTAssertEqual(next.end, at("2024-05-02T09:00:00Z"))
        XCTAssertEqual(w.currentOrNext(after: at("2024-05-01T05:00:00Z")).start, at("2024-05-01T06:00:00Z"))
    }

    func testTimeZoneShiftsTheWindow() throws {
        let berlin = TimeZone(identifier: "Europe/Berlin")!
        let w = try window("06:00", "07:00", tz: berlin)
        // Summer: UTC+2.
        XCTAssertTrue(w.contains(at("2024-07-01T04:30:00Z")))
        XCTAssertFalse(w.contains(at("2024-07-01T06:30:00Z")))
        // Winter: UTC+1.
        XCTAssertTrue(w.contains(at("2024-01-15T05:30:00Z")))
        XCTAssertFalse(w.contains(at("2024-01-15T04:30:00Z")))
    }

    func testStartEqualsEndIsRefused() {
        XCTAssertThrowsError(try window("06:00", "06:00")) { error in
            XCTAssertEqual((error as? SAError)?.exitStatus, .config)
        }
    }

    func testTimeOfDayParsing() {
        XCTAssertEqual(TimeOfDay(parsing: "23:59")?.seconds, 23 * 3600 + 59 * 60)
        XCTAssertEqual(TimeOfDay(parsing: "00:00:01")?.seconds, 1)
        for bad in ["24:00", "6:00", "06:60", "06-00", "", "06:00:60", "ab:cd"] {
            XCTAssertNil(TimeOfDay(parsing: bad), bad)
        }
    }

    func testDurationText() throws {
        XCTAssertEqual(try DurationText.seconds("90"), 90)
        XCTAssertEqual(try DurationText.seconds("45s"), 45)
        XCTAssertEqual(try DurationText.seconds("2h"), 7200)
        XCTAssertEqual(try DurationText.seconds("1h30m"), 5400)
        XCTAssertThrowsError(try DurationText.seconds("soon"))
        XCTAssertThrowsError(try DurationText.seconds("0"))
    }
}
