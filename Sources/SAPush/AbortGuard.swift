import Foundation
import SACommon

/// libssh2 1.10 (Debian 12) stops the process with a failed `assert` (SIGABRT) on some damaged
/// packets, e.g. a flipped bit in an encrypted packet's length, instead of returning an error.
/// While a push runs, such an abort is turned into what any other broken link gives: an `error`
/// record naming the file, a message, and exit 69. Nothing is lost by dying there: the upload
/// goes to a temporary remote name, and the next run starts over.
public enum AbortGuard {
    nonisolated(unsafe) private static var recordPtr: UnsafeMutableRawPointer?
    nonisolated(unsafe) private static var messagePtr: UnsafeMutableRawPointer?
    nonisolated(unsafe) private static var recordLength = 0
    nonisolated(unsafe) private static var messageLength = 0

    /// Armed only while a file is being pushed; an abort anywhere else stays an abort.
    public static func arm(file: String) {
        setFile(file)
        signal(SIGABRT) { _ in
            // Only async-signal-safe calls here: write(2) of prepared bytes, then _exit(2).
            if let p = AbortGuard.recordPtr { _ = write(1, p, AbortGuard.recordLength) }
            if let p = AbortGuard.messagePtr { _ = write(2, p, AbortGuard.messageLength) }
            _exit(ExitStatus.unavailable.rawValue)
        }
    }

    public static func disarm() { signal(SIGABRT, SIG_DFL) }

    /// The file being pushed, named in the record if the SSH library aborts.
    static func setFile(_ path: String?) {
        var fields: [(String, JSONValue)] = [("type", "error"), ("code", "unavailable"),
                                             ("message", "the SSH connection broke: a damaged packet stopped the SSH library; try again")]
        if let path { fields.append(("file_path", .string(path))) }
        let line = Array((JSONValue.object(fields).serialized() + "\n").utf8)
        let text = Array("sa-push: error: \(path.map { "\($0): " } ?? "")the SSH connection broke (a damaged packet stopped the SSH library); try again\n".utf8)
        // Build the new buffers first, then swap the pointers: the handler never sees a half-made one.
        let r = UnsafeMutableRawPointer.allocate(byteCount: max(line.count, 1), alignment: 1)
        line.withUnsafeBytes { r.copyMemory(from: $0.baseAddress!, byteCount: line.count) }
        let m = UnsafeMutableRawPointer.allocate(byteCount: max(text.count, 1), alignment: 1)
        text.withUnsafeBytes { m.copyMemory(from: $0.baseAddress!, byteCount: text.count) }
        let (oldR, oldM) = (recordPtr, messagePtr)
        recordLength = 0
        messageLength = 0
        recordPtr = r
        messagePtr = m
        recordLength = line.count
        messageLength = text.count
        oldR?.deallocate()
        oldM?.deallocate()
    }
}
