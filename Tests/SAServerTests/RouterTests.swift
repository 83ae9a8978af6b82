import Foundation
import Hummingbird
import HummingbirdTesting
import SACommon
import SAServer
import SAStore
import SASync
import XCTest

/// The HTTP APIs in process, through the same router sa-serve builds, against real SQLite
/// show databases: routes, typed parameters, error bodies and statuses.
final class RouterTests: XCTestCase {
    var dir: String!
    var db: String!
    let section = NewSection(id: 1_700_000_000_000_000, startTimestampMs: 1_700_000_000_000, sourceURL: "http://x/stream")

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sa-router-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let store = try ShowDB.openForRecording(outputDir: dir, settings: ShowSettings(name: "am", audioFormat: .opus, bitrate: 16,
                                                                                        splitInterval: 1, encoderDelaySamples: 312))
        // Three one-second segments of 50 framed 20 ms packets each (muxed, never decoded here).
        for i in 0..<3 {
            var blob: [UInt8] = []
            for p in 0..<50 { [UInt8(0xF8), UInt8(i), UInt8(p)].withUnsafeBytes { OpusFraming.append($0, to: &blob) } }
            _ = try store.commitSegment(SegmentRecord(timestampMs: section.startTimestampMs + Int64(i) * 1000, isTimestampFromSource: i == 0,
                                                      sectionID: section.id, durationSamples: 48000, audio: blob), section: section)
        }
        try store.addTitle(sectionID: section.id, timestampMs: section.startTimestampMs + 1500, title: "News")
        try store.finishSection(id: section.id, endTimestampMs: section.startTimestampMs + 3000, reason: "window_end")
        db = ShowDB.path(outputDir: dir, show: "am")
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func recorderApp(token: String? = nil) -> some ApplicationProtocol {
        var setup = ServerSetup(mode: "record", cacheDir: dir + "/cache")
        setup.token = token
        setup.recorder = (.directory(dir), RecorderAPIOptions(mode: "record", exportDir: dir + "/tmp"))
        return Application(router: ServerRouter.make(setup))
    }

    func inspectApp() throws -> some ApplicationProtocol {
        var setup = ServerSetup(mode: "inspect", cacheDir: dir + "/cache")
        setup.recorder = (.single(path: db), RecorderAPIOptions(mode: "inspect", exportDir: dir + "/tmp", readOnly: true))
        setup.playback = try SingleDatabaseStore(path: db)
        return Application(router: ServerRouter.make(setup))
    }

    func json(_ r: TestResponse) throws -> JSONValue { try JSONValue.parse(String(buffer: r.body)) }

    func testSyncAPIListsShowsSectionsAndSegments() async throws {
        try await recorderApp().test(.router) { client in
            try await client.execute(uri: "/api/mode", method: .get) { r in
                XCTAssertEqual(try self.json(r)["mode"]?.stringValue, "record")
            }
            try await client.execute(uri: "/api/sync/shows", method: .get) { r in
                XCTAssertEqual(r.status, .ok)
                let show = try self.json(r)["shows"]?.arrayValue?.first
                XCTAssertEqual(show?["name"]?.stringValue, "am")
                XCTAssertEqual(show?["min_id"]?.intValue, 1)
                XCTAssertEqual(show?["max_id"]?.intValue, 3)
            }
            try await client.execute(uri: "/api/sync/shows/am/sections", method: .get) { r in
                let s = try self.json(r).arrayValue?.first
                XCTAssertEqual(s?["id"]?.intValue, self.section.id)
                XCTAssertEqual(s?["segments"]?.intValue, 3)
                XCTAssertEqual(s?["is_open"]?.boolValue, false)
            }
            // The binary segment stream, as sa-pull asks for it.
            try await client.execute(uri: "/api/sync/shows/am/segments?start_id=2&end_id=3", method: .get,
                                     headers: [.accept: SegmentStream.contentType]) { r in
                let records = try SegmentStream.decode(Array(buffer: r.body))
                XCTAssertEqual(records.map(\.id), [2, 3])
                XCTAssertEqual(records.map(\.durationSamples), [48000, 48000])
            }
            try await client.execute(uri: "/api/sync/shows/am/titles?after_id=0", method: .get) { r in
                XCTAssertEqual(try self.json(r).arrayValue?.first?["title"]?.stringValue, "News")
            }
        }
    }

    func testErrorsCarryTheirStatusAndCode() async throws {
        try await recorderApp().test(.router) { client in
            try await client.execute(uri: "/api/sync/shows/nosuch/sections", method: .get) { r in
                XCTAssertEqual(r.status, .notFound)
                XCTAssertEqual(try self.json(r)["code"]?.stringValue, "not_found")
            }
            try await client.execute(uri: "/api/sync/shows/am/segments?start_id=-1", method: .get) { r in
                XCTAssertEqual(r.status, .badRequest)
                XCTAssertEqual(try self.json(r)["code"]?.stringValue, "bad_param")
            }
            // A typed route parameter that is not an integer.
            try await client.execute(uri: "/api/sync/shows/am/sections/abc/export", method: .get) { r in
                XCTAssertEqual(r.status, .badRequest)
                XCTAssertNotNil(try self.json(r)["error"]?.stringValue)
            }
            try await client.execute(uri: "/no/such/route", method: .get) { r in
                XCTAssertEqual(r.status, .notFound)
                XCTAssertEqual(r.headers[.contentType], "application/json; charset=utf-8")
            }
        }
    }

    func testBearerTokenGuardsAllButHealth() async throws {
        try await recorderApp(token: "s3cret").test(.router) { client in
            try await client.execute(uri: "/api/sync/shows", method: .get) { r in
                XCTAssertEqual(r.status, .unauthorized)
                XCTAssertEqual(try self.json(r)["code"]?.stringValue, "auth")
            }
            try await client.execute(uri: "/api/sync/shows", method: .get, headers: [.authorization: "Bearer s3cret"]) { r in
                XCTAssertEqual(r.status, .ok)
            }
            try await client.execute(uri: "/api/health", method: .get) { r in
                XCTAssertNotEqual(r.status, .unauthorized)
            }
        }
    }

    func testPlaybackServesSessionsAudioRangesAndPlaylists() async throws {
        try await inspectApp().test(.router) { client in
            try await client.execute(uri: "/api/show/am/sessions", method: .get) { r in
                let s = try self.json(r)["sessions"]?.arrayValue?.first
                XCTAssertEqual(s?["duration_ms"]?.intValue, 3000)
                XCTAssertEqual(s?["titles"]?.intValue, 1)
            }
            try await client.execute(uri: "/show/am/session/\(self.section.id)/audio.ogg", method: .get,
                                     headers: [.range: "bytes=0-3"]) { r in
                XCTAssertEqual(r.status, .partialContent)
                XCTAssertEqual(String(buffer: r.body), "OggS")
            }
            try await client.execute(uri: "/show/am/session/\(self.section.id)/playlist.m3u8", method: .get) { r in
                let text = String(buffer: r.body)
                XCTAssertTrue(text.hasPrefix("#EXTM3U"))
                XCTAssertEqual(text.components(separatedBy: "#EXTINF:1.000000,").count - 1, 3)
                XCTAssertTrue(text.contains("#EXT-X-ENDLIST"))
            }
            try await client.execute(uri: "/show/am/session/\(self.section.id)/audio.aac", method: .get) { r in
                XCTAssertEqual(r.status, .notFound)  // an Opus session
            }
            try await client.execute(uri: "/show/am/session/42/audio.ogg", method: .get) { r in
                XCTAssertEqual(r.status, .notFound)
            }
            try await client.execute(uri: "/show/am/session/x/playlist.m3u8", method: .get) { r in
                XCTAssertEqual(r.status, .badRequest)
            }
            try await client.execute(uri: "/", method: .get) { r in
                XCTAssertTrue(String(buffer: r.body).contains("<html"))
            }
        }
    }
}
