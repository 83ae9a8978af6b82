import Foundation
import SACommon
import SAStore

extension ShowDB {
    /// Opens the database a `db` field names: a file path, or a `postgres://` URL without
    /// password (`password` comes from credentials). Anything that is not one of our show
    /// databases is refused before a migration could touch it.
    public static func open(db: String, password: String?, readOnly: Bool = false) throws -> ShowDB {
        guard db.hasPrefix("postgres://") || db.hasPrefix("postgresql://") else {
            guard FileManager.default.fileExists(atPath: db) else {
                throw SAError(.notFound, "database \(db) does not exist")
            }
            return try openFile(db, readOnly: readOnly)
        }
        let url = try PostgresURL(parsing: db)
        guard url.database != nil else { throw SAError(.badParam, "\(db) names no database") }
        let conn = try PGConnection(url: url, password: password)
        guard try isShowDatabase(conn) else {
            throw SAError(.notAShowDatabase, "\(url.display) is not a save_audio_stream show database; left untouched")
        }
        if !readOnly { try Schema.migrate(conn) }
        return ShowDB(conn)
    }

    /// A receiver's PostgreSQL copy of a show, the database created when missing.
    static func openReceiver(server: PostgresURL, database: String, password: String?) throws -> ShowDB {
        let admin = try PGConnection(url: server.with(database: server.database ?? "postgres"), password: password)
        if try !admin.databaseExists(database) {
            do {
                try admin.script("CREATE DATABASE \(PGConnection.quoteIdentifier(database))")
            } catch let e as SAError where e.message.contains("already exists") {
                // Another syncer created it a moment ago.
            }
        }
        let conn = try PGConnection(url: server.with(database: database), password: password)
        try Schema.migrate(conn)
        return ShowDB(conn)
    }
}

extension PGConnection {
    func databaseExists(_ name: String) throws -> Bool {
        try first("SELECT 1 FROM pg_database WHERE datname = $1", [.text(name)]) { _ in true } ?? false
    }

    /// Databases of this server whose names start with `prefix`, sorted.
    func databases(withPrefix prefix: String) throws -> [String] {
        try rows("SELECT datname::text FROM pg_database WHERE starts_with(datname, $1) ORDER BY datname", [.text(prefix)]) {
            $0.text(0) ?? ""
        }
    }
}

extension ReceiverStoreLocation {
    /// Opens (creating when missing) the receiver database of a show.
    public func open(show: String, prefix: String, password: String?) throws -> ShowDB {
        let name = try ReceiverStoreLocation.databaseName(prefix: prefix, show: show)
        switch self {
        case .postgres(let server):
            return try ShowDB.openReceiver(server: server, database: name, password: password)
        case .sqlite(let dir):
            return try ShowDB.openReceiverFile(directory: dir, database: name)
        }
    }

    /// Opens an existing receiver database, or nil when the show was never pulled.
    public func openExisting(show: String, prefix: String, password: String?) throws -> ShowDB? {
        let name = try ReceiverStoreLocation.databaseName(prefix: prefix, show: show)
        switch self {
        case .postgres(let server):
            let admin = try PGConnection(url: server.with(database: server.database ?? "postgres"), password: password)
            guard try admin.databaseExists(name) else { return nil }
            return try ShowDB.openReceiver(server: server, database: name, password: password)
        case .sqlite(let dir):
            guard FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name + ".sqlite")) else { return nil }
            return try ShowDB.openReceiverFile(directory: dir, database: name)
        }
    }
}
