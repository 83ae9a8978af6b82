import Foundation
import SACommon
import SAStore

/// One exported file made safely: one writer of a name at a time (a lock beside it), written
/// under a temporary name created exclusively (never through a symbolic link), hashed while
/// written, then renamed into place and the directory fsynced. An identical file already there
/// is left alone (`exists`).
enum ExportFile {
    struct Written {
        var path: String
        var bytes: Int64
        var sha256: String
        var status: String  // written | exists
    }

    /// `body` writes the file's bytes through the sink it is given. `busy` is the message when
    /// another process is writing the same name (`conflict`).
    static func write(outputDir: String, name: String, show: String, context ctx: [(String, JSONValue)], busy: String,
                      _ body: (_ sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws -> Written {
        do {
            try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
        } catch {
            throw SAError(.cantCreate, "cannot create output directory \(outputDir)", context: ctx)
        }
        let finalPath = (outputDir as NSString).appendingPathComponent(name)

        // One export of a file at a time: a lock beside it, released by the kernel on exit.
        let exportLock: FileLock?
        do {
            exportLock = try FileLock.tryAcquire(LockName.export(directory: outputDir, file: name))
        } catch let e as SAError {
            throw SAError(e.code, e.message, context: ctx)
        }
        guard let exportLock else { throw SAError(.conflict, busy, context: [("show", .string(show))] + ctx) }
        defer { exportLock.release() }

        // Holding the lock, any temporary file of this name is left over from a killed run.
        removeStaleTemporaries(outputDir: outputDir, name: name)
        let tmpPath = (outputDir as NSString).appendingPathComponent(".\(name).tmp.\(getpid())")
        // Created here and now, never through a planted symbolic link or into someone's file.
        let fd = open(tmpPath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let err = String(cString: strerror(errno))
            throw SAError(.cantCreate, "cannot create \(tmpPath): \(err)", context: ctx)
        }
        let file = PipelinedFileSink(fd: fd, path: tmpPath)
        var finished = false
        defer {
            if !finished { file.abandon() }
            close(fd)
            unlink(tmpPath)
        }
        // A failure of the file names the export it belongs to.
        func withContext<T>(_ step: () throws -> T) throws -> T {
            do {
                return try step()
            } catch var e as SAError {
                e.context = ctx
                throw e
            }
        }
        try body { chunk in try withContext { try file.append(chunk) } }
        let digest = try withContext { try file.finish() }
        finished = true
        var written = Written(path: finalPath, bytes: file.bytes, sha256: digest, status: "written")
        var st = stat()
        if lstat(finalPath, &st) == 0, st.st_mode & S_IFMT == S_IFREG, SHA256Hasher.hex(ofFile: finalPath) == digest {
            written.status = "exists"
        } else {
            if rename(tmpPath, finalPath) != 0 {
                throw SAError(.cantCreate, "cannot rename to \(finalPath): \(String(cString: strerror(errno)))", context: ctx)
            }
            // The rename itself is durable only once the directory is.
            try syncDirectory(outputDir, ctx)
        }
        return written
    }

    /// `.{name}.tmp.{pid}` files of earlier runs that died before their rename.
    static func removeStaleTemporaries(outputDir: String, name: String) {
        let prefix = ".\(name).tmp."
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: outputDir) else { return }
        for e in entries where e.hasPrefix(prefix) {
            unlink((outputDir as NSString).appendingPathComponent(e))  // unlink never follows a link
        }
    }

    static func syncDirectory(_ dir: String, _ ctx: [(String, JSONValue)]) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SAError(.io, "cannot open \(dir): \(String(cString: strerror(errno)))", context: ctx) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw SAError(.io, "fsync of \(dir) failed: \(String(cString: strerror(errno)))", context: ctx) }
    }
}
