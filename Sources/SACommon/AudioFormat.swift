/// How a show's audio is stored: the codec, and with it the sample rate, default bitrate and file type.
public enum AudioFormat: String, Sendable {
    case opus, aac

    /// Opus always runs at 48 kHz (its granule positions and pre-skip count 48 kHz samples).
    public static let opusSampleRate = 48000
    /// AAC is encoded at 16 kHz for speech.
    public static let aacSampleRate = 16000

    /// The stored sample rate.
    public var sampleRate: Int { self == .opus ? AudioFormat.opusSampleRate : AudioFormat.aacSampleRate }
    public var defaultBitrate: Int { self == .opus ? 16 : 32 }
    public var fileExtension: String { self == .opus ? "ogg" : "aac" }

    /// A show database's sample rate: its `sample_rate` metadata, else its format's, else Opus's.
    public static func sampleRate(stored: String?, format: String?) -> Int64 {
        if let s = stored.flatMap({ Int64($0) }), s > 0 { return s }
        return Int64((format.flatMap { AudioFormat(rawValue: $0) } ?? .opus).sampleRate)
    }
}
