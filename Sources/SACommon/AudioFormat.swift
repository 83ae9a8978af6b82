/// How a show's audio is stored: the codec, and with it the sample rate, default bitrate and file type.
public enum AudioFormat: String, Sendable {
    case opus, aac

    /// The stored sample rate: Opus always runs at 48 kHz; AAC is encoded at 16 kHz for speech.
    public var sampleRate: Int { self == .opus ? 48000 : 16000 }
    public var defaultBitrate: Int { self == .opus ? 16 : 32 }
    public var fileExtension: String { self == .opus ? "ogg" : "aac" }
}
