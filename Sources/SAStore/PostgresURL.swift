import Foundation
import SACommon

/// A PostgreSQL server URL without password: `postgres://user@host:5432/dbname?sslmode=…`.
public struct PostgresURL: Sendable, Equatable {
    public var user: String?
    public var host: String
    public var port: Int
    public var database: String?
    public var options: [(String, String)]

    public static func == (a: PostgresURL, b: PostgresURL) -> Bool {
        a.user == b.user && a.host == b.host && a.port == b.port && a.database == b.database
    }

    public init(parsing text: String) throws {
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw SAError.config("database url '\(text)' is not a postgres://user@host:port/database URL")
        }
        if c.password != nil {
            throw SAError.config("database url must not contain a password; put it in credentials ([postgres.<profile>] password)")
        }
        user = c.user
        host = c.host ?? "localhost"
        port = c.port ?? 5432
        let path = c.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        database = path.isEmpty ? nil : path
        options = (c.queryItems ?? []).compactMap { q in q.value.map { (q.name, $0) } }
    }

    /// The same server, another database; what `db` fields in JSON lines carry.
    public func with(database: String) -> PostgresURL {
        var u = self
        u.database = database
        return u
    }

    public var display: String {
        "postgres://\(user.map { "\($0)@" } ?? "")\(host):\(port)/\(database ?? "")"
    }
}
