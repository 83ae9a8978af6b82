import Foundation
import SACommon

/// The bytes of an export, written to a file and hashed (SHA-256) on a second thread while the
/// caller reads and frames the next megabyte: on two cores the export then costs little more
/// than reading the audio and writing the file. Buffers of 1 MiB are handed over in order and
/// reused; at most three are in flight, so memory stays flat.
final class PipelinedFileSink: @unchecked Sendable {
    static let bufferSize = 1 << 20

    let path: String
    private let fd: Int32
    private let hasher = SHA256Hasher()
    private let queue = DispatchQueue(label: "save_audio_stream.export-writer")
    private let inFlight = DispatchSemaphore(value: 3)
    private let lock = NSLock()
    private var spare: [[UInt8]] = []
    private var failure: String?
    private var buffer: [UInt8]
    private(set) var bytes: Int64 = 0

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
        buffer = []
        buffer.reserveCapacity(PipelinedFileSink.bufferSize)
    }

    func append(_ chunk: UnsafeRawBufferPointer) throws {
        guard chunk.count > 0 else { return }
        if buffer.count + chunk.count > PipelinedFileSink.bufferSize && !buffer.isEmpty { try handOver() }
        buffer.append(contentsOf: chunk)
        bytes += Int64(chunk.count)
    }

    private func handOver() throws {
        try check()
        let full = buffer
        lock.lock()
        buffer = spare.popLast() ?? []
        lock.unlock()
        buffer.removeAll(keepingCapacity: true)
        buffer.reserveCapacity(PipelinedFileSink.bufferSize)
        inFlight.wait()
        queue.async { [self] in
            defer { inFlight.signal() }
            if let problem = writeAll(full) {
                lock.lock()
                if failure == nil { failure = problem }
                lock.unlock()
                return
            }
            full.withUnsafeBytes { hasher.update($0) }
            lock.lock()
            spare.append(full)
            lock.unlock()
        }
    }

    private func writeAll(_ data: [UInt8]) -> String? {
        data.withUnsafeBytes { p -> String? in
            var offset = 0
            while offset < p.count {
                let n = write(fd, p.baseAddress! + offset, p.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return String(cString: strerror(errno))
                }
                offset += n
            }
            return nil
        }
    }

    private func check() throws {
        lock.lock()
        let problem = failure
        lock.unlock()
        if let problem { throw SAError(.io, "writing \(path) failed: \(problem)") }
    }

    /// Writes what is left, waits for the writer, fsyncs; returns the SHA-256 as hex.
    func finish() throws -> String {
        if !buffer.isEmpty { try handOver() }
        queue.sync {}
        try check()
        guard fsync(fd) == 0 else { throw SAError(.io, "writing \(path) failed: \(String(cString: strerror(errno)))") }
        return hasher.hexDigest()
    }

    /// Waits for the writer without finishing (after an error elsewhere).
    func abandon() { queue.sync {} }
}
