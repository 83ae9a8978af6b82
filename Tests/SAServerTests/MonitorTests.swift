import Foundation
import SACommon
import SAServer
import SAStore
import XCTest

/// The recorder's health and metrics judged from real show databases and a real config.
final class MonitorTests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "sa-monitor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A config whose one session `am` (split interval 10 s) has a window that opened
    /// `openedAgo` seconds ago and lasts an hour.
    func monitor(openedAgo: TimeInterval) throws -> RecorderMonitor {
        let f = DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "HH:mm:ss"
        let now = Date()
        let file = dir + "/record.toml"
        try """
            config_type = 'record'
            output_dir = '\(dir!)'

            [[sessions]]
            name = 'am'
            url = 'http://127.0.0.1:9/x.mp3'
            split_interval = 10

            [sessions.schedule]
            record_start = '\(f.string(from: now.addingTimeInterval(-openedAgo)))'
            record_end = '\(f.string(from: now.addingTimeInterval(3600)))'
            """.write(toFile: file, atomically: true, encoding: .utf8)
        let config = try ConfigLoader.loadRecord(file: file)
        return RecorderMonitor(source: .directory(dir), sessions: config.sessions)
    }

    func record(reasons: [String], lastSegmentAt endMs: Int64) throws {
        let db = try ShowDB.openForRecording(outputDir: dir, settings: ShowSettings(name: "am", audioFormat: .opus, bitrate: 16,
                                                                                     splitInterval: 10, encoderDelaySamples: 312))
        for (i, reason) in reasons.enumerated() {
            let section = NewSection(id: Int64(i + 1), startTimestampMs: endMs - 10_000, sourceURL: "u")
            _ = try db.commitSegment(SegmentRecord(timestampMs: endMs - 10_000, isTimestampFromSource: true, sectionID: section.id,
                                                   durationSamples: 480_000, audio: [0, 0]), section: section)
            try db.finishSection(id: section.id, endTimestampMs: endMs, reason: reason)
        }
    }

    /// Sections ended by a stopped stream, a stall or an error count as reconnects; those ended
    /// by their window or a signal do not.
    func testReconnectsCountEveryFailureReason() throws {
        try record(reasons: ["stream_ended", "stalled", "error", "window_end", "signal"], lastSegmentAt: Int64(Date().timeIntervalSince1970 * 1000))
        let text = try monitor(openedAgo: 600).metricsText()
        XCTAssertTrue(text.contains("sa_show_reconnects{show=\"am\"} 3\n"), text)
        XCTAssertTrue(text.contains("sa_show_sections{show=\"am\"} 5\n"), text)
    }

    /// Within two split intervals of the window opening nothing is reported; after them a show
    /// whose newest audio is older than that is.
    func testHealthWaitsTwoSplitIntervalsThenNamesTheShow() throws {
        let now = Date()
        try record(reasons: ["stream_ended"], lastSegmentAt: Int64(now.timeIntervalSince1970 * 1000) - 60_000)
        let m = try monitor(openedAgo: 5)
        XCTAssertEqual(m.problems(now: now).map(\.show), [])
        XCTAssertEqual(m.problems(now: now.addingTimeInterval(16)).map(\.show), [])
        XCTAssertEqual(m.problems(now: now.addingTimeInterval(25)).map(\.show), ["am"])
    }
}
