import Foundation
import SACommon

/// Where a receiver keeps its shows: `postgres://…` or `sqlite:DIR`.
public enum ReceiverStoreLocation: Sendable {
    case postgres(PostgresURL)
    case sqlite(String)

    public init(url: String, relativeTo configFile: String) throws {
        if url.hasPrefix("sqlite:") {
            let dir = String(url.dropFirst(7))
            guard !dir.isEmpty else { throw SAError.config("database url 'sqlite:' needs a directory, e.g. sqlite:/var/lib/radio") }
            self = .sqlite(ConfigLoader.resolve(dir, relativeTo: configFile))
        } else {
            self = .postgres(try PostgresURL(parsing: url))
        }
    }

    /// The receiver database of a show: `save_audio_<prefix>_<show>` (a PostgreSQL database,
    /// or `<name>.sqlite` in a `sqlite:DIR` store). The one place this rule is written.
    public static func databaseName(prefix: String, show: String) throws -> String {
        let name = "save_audio_\(prefix)_\(try ShowName.validate(show))"
        guard name.utf8.count <= 63 else {
            throw SAError.config("database name \(name) is longer than PostgreSQL's 63 bytes; use a shorter prefix or show name")
        }
        return name
    }
}

extension ReceiverConfig {
    /// Where this receiver keeps its shows, and the database password its credentials profile
    /// names (nil without one).
    public func store(credentials: Credentials) throws -> (location: ReceiverStoreLocation, password: String?) {
        (try ReceiverStoreLocation(url: databaseURL, relativeTo: file),
         try databaseCredentialProfile.map { try credentials.require(.postgres, profile: $0, field: "password") })
    }
}
