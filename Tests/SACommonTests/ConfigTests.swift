import Foundation
import SACommon
import XCTest

final class ConfigTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "sa-config-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ text: String, mode: Int = 0o644) -> String {
        let p = dir + "/" + name
        FileManager.default.createFile(atPath: p, contents: text.data(using: .utf8), attributes: [.posixPermissions: mode])
        return p
    }

    func testRecordDefaults() throws {
        let f = write("record.toml", """
            config_type = 'record'
            [[sessions]]
            name = 'am'
            url = 'http://example.invalid/am.mp3'
            [sessions.schedule]
            record_start = '06:00'
            record_end = '08:00'
            """)
        let c = try ConfigLoader.loadRecord(file: f)
        XCTAssertEqual(c.apiPort, 17000)
        XCTAssertEqual(c.bind, "127.0.0.1")
        XCTAssertEqual(c.outputDir, dir + "/recordings")
        XCTAssertNil(c.apiTokenProfile)
        let s = c.sessions[0]
        XCTAssertEqual(s.audioFormat, .opus)
        XCTAssertEqual(s.bitrate, 16)
        XCTAssertEqual(s.splitInterval, 10)
        XCTAssertEqual(s.retentionHours, 168)
        XCTAssertEqual(s.window?.timeZone.secondsFromGMT(), 0)
    }

    func testAACDefaultBitrateAndTimezone() throws {
        let f = write("record.toml", """
            config_type = 'record'
            output_dir = '/srv/rec'
            [[sessions]]
            name = 'pm'
            url = 'http://example.invalid/pm.aac'
            audio_format = 'aac'
            [sessions.schedule]
            record_start = '22:00'
            record_end = '01:00'
            timezone = 'America/New_York'
            """)
        let c = try ConfigLoader.loadRecord(file: f)
        XCTAssertEqual(c.outputDir, "/srv/rec")
        XCTAssertEqual(c.sessions[0].bitrate, 32)
        XCTAssertEqual(c.sessions[0].window?.timeZone.identifier, "America/New_York")
    }

    func testUnknownKeysNameKeyAndFile() {
        let f = write("r.toml", "config_type = 'receiver'\nremote_url = 'http://x'\nsync_intervall = 5\n")
        XCTAssertThrowsError(try ConfigLoader.load(file: f)) { e in
            let err = e as! SAError
            XCTAssertEqual(err.exitStatus, .config)
            XCTAssertTrue(err.message.contains("unknown key 'sync_intervall'"), err.message)
            XCTAssertTrue(err.message.contains(f))
        }
        let g = write("r2.toml", "config_type = 'receiver'\nremote_url = 'http://x'\n[database]\nurll = 'x'\n")
        XCTAssertThrowsError(try ConfigLoader.load(file: g)) { e in
            XCTAssertTrue((e as! SAError).message.contains("'database.urll'"))
        }
    }

    func testReceiverDefaultsAndShowForms() throws {
        let f = write("receiver.toml", """
            config_type = 'receiver'
            remote_url = 'http://rec:17000'
            shows = ['am', { name = 'pm', retention_hours = 48 }]
            """)
        let c = try ConfigLoader.loadReceiver(file: f)
        XCTAssertEqual(c.port, 18000)
        XCTAssertEqual(c.syncIntervalSeconds, 60)
        XCTAssertEqual(c.chunkSize, 100)
        XCTAssertEqual(c.databasePrefix, "show")
        XCTAssertEqual(c.shows, [ReceiverShow(name: "am"), ReceiverShow(name: "pm", retentionHours: 48)])
    }

    func testEpisodeSlotsAndFeedToken() throws {
        let f = write("feeds.toml", """
            config_type = 'receiver'
            remote_url = 'http://rec:17000'
            [[shows]]
            name = 'am'
            feed_token_profile = 'family'
            episodes = [{ name = 'Morning', from = '06:00', to = '09:00:30', timezone = 'Europe/Berlin' },
                        { name = 'Late', from = '23:00', to = '01:00' }]
            """)
        let show = try XCTUnwrap(try ConfigLoader.loadReceiver(file: f).shows?.first)
        XCTAssertEqual(show.feedTokenProfile, "family")
        XCTAssertEqual(show.episodes.map(\.name), ["Morning", "Late"])
        XCTAssertEqual(show.episodes[0].from, TimeOfDay(hour: 6, minute: 0))
        XCTAssertEqual(show.episodes[0].to, TimeOfDay(hour: 9, minute: 0, second: 30))
        XCTAssertEqual(show.episodes[0].timeZone.identifier, "Europe/Berlin")
        XCTAssertEqual(show.episodes[1].timeZone.secondsFromGMT(), 0)

        let bad: [(String, String)] = [
            ("{ name = 'M', from = '6:00', to = '09:00' }", "'shows[0].episodes[0].from' must be HH:MM or HH:MM:SS"),
            ("{ name = 'M', from = '06:00', to = '09:00', timezone = 'Mars/Base' }", "unknown time zone 'Mars/Base'"),
            ("{ name = 'M', from = '06:00', to = '06:00' }", "starts and ends at 06:00"),
            ("{ name = 'M', from = '06:00', to = '07:00', tz = 'UTC' }", "unknown key 'shows[0].episodes[0].tz'"),
            ("{ name = 'a/b', from = '06:00', to = '07:00' }", "without '/'"),
            ("{ name = 'M', from = '06:00', to = '07:00' }, { name = 'M', from = '08:00', to = '09:00' }", "two slots of the same name"),
        ]
        for (slot, message) in bad {
            let g = write("bad.toml", "config_type = 'receiver'\nremote_url = 'http://r'\n[[shows]]\nname = 'am'\nepisodes = [\(slot)]\n")
            XCTAssertThrowsError(try ConfigLoader.load(file: g), slot) { XCTAssertTrue("\($0)".contains(message), "\($0)") }
        }
    }

    func testTimesAsText() throws {
        XCTAssertEqual(try TimeText.milliseconds("2026-01-05T06:00:30Z", what: "t"), 1_767_592_830_000)
        XCTAssertEqual(try TimeText.milliseconds("2026-01-05T07:00:30.250+01:00", what: "t"), 1_767_592_830_250)
        XCTAssertEqual(try TimeText.milliseconds("2026-01-05T07:00:30", what: "t", timeZone: TimeZone(identifier: "Europe/Berlin")!),
                       1_767_592_830_000)
        XCTAssertEqual(try TimeText.milliseconds("1767592830000", what: "t"), 1_767_592_830_000)
        XCTAssertThrowsError(try TimeText.milliseconds("-5", what: "--from")) { XCTAssertTrue("\($0)".contains("--from -5 is out of range")) }
        XCTAssertThrowsError(try TimeText.milliseconds("tomorrow", what: "--to")) { XCTAssertTrue("\($0)".contains("--to must be ISO 8601")) }
        XCTAssertEqual(TimeText.iso(1_767_592_830_000), "2026-01-05T06:00:30Z")
        XCTAssertEqual(TimeText.iso(1_767_592_830_250), "2026-01-05T06:00:30.250Z")
    }

    func testMissingRequiredAndWrongTypes() {
        let f = write("a.toml", "config_type = 'receiver'\n")
        XCTAssertThrowsError(try ConfigLoader.load(file: f)) { XCTAssertTrue("\($0)".contains("'remote_url' is required")) }
        let g = write("b.toml", "config_type = 'record'\napi_port = 'x'\n")
        XCTAssertThrowsError(try ConfigLoader.load(file: g)) { XCTAssertTrue("\($0)".contains("'api_port' must be an integer")) }
        let h = write("c.toml", "config_type = 'nope'\n")
        XCTAssertThrowsError(try ConfigLoader.load(file: h)) { XCTAssertTrue("\($0)".contains("config_type 'nope'")) }
    }

    func testShowNames() {
        XCTAssertNoThrow(try ShowName.validate("Morning_Show-2"))
        XCTAssertNoThrow(try ShowName.validate(String(repeating: "a", count: 48)))
        for bad in ["", String(repeating: "a", count: 49), "a b", "../x", "ümlaut", "a;drop"] {
            XCTAssertThrowsError(try ShowName.validate(bad), bad)
        }
    }

    func testCredentialsFileAndEnvironmentOverride() throws {
        let f = write("credentials.toml", "[postgres.home]\npassword = 'pw1'\n[api.rec]\ntoken = 'tok'\n", mode: 0o600)
        let c = Credentials(file: f, environment: [:])
        XCTAssertEqual(try c.value(.postgres, profile: "home", field: "password"), "pw1")
        XCTAssertEqual(try c.value(.api, profile: "rec", field: "token"), "tok")
        XCTAssertNil(try c.value(.sftp, profile: "x", field: "password"))
        let env = Credentials(file: f, environment: ["CRED_POSTGRES_HOME_PASSWORD": "from-env", "CRED_API_MY_REC_TOKEN": "t2"])
        XCTAssertEqual(try env.value(.postgres, profile: "home", field: "password"), "from-env")
        XCTAssertEqual(try env.value(.api, profile: "my-rec", field: "token"), "t2")
        XCTAssertEqual(Credentials.environmentName(kind: .sftp, profile: "nas.box", field: "password"), "CRED_SFTP_NAS_BOX_PASSWORD")
    }

    func testGroupReadableCredentialsRefusedWithoutSecret() {
        let f = write("credentials.toml", "[postgres.home]\npassword = 'hunter2'\n", mode: 0o640)
        let c = Credentials(file: f, environment: [:])
        XCTAssertThrowsError(try c.value(.postgres, profile: "home", field: "password")) { e in
            let msg = (e as! SAError).message
            XCTAssertTrue(msg.contains("readable by group or others"))
            XCTAssertFalse(msg.contains("hunter2"))
        }
    }

    func testMissingSecretSaysWhereToPutIt() {
        let c = Credentials(file: dir + "/none.toml", environment: [:])
        XCTAssertThrowsError(try c.require(.sftp, profile: "nas", field: "password")) { e in
            XCTAssertTrue("\(e)".contains("CRED_SFTP_NAS_PASSWORD"))
        }
    }

    func testConfigDirResolution() {
        XCTAssertEqual(ConfigPaths.directory(environment: ["SAVE_AUDIO_STREAM_CONFIG_DIR": "/etc/sa", "HOME": "/h"]), "/etc/sa")
        XCTAssertEqual(ConfigPaths.directory(environment: ["XDG_CONFIG_HOME": "/x", "HOME": "/h"]), "/x/save_audio_stream")
        XCTAssertEqual(ConfigPaths.credentials(environment: ["HOME": "/h"]), "/h/.config/save_audio_stream/credentials.toml")
    }

    func testJSONLinesSerializationKeepsOrderAndEscapes() throws {
        let v: JSONValue = .object([("type", "title"), ("title", "a \"q\" \\ \n é"), ("n", 5), ("ok", true)])
        XCTAssertEqual(v.serialized(), #"{"type":"title","title":"a \"q\" \\ \n é","n":5,"ok":true}"#)
        let parsed = try JSONValue.parse(v.serialized())
        XCTAssertEqual(parsed["title"]?.stringValue, "a \"q\" \\ \n é")
        XCTAssertEqual(parsed["n"]?.intValue, 5)
        XCTAssertEqual(parsed["ok"]?.boolValue, true)
        XCTAssertThrowsError(try JSONValue.parse("{nope"))
    }

    func testErrorRecordCarriesCodeAndContext() {
        let e = SAError(.missing, "no such section", context: [("section_id", 42)])
        XCTAssertEqual(e.record.serialized(), #"{"type":"error","code":"not_found","message":"no such section","section_id":42}"#)
        XCTAssertEqual(e.exitStatus.rawValue, 65)
    }
}

/// The error type: each code owns its exit status and HTTP status, and keeps the word that
/// scripts match in error records.
final class SAErrorTests: XCTestCase {
    func testCodesOwnTheirStatusesAndWords() {
        let e = SAError(.notRecordedYet, "show 'x' has recorded nothing yet", context: [("show", .string("x"))])
        XCTAssertEqual(e.exitStatus, .dataError)
        XCTAssertEqual(e.code.httpStatus, 404)
        XCTAssertEqual(e.record.serialized(),
                       #"{"type":"error","code":"not_recorded_yet","message":"show 'x' has recorded nothing yet","show":"x"}"#)
        XCTAssertEqual(SAError(.cantCreate, "").exitStatus, .cantCreate)
        XCTAssertEqual(SAError(.cantCreate, "").code.word, "io")
        XCTAssertEqual(SAError(.conflict, "").code.httpStatus, 409)
        XCTAssertEqual(SAError(.unavailable, "").code.httpStatus, 503)
        // Every code has a word, an exit status other than success, and an HTTP error status.
        for c in SAError.Code.allCases {
            XCTAssertFalse(c.word.isEmpty)
            XCTAssertNotEqual(c.exitStatus, .ok)
            XCTAssertTrue((400...599).contains(c.httpStatus), "\(c)")
        }
    }
}
