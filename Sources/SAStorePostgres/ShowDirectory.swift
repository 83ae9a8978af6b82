import Foundation
import SACommon
import SAStore

/// The show databases a config covers, as `db` strings: every `<show>.sqlite` of a recorder's
/// output_dir, or every `save_audio_<prefix>_<show>` database of a receiver store.
public enum ShowDirectory {
    public static func databases(config: LoadedConfig, credentials: Credentials, shows: [String]) throws
        -> (list: [(show: String, db: String)], password: String?)
    {
        switch config {
        case .record(let c):
            var list = ShowCatalog.shows(in: c.outputDir).map { (show: $0.name, db: $0.path) }
            if !shows.isEmpty { list = list.filter { shows.contains($0.show) } }
            return (list, nil)
        case .receiver(let c):
            let (location, password) = try c.store(credentials: credentials)
            var names = shows
            if names.isEmpty { names = c.shows?.map(\.name) ?? [] }
            var list: [(show: String, db: String)] = []
            switch location {
            case .postgres(let server):
                let prefix = "save_audio_\(c.databasePrefix)_"
                if names.isEmpty {
                    let admin = try PGConnection(url: server.with(database: server.database ?? "postgres"), password: password)
                    names = try admin.databases(withPrefix: prefix).map { String($0.dropFirst(prefix.count)) }
                }
                for n in names {
                    list.append((n, server.with(database: try ReceiverStoreLocation.databaseName(prefix: c.databasePrefix, show: n)).display))
                }
            case .sqlite(let dir):
                let prefix = "save_audio_\(c.databasePrefix)_"
                if names.isEmpty {
                    names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
                        .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".sqlite") }
                        .map { String($0.dropFirst(prefix.count).dropLast(7)) }
                }
                for n in names {
                    let file = (dir as NSString).appendingPathComponent(try ReceiverStoreLocation.databaseName(prefix: c.databasePrefix, show: n) + ".sqlite")
                    list.append((n, file))
                }
            }
            return (list, password)
        }
    }
}
