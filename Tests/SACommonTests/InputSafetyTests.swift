import Foundation
import SACommon
import XCTest

final class InputSafetyTests: XCTestCase {
    func testPasswordsInsideURLsAreRedactedAndUserNamesKept() {
        XCTAssertEqual(Redaction.userinfo("cannot reach https://alice:s3cret@radio.example/api: refused"),
                       "cannot reach https://alice:***@radio.example/api: refused")
        XCTAssertEqual(Redaction.userinfo("{\"db\":\"postgres://bob:pw@127.0.0.1:5432/x\"}"),
                       "{\"db\":\"postgres://bob:***@127.0.0.1:5432/x\"}")
        XCTAssertEqual(Redaction.userinfo("postgres://bob@host/x and mail@example.org"), "postgres://bob@host/x and mail@example.org")
    }

    func testJSONStringsWithNULAreRefused() {
        XCTAssertThrowsError(try JSONValue.parse("{\"db\": \"a\\u0000b\"}"))
        XCTAssertThrowsError(try JSONValue.parse("{\"a\\u0000\": 1}"))
        XCTAssertNoThrow(try JSONValue.parse("{\"db\": \"ab\"}"))
    }

    func testIntegersBeyondInt64DoNotTrap() throws {
        let v = try JSONValue.parse("{\"section_id\": 99999999999999999999999}")
        XCTAssertNil(v["section_id"]?.intValue)
        XCTAssertEqual(try JSONValue.parse("{\"n\": 9223372036854775807}")["n"]?.intValue, Int64.max)
    }

    func testDatabasePrefixWithATrailingNewlineIsRefused() throws {
        let dir = NSTemporaryDirectory() + "sa-prefix-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (prefix, ok) in [("show", true), ("evil\\n", false), ("a_b_1", true), ("Upper", false)] {
            let p = dir + "/r.toml"
            try "config_type = 'receiver'\nremote_url = 'http://127.0.0.1:1'\n[database]\nprefix = \"\(prefix)\"\n"
                .write(toFile: p, atomically: true, encoding: .utf8)
            if ok { XCTAssertNoThrow(try ConfigLoader.load(file: p), prefix) } else { XCTAssertThrowsError(try ConfigLoader.load(file: p), prefix) }
        }
    }
}
