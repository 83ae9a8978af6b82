import CSSH2
import Foundation
import SACommon

/// One SSH connection with an SFTP channel (libssh2), reused for a batch of uploads. The
/// server's host key is checked against known_hosts before any credential is sent.
public final class SFTPClient {
    public let config: SFTPConfig
    private var socketFD: Int32 = -1
    private var session: OpaquePointer?
    private var sftp: OpaquePointer?
    private let log = SALog.logger("sa-push")

    /// Connects, verifies the host key and authenticates with the `[sftp.<profile>]` credentials.
    public init(config: SFTPConfig, credentials: Credentials, timeoutSeconds: Int = 30) throws {
        self.config = config
        libssh2_init(0)
        do {
            try connect(timeoutSeconds: timeoutSeconds)
            try handshake(timeoutSeconds: timeoutSeconds)
            try verifyHostKey()
            try authenticate(credentials)
            guard let f = libssh2_sftp_init(session) else { throw sessionError("cannot start the SFTP subsystem") }
            sftp = f
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    public var host: String { config.host }

    public func close() {
        if let sftp { libssh2_sftp_shutdown(sftp) }
        sftp = nil
        if let session {
            _ = sa_ssh_disconnect(session)
            libssh2_session_free(session)
        }
        session = nil
        if socketFD >= 0 { Glibc.close(socketFD) }
        socketFD = -1
    }

    private func connect(timeoutSeconds: Int) throws {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(config.host, String(config.port), &hints, &res)
        guard rc == 0, let first = res else {
            throw SAError(.unavailable, "cannot resolve \(config.host): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        var lastError = ""
        var ai: UnsafeMutablePointer<addrinfo>? = first
        while let a = ai {
            let fd = socket(a.pointee.ai_family, a.pointee.ai_socktype, a.pointee.ai_protocol)
            if fd >= 0 {
                var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                if Glibc.connect(fd, a.pointee.ai_addr, a.pointee.ai_addrlen) == 0 {
                    socketFD = fd
                    return
                }
                lastError = String(cString: strerror(errno))
                Glibc.close(fd)
            }
            ai = a.pointee.ai_next
        }
        throw SAError(.unavailable, "cannot connect to \(config.host):\(config.port): \(lastError)")
    }

    private func handshake(timeoutSeconds: Int) throws {
        guard let s = sa_ssh_session_new() else { throw SAError.internalError("libssh2_session_init failed") }
        session = s
        libssh2_session_set_blocking(s, 1)
        libssh2_session_set_timeout(s, timeoutSeconds * 1000)
        guard libssh2_session_handshake(s, socketFD) == 0 else {
            throw sessionError("SSH handshake with \(config.host):\(config.port) failed")
        }
    }

    /// The link itself failed (timeout, reset, damaged packet), as opposed to a refusal.
    var transportBroken: Bool {
        guard let session else { return true }
        let e = libssh2_session_last_errno(session)
        return [LIBSSH2_ERROR_SOCKET_SEND, LIBSSH2_ERROR_SOCKET_RECV, LIBSSH2_ERROR_SOCKET_DISCONNECT, LIBSSH2_ERROR_TIMEOUT,
                LIBSSH2_ERROR_SOCKET_TIMEOUT, LIBSSH2_ERROR_DECRYPT, LIBSSH2_ERROR_PROTO, LIBSSH2_ERROR_KEX_FAILURE,
                LIBSSH2_ERROR_SOCKET_NONE].contains(e)
    }

    /// libssh2 reports a link that broke in the middle of authentication as a refused key. A
    /// server that really refused still answers the next question (which methods it accepts).
    private func linkStillAnswers() -> Bool {
        guard let session else { return false }
        return libssh2_userauth_list(session, config.username, UInt32(config.username.utf8.count)) != nil
    }

    /// After the link broke, nothing more is said on it: the socket is shut down so that closing
    /// the handle, the SFTP channel and the session fail at once instead of each waiting out
    /// the timeout (four timeouts, two minutes, on a stalled link).
    private func abandonLinkIfBroken() {
        if transportBroken && socketFD >= 0 { Glibc.shutdown(socketFD, Int32(SHUT_RDWR)) }
    }

    func sessionError(_ what: String) -> SAError {
        abandonLinkIfBroken()
        var msg: UnsafeMutablePointer<CChar>?
        var len: Int32 = 0
        if let session { libssh2_session_last_error(session, &msg, &len, 0) }
        let detail = msg.map { String(cString: $0) } ?? ""
        return SAError(.unavailable, detail.isEmpty ? what : "\(what): \(detail)")
    }

    /// The OpenSSH-style fingerprint of the server's key: `SHA256:` + unpadded base64.
    public var fingerprint: String {
        guard let session, let h = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256) else { return "?" }
        let raw = Data(bytes: h, count: 32)
        return "SHA256:" + raw.base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    private func verifyHostKey() throws {
        var len = 0
        var type: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &len, &type) else { throw sessionError("the server sent no host key") }
        let acceptNew = config.knownHosts == "accept-new"
        let file = HomePath.expand(acceptNew ? "~/.ssh/known_hosts" : config.knownHosts)
        guard let hosts = sa_knownhost_init(session) else { throw SAError.internalError("libssh2_knownhost_init failed") }
        defer { libssh2_knownhost_free(hosts) }
        if FileManager.default.fileExists(atPath: file), sa_knownhost_readfile(hosts, file) < 0 {
            throw SAError(.config, "cannot read known_hosts file \(file)")
        }
        let keybit = sa_knownhost_keybit(type)
        let hostID = config.port == 22 ? config.host : "[\(config.host)]:\(config.port)"
        switch sa_knownhost_check(hosts, config.host, Int32(config.port), key, len, keybit) {
        case 0:
            return
        case 1:
            throw SAError(.hostKey,
                          "the host key of \(hostID) has CHANGED (offered \(fingerprint)); refusing to connect. "
                              + "If the server was really re-keyed, remove its old line from \(file)")
        case 2 where acceptNew:
            guard sa_knownhost_add(hosts, hostID, key, len, keybit) == 0 else { throw SAError.internalError("cannot add the host key") }
            try? FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                     attributes: [.posixPermissions: 0o700])
            guard sa_knownhost_writefile(hosts, file) == 0 else {
                throw SAError(.cantCreate, "cannot write the new host key of \(hostID) to \(file)")
            }
            log.notice("added the host key of \(hostID) (\(fingerprint)) to \(file)")
        default:
            throw SAError(.hostKey,
                          "the host key of \(hostID) is not in \(file) (offered \(fingerprint)); refusing to connect. "
                              + "Check the fingerprint, then add it (ssh-keyscan -p \(config.port) \(config.host) >> \(file)) "
                              + "or set known_hosts = 'accept-new'")
        }
    }

    private func authenticate(_ credentials: Credentials) throws {
        let profile = config.credentialProfile
        let key = try credentials.value(.sftp, profile: profile, field: "private_key")
        let password = try credentials.value(.sftp, profile: profile, field: "password")
        guard key != nil || password != nil else {
            throw SAError.config("no password or private_key for [sftp.\(profile)] in \(credentials.file) "
                + "(or \(Credentials.environmentName(kind: .sftp, profile: profile, field: "password")))")
        }
        if let key {
            let path = HomePath.expand(key)
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw SAError.config("[sftp.\(profile)] private_key \(path) cannot be read")
            }
            // As ssh does: a key others can read is no longer a secret, so it is not used.
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
                throw SAError.config(String(format: "[sftp.%@] private_key %@ is accessible by group or others (mode %03o); run: chmod 600 %@",
                                            profile, path, Int(st.st_mode & 0o777), path))
            }
            let passphrase = try credentials.value(.sftp, profile: profile, field: "passphrase") ?? ""
            if sa_ssh_auth_key(session, config.username, path, passphrase) == 0 { return }
            // A link that broke while authenticating is not a refusal.
            if transportBroken || !linkStillAnswers() {
                throw sessionError("the connection to \(config.host) broke during authentication")
            }
            // A damaged answer that the SSH library dropped also looks like a refusal: ask once more.
            if sa_ssh_auth_key(session, config.username, path, passphrase) == 0 { return }
            if transportBroken { throw sessionError("the connection to \(config.host) broke during authentication") }
            if password == nil {
                throw SAError(.auth, "\(config.username)@\(config.host) refused the key \(path) (wrong key or passphrase)")
            }
        }
        if let password, sa_ssh_auth_password(session, config.username, password) == 0 { return }
        if transportBroken || !linkStillAnswers() { throw sessionError("the connection to \(config.host) broke during authentication") }
        throw SAError(.auth,
                      "\(config.username)@\(config.host) refused the \(key != nil ? "key and the password" : "password") of profile '\(profile)'")
    }

    // MARK: SFTP

    private func sftpError(_ what: String) -> SAError {
        abandonLinkIfBroken()
        let code = sftp.map { libssh2_sftp_last_error($0) } ?? 0
        if libssh2_session_last_errno(session) != LIBSSH2_ERROR_SFTP_PROTOCOL {
            return sessionError("\(what) on \(config.host)")
        }
        let meaning: String
        switch code {
        case UInt(LIBSSH2_FX_NO_SUCH_FILE): meaning = "no such file"
        case UInt(LIBSSH2_FX_PERMISSION_DENIED): meaning = "permission denied"
        case UInt(LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM), UInt(LIBSSH2_FX_QUOTA_EXCEEDED): meaning = "no space left"
        default: meaning = "SFTP status \(code)"
        }
        return SAError(code == UInt(LIBSSH2_FX_PERMISSION_DENIED) ? .deniedStorage : .io, "\(what) on \(config.host): \(meaning)")
    }

    /// Size of a remote file, or nil when it does not exist.
    public func size(_ path: String) throws -> UInt64? {
        var attrs = LIBSSH2_SFTP_ATTRIBUTES()
        if sa_sftp_stat(sftp, path, &attrs) == 0 { return attrs.filesize }
        if libssh2_sftp_last_error(sftp) == UInt(LIBSSH2_FX_NO_SUCH_FILE) { return nil }
        throw sftpError("stat \(path)")
    }

    /// `mkdir -p` on the server.
    public func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") where !part.isEmpty && part != "." {
            current = current == "" ? "/\(part)" : "\(current)/\(part)"
            if try size(current) != nil { continue }
            if sa_sftp_mkdir(sftp, current, 0o755) != 0, try size(current) == nil {
                throw sftpError("mkdir \(current)")
            }
        }
    }

    public func remove(_ path: String) throws {
        if sa_sftp_unlink(sftp, path) != 0, try size(path) != nil { throw sftpError("remove \(path)") }
    }

    public func rename(_ from: String, _ to: String) throws {
        if sa_sftp_rename(sftp, from, to) != 0 { throw sftpError("rename \(from) to \(to)") }
    }

    /// Uploads a local file; returns its size and SHA-256 (of what was read and sent).
    public func upload(local: String, remote: String, progress: ((Int64, Int64) -> Void)? = nil) throws -> (Int64, String) {
        guard let file = fopen(local, "rb") else {
            throw SAError(.notFound, "cannot open \(local): \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var st = stat()
        fstat(fileno(file), &st)
        let total = Int64(st.st_size)
        guard let h = sa_sftp_open(sftp, remote, UInt(LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC), 0o644) else {
            throw sftpError("create \(remote)")
        }
        var closed = false
        defer { if !closed { _ = sa_sftp_close(h) } }
        let hasher = SHA256Hasher()
        var sent: Int64 = 0
        try forEachChunk(of: file, name: local, chunkSize: 1 << 18) { chunk in
            hasher.update(chunk)
            var off = 0
            while off < chunk.count {
                let w = libssh2_sftp_write(h, chunk.baseAddress!.advanced(by: off).assumingMemoryBound(to: CChar.self), chunk.count - off)
                guard w > 0 else { throw sftpError("write \(remote)") }
                off += w
            }
            sent += Int64(chunk.count)
            progress?(sent, total)
            return true
        }
        closed = true
        guard sa_sftp_close(h) == 0 else { throw sftpError("close \(remote)") }
        return (sent, hasher.hexDigest())
    }

    /// Reads a remote file back and returns its SHA-256.
    public func sha256(_ remote: String) throws -> String {
        guard let h = sa_sftp_open(sftp, remote, UInt(LIBSSH2_FXF_READ), 0) else { throw sftpError("open \(remote)") }
        defer { _ = sa_sftp_close(h) }
        let hasher = SHA256Hasher()
        var buf = [UInt8](repeating: 0, count: 1 << 18)
        while true {
            let n = buf.withUnsafeMutableBytes { libssh2_sftp_read(h, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
            if n == 0 { break }
            guard n > 0 else { throw sftpError("read \(remote)") }
            buf.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return hasher.hexDigest()
    }
}
