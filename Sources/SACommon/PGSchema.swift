import Foundation

public enum PGSchema {
    public static func metadata(_ conn: PGConnection) throws -> [String: String] {
        var out: [String: String] = [:]
        for row in try conn.exec("SELECT key, value FROM metadata") { out[row[0] ?? ""] = row[1] ?? "" }
        return out
    }

    /// Brings a PostgreSQL show database to the current schema version.
    public static func migrate(_ conn: PGConnection) throws {
        try conn.transaction {
            // Serialise concurrent first-time migrations.
            try conn.exec("SELECT pg_advisory_xact_lock(7283000)")
            let has = try conn.exec("SELECT to_regclass('public.metadata') IS NOT NULL")[0][0] == "t"
            var version = has ? Int(try conn.exec("SELECT value FROM metadata WHERE key = 'version'").first?[0] ?? "0") ?? 0 : 0
            guard version <= Schema.currentVersion else {
                throw SAError(.dataError, code: "version", "\(conn.url.display) has schema version \(version), newer than this tool's")
            }
            while version < Schema.currentVersion {
                try conn.exec(Schema.postgresMigrations[version])
                version += 1
                try conn.exec("INSERT INTO metadata (key, value) VALUES ('version', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                              [String(version)])
            }
        }
    }
}
