import CCrypto
import Foundation

/// Streaming SHA-256 (OpenSSL), for export and push checksums.
public final class SHA256Hasher {
    private var ctx: OpaquePointer?

    public init() { ctx = sa_sha256_new() }

    deinit { if ctx != nil { var out = [UInt8](repeating: 0, count: 32); _ = sa_sha256_final(ctx, &out) } }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        _ = sa_sha256_update(ctx, base, bytes.count)
    }

    public func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The digest as lower-case hex; the hasher cannot be used afterwards.
    public func hexDigest() -> String {
        var out = [UInt8](repeating: 0, count: 32)
        _ = sa_sha256_final(ctx, &out)
        ctx = nil
        return out.map { String(format: "%02x", $0) }.joined()
    }

    /// The raw 32-byte digest; the hasher cannot be used afterwards.
    public func digest() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        _ = sa_sha256_final(ctx, &out)
        ctx = nil
        return out
    }

    /// `sha-256=:<base64>:`, the value of an HTTP `Content-Digest` field (RFC 9530) for `body`.
    public static func contentDigest(_ body: [UInt8]) -> String {
        let h = SHA256Hasher()
        h.update(body)
        return "sha-256=:" + Data(h.digest()).base64EncodedString() + ":"
    }

    /// The file's SHA-256 in hex; nil when it cannot be opened or read to its end.
    public static func hex(ofFile path: String) -> String? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        let h = SHA256Hasher()
        do {
            try forEachChunk(of: f, name: path) { h.update($0); return true }
        } catch {
            return nil
        }
        return h.hexDigest()
    }
}
