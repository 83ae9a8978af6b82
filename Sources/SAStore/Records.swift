import Foundation
import SACommon

/// One stored segment: what the recorder commits (its id 0 until the database assigns one),
/// what travels between recorder and receiver, and what export reads back.
public struct SegmentRecord: Sendable, Equatable {
    public var id: Int64
    public var timestampMs: Int64
    /// The segment starts at a natural boundary (the first of a session), stored as 1.
    public var isTimestampFromSource: Bool
    public var sectionID: Int64
    public var durationSamples: Int64
    public var audio: [UInt8]

    public init(id: Int64 = 0, timestampMs: Int64, isTimestampFromSource: Bool, sectionID: Int64, durationSamples: Int64, audio: [UInt8]) {
        self.id = id
        self.timestampMs = timestampMs
        self.isTimestampFromSource = isTimestampFromSource
        self.sectionID = sectionID
        self.durationSamples = durationSamples
        self.audio = audio
    }

    /// The original save_audio_stream's JSON form: audio as base64, plus duration_samples.
    public var json: JSONValue {
        .object([("id", .int(id)), ("timestamp_ms", .int(timestampMs)), ("is_timestamp_from_source", .int(isTimestampFromSource ? 1 : 0)),
                 ("audio_data", .string(Data(audio).base64EncodedString())), ("section_id", .int(sectionID)),
                 ("duration_samples", .int(durationSamples))])
    }
}

/// A section as the recorder's API describes it.
public struct SectionInfo: Sendable, Equatable {
    public var id: Int64
    public var startTimestampMs: Int64
    public var isOpen: Bool
    public var endTimestampMs: Int64?
    public var finishReason: String?
    public var firstSegmentID: Int64?
    public var lastSegmentID: Int64?
    public var segments: Int64
    public var durationSamples: Int64

    public init(id: Int64, startTimestampMs: Int64, isOpen: Bool, endTimestampMs: Int64?, finishReason: String?,
                firstSegmentID: Int64?, lastSegmentID: Int64?, segments: Int64, durationSamples: Int64) {
        self.id = id
        self.startTimestampMs = startTimestampMs
        self.isOpen = isOpen
        self.endTimestampMs = endTimestampMs
        self.finishReason = finishReason
        self.firstSegmentID = firstSegmentID
        self.lastSegmentID = lastSegmentID
        self.segments = segments
        self.durationSamples = durationSamples
    }

    public var json: JSONValue {
        .object([("id", .int(id)), ("start_timestamp_ms", .int(startTimestampMs)), ("is_open", .bool(isOpen)),
                 ("end_timestamp_ms", endTimestampMs.map { .int($0) } ?? .null),
                 ("finish_reason", finishReason.map { .string($0) } ?? .null),
                 ("first_segment_id", firstSegmentID.map { .int($0) } ?? .null),
                 ("last_segment_id", lastSegmentID.map { .int($0) } ?? .null),
                 ("segments", .int(segments)), ("duration_samples", .int(durationSamples))])
    }

    public init(json v: JSONValue) throws {
        guard let id = v["id"]?.intValue, let start = v["start_timestamp_ms"]?.intValue else {
            throw SAError(.badRecord, "a section without id or start_timestamp_ms")
        }
        self.init(id: id, startTimestampMs: start, isOpen: v["is_open"]?.boolValue ?? false,
                  endTimestampMs: v["end_timestamp_ms"]?.intValue, finishReason: v["finish_reason"]?.stringValue,
                  firstSegmentID: v["first_segment_id"]?.intValue, lastSegmentID: v["last_segment_id"]?.intValue,
                  segments: v["segments"]?.intValue ?? 0, durationSamples: v["duration_samples"]?.intValue ?? 0)
    }
}

public struct TitleRecord: Sendable, Equatable {
    public var id: Int64
    public var sectionID: Int64
    public var timestampMs: Int64
    public var title: String

    public init(id: Int64, sectionID: Int64, timestampMs: Int64, title: String) {
        self.id = id
        self.sectionID = sectionID
        self.timestampMs = timestampMs
        self.title = title
    }

    public var json: JSONValue {
        .object([("id", .int(id)), ("section_id", .int(sectionID)), ("timestamp_ms", .int(timestampMs)), ("title", .string(title))])
    }
}

public struct NewSection: Sendable {
    public var id: Int64
    public var startTimestampMs: Int64
    public var sourceURL: String
    public init(id: Int64, startTimestampMs: Int64, sourceURL: String) {
        self.id = id
        self.startTimestampMs = startTimestampMs
        self.sourceURL = sourceURL
    }
}

/// Settings a new show database is created with.
public struct ShowSettings: Sendable {
    public var name: String
    public var audioFormat: AudioFormat
    public var bitrate: Int
    public var splitInterval: Int
    public var encoderDelaySamples: Int
    public init(name: String, audioFormat: AudioFormat, bitrate: Int, splitInterval: Int, encoderDelaySamples: Int) {
        self.name = name
        self.audioFormat = audioFormat
        self.bitrate = bitrate
        self.splitInterval = splitInterval
        self.encoderDelaySamples = encoderDelaySamples
    }
}

/// What a sync pass reports per section after it ran.
public struct SectionSummary: Sendable {
    public var id: Int64
    public var startTimestampMs: Int64
    public var segments: Int64
    public var durationSamples: Int64
}

