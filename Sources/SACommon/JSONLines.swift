import Foundation

/// Writes one JSON object per line to stdout, flushed after every line, so a pipe consumer
/// sees each record as soon as it is produced.
public final class JSONLineWriter: @unchecked Sendable {
    private let lock = NSLock()
    private let handle: UnsafeMutablePointer<FILE>

    public static let stdout = JSONLineWriter(handle: Glibc.stdout)

    /// Sees every record written (the receiver keeps the last pass's figures this way).
    private let observer: (@Sendable (JSONValue) -> Void)?

    public init(handle: UnsafeMutablePointer<FILE>, observer: (@Sendable (JSONValue) -> Void)? = nil) {
        self.handle = handle
        self.observer = observer
    }

    public func write(_ record: JSONValue) {
        let line = Redaction.userinfo(record.serialized()) + "\n"
        lock.lock()
        fputs(line, handle)
        fflush(handle)
        lock.unlock()
        observer?(record)
    }
}

/// Reads JSON lines from stdin or files named as arguments, one independent record per line.
public struct JSONLineReader {
    public init() {}

    /// Calls `body` with each line's parse result; a bad line gives a `bad_json` error, not a stop.
    public func forEachLine(paths: [String], _ body: (Result<JSONValue, SAError>, String) throws -> Void) throws {
        let sources = paths.isEmpty ? ["-"] : paths
        for path in sources {
            try withInputFile(path) { file in
                var linePtr: UnsafeMutablePointer<CChar>? = nil
                var cap = 0
                defer { free(linePtr) }
                while true {
                    let n = getline(&linePtr, &cap, file)
                    if n <= 0 { break }
                    let raw = UnsafeRawBufferPointer(start: linePtr!, count: n)
                    let result: Result<JSONValue, SAError>
                    if let problem = JSONLineReader.problem(raw) {
                        try body(.failure(SAError(.badJSON, problem)), "")
                        continue
                    }
                    let line = String(decoding: raw, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    if line.isEmpty { continue }
                    do {
                        let v = try JSONValue.parse(line)
                        if case .object = v {
                            result = .success(v)
                        } else {
                            result = .failure(SAError(.badJSON, "a record must be a JSON object: \(line.prefix(80))"))
                        }
                    } catch {
                        result = .failure(SAError.from(error))
                    }
                    try body(result, line)
                }
            }
        }
    }

    /// A line no record can be: one longer than `maxLineBytes`, one with a NUL byte (C strings
    /// would cut it there) or one that is not UTF-8.
    public static let maxLineBytes = 1 << 20

    static func problem(_ raw: UnsafeRawBufferPointer) -> String? {
        if raw.count > maxLineBytes { return "a line of \(raw.count) bytes is longer than the limit of \(maxLineBytes)" }
        if let i = raw.firstIndex(of: 0) { return "a line contains a NUL byte (at byte \(i + 1))" }
        if String(validating: Array(raw), as: UTF8.self) == nil { return "a line is not valid UTF-8" }
        return nil
    }
}
