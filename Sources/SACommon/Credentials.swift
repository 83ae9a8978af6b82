import Foundation
import TOMLKit

/// Secrets by type and profile: `[postgres.<profile>] password`, `[sftp.<profile>] password` or
/// `private_key` (+ `passphrase`), `[api.<profile>] token`, `[feed.<profile>] token`. `CRED_<TYPE>_<PROFILE>_<FIELD>` in the
/// environment overrides the file. Secret values never appear in messages.
public final class Credentials: @unchecked Sendable {
    public enum Kind: String, Sendable { case postgres, sftp, api, feed }

    public let file: String
    private let environment: [String: String]
    private var loaded: TOMLTable?

    public init(file: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.file = file ?? ConfigPaths.credentials(environment: environment)
        self.environment = environment
    }

    public static func environmentName(kind: Kind, profile: String, field: String) -> String {
        let p = String(profile.uppercased().unicodeScalars.map { s -> Character in
            (s.value < 128 && (CharacterSet.alphanumerics.contains(s))) ? Character(s) : "_"
        })
        return "CRED_\(kind.rawValue.uppercased())_\(p)_\(field.uppercased())"
    }

    /// The keys each kind of profile may hold; any other key is a typo that would silently do nothing.
    static let fields: [Kind: Set<String>] = [.postgres: ["password"], .sftp: ["password", "private_key", "passphrase"], .api: ["token"],
                                            .feed: ["token"]]

    /// The value of `field` in `[kind.profile]`, or nil when the profile does not set it. An empty
    /// value is an error: an empty token or password is never what was meant.
    public func value(_ kind: Kind, profile: String, field: String) throws -> String? {
        let envName = Credentials.environmentName(kind: kind, profile: profile, field: field)
        if let v = environment[envName] {
            guard !v.isEmpty else { throw SAError.config("\(envName) is set but empty") }
            return v
        }
        guard let table = try loadFile() else { return nil }
        guard let kindTable = table[kind.rawValue]?.table, let prof = kindTable[profile]?.table else { return nil }
        guard let v = prof[field] else { return nil }
        guard let s = v.string else {
            throw SAError.config("\(file): '\(kind.rawValue).\(profile).\(field)' must be a string")
        }
        guard !s.isEmpty else { throw SAError.config("\(file): '\(kind.rawValue).\(profile).\(field)' is empty") }
        return s
    }

    /// Like `value` but a missing secret is a configuration error that says where to put it.
    public func require(_ kind: Kind, profile: String, field: String) throws -> String {
        if let v = try value(kind, profile: profile, field: field) { return v }
        throw SAError.config("no \(field) for profile '\(profile)': set [\(kind.rawValue).\(profile)] \(field) in \(file) "
            + "or \(Credentials.environmentName(kind: kind, profile: profile, field: field)) in the environment")
    }

    /// Reads and checks the file once. A file that group or others can read is refused, as ssh
    /// refuses such keys.
    private func loadFile() throws -> TOMLTable? {
        if let loaded { return loaded }
        var st = stat()
        guard stat(file, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw SAError(.permission, "cannot read credentials file \(file): \(String(cString: strerror(errno)))")
        }
        if st.st_mode & 0o077 != 0 {
            throw SAError(.config,
                          String(format: "credentials file %@ is readable by group or others (mode %03o); run: chmod 600 %@",
                                 file, Int(st.st_mode & 0o777), file))
        }
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw SAError(.permission, "cannot read credentials file \(file)")
        }
        if text.utf8.contains(0) || text.range(of: #"\\(u0000|U00000000)"#, options: .regularExpression) != nil {
            throw SAError.config("\(file): a NUL character (\\u0000) is not allowed in a credentials file")
        }
        do {
            let t = try TOMLTable(string: text)
            for key in t.keys.sorted() {
                guard let kind = Kind(rawValue: key) else {
                    throw SAError.config("\(file): unknown table '\(key)' (use postgres, sftp or api)")
                }
                guard let profiles = t[key]?.table else { throw SAError.config("\(file): '\(key)' must hold [\(key).<profile>] tables") }
                for profile in profiles.keys.sorted() {
                    guard let fields = profiles[profile]?.table else {
                        throw SAError.config("\(file): '\(key).\(profile)' must be a table ([\(key).\(profile)])")
                    }
                    let allowed = Credentials.fields[kind]!
                    for field in fields.keys.sorted() where !allowed.contains(field) {
                        throw SAError.config("\(file): unknown key '\(key).\(profile).\(field)' (allowed: \(allowed.sorted().joined(separator: ", ")))")
                    }
                }
            }
            loaded = t
            return t
        } catch let e as TOMLParseError {
            // The parser's message may quote the offending line, which could hold a secret.
            throw SAError.config("\(file): TOML syntax error at line \(e.source.begin.line)")
        }
    }
}
