import Foundation
import SACommon
import SAStore
import SAStorePostgres

/// Pushes files to the `[sftp]` target: upload under a temporary remote name, verify size and
/// content (read back and hashed), then rename into place. An identical remote file is left
/// alone (`exists`); a differing one is replaced, with a warning.
public final class Pusher {
    public let config: SFTPConfig
    let credentials: Credentials
    let output: JSONLineWriter
    let showProgress: Bool
    private var client: SFTPClient?
    private var madeDirectory = false
    private var databases: [String: ShowDB] = [:]
    public var databasePassword: String?
    let log = SALog.logger("sa-push")

    public init(config: SFTPConfig, credentials: Credentials, output: JSONLineWriter = .stdout, showProgress: Bool = false) {
        self.config = config
        self.credentials = credentials
        self.output = output
        self.showProgress = showProgress
    }

    /// The connection, opened on first use and reused for the batch.
    func connection() throws -> SFTPClient {
        if let client { return client }
        let c = try SFTPClient(config: config, credentials: credentials)
        client = c
        return c
    }

    public func close() { client?.close() }

    func remotePath(for local: String) -> String {
        let name = (local as NSString).lastPathComponent
        let dir = config.remoteDir.isEmpty ? "." : config.remoteDir
        return dir == "." ? name : (dir.hasSuffix("/") ? dir + name : dir + "/" + name)
    }

    /// Pushes one file. `show`, `db` and `sectionID` (from the input line) let the push be
    /// recorded in the show's database.
    public func push(local: String, show: String?, db: String?, sectionID: Int64?) throws -> JSONValue {
        AbortGuard.arm(file: local)
        defer { AbortGuard.disarm() }
        var ctx: [(String, JSONValue)] = [("file_path", .string(local))]
        if let show { ctx.append(("show", .string(show))) }
        if let sectionID { ctx.append(("section_id", .int(sectionID))) }
        // The file's name becomes the remote name: a hidden name would collide with our
        // temporary ".name.part" files, and control characters have no place in an archive.
        let name = (local as NSString).lastPathComponent
        guard !name.isEmpty, !name.hasPrefix("."), name.utf8.count <= 255, !name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw SAError(.badFileName,
                          "\(local): a file to archive needs a plain name (no leading '.', no control characters, at most 255 bytes)", context: ctx)
        }
        // A regular file only: a device (/dev/zero) or a FIFO named in a line would never end.
        var st = stat()
        guard stat(local, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            throw SAError(.notFound, "\(local) does not exist or is not a regular file", context: ctx)
        }
        guard let localSHA = SHA256Hasher.hex(ofFile: local) else {
            throw SAError(.unreadable, "cannot read \(local)", context: ctx)
        }
        let size = Int64((try? FileManager.default.attributesOfItem(atPath: local)[.size] as? NSNumber)??.int64Value ?? 0)
        let sftp = try connection()
        if !madeDirectory, config.remoteDir != "." && !config.remoteDir.isEmpty {
            try sftp.makeDirectories(config.remoteDir)
            madeDirectory = true
        }
        let remote = remotePath(for: local)
        var status = "uploaded"
        if let existing = try sftp.size(remote) {
            if existing == UInt64(size), try sftp.sha256(remote) == localSHA {
                status = "exists"
            } else {
                log.warning("\(config.host):\(remote) differs from \(local) (\(existing) vs \(size) bytes); replacing it")
            }
        }
        if status == "uploaded" {
            let temp = remotePath(for: "." + (local as NSString).lastPathComponent + ".part")
            let (sent, sentSHA) = try sftp.upload(local: local, remote: temp) { done, total in
                if self.showProgress {
                    fputs("\r\((local as NSString).lastPathComponent): \(done * 100 / max(total, 1))%", stderr)
                }
            }
            if showProgress { fputs("\n", stderr) }
            guard sentSHA == localSHA else {
                try? sftp.remove(temp)
                throw SAError(.changed, "\(local) changed while it was uploaded; try again", context: ctx)
            }
            guard try sftp.size(temp) == UInt64(sent), try sftp.sha256(temp) == localSHA else {
                try? sftp.remove(temp)
                throw SAError(.uploadMismatch, "the uploaded copy of \(local) on \(config.host) does not match; removed it",
                              context: ctx)
            }
            if try sftp.size(remote) != nil { try sftp.remove(remote) }
            try sftp.rename(temp, remote)
        }
        if let db, let sectionID {
            do {
                let d = try database(db)
                try d.recordPush(section: sectionID, filePath: local, remotePath: remote, host: config.host, bytes: size, sha256: localSHA)
            } catch {
                log.warning("pushed \(local) but could not record it in \(db): \(error)")
            }
        }
        return .object([("type", "pushed"), ("file_path", .string(local)), ("remote_path", .string(remote)),
                        ("host", .string(config.host)), ("bytes", .int(size)), ("sha256", .string(localSHA)),
                        ("status", .string(status))] + (show.map { [("show", JSONValue.string($0))] } ?? [])
                        + (sectionID.map { [("section_id", JSONValue.int($0))] } ?? []))
    }

    private func database(_ db: String) throws -> ShowDB {
        if let d = databases[db] { return d }
        let d = try ShowDB.open(db: db, password: databasePassword)
        databases[db] = d
        return d
    }
}
