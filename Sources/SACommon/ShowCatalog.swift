import Foundation

/// The show databases in a recorder's output directory.
public enum ShowCatalog {
    public static func shows(in dir: String) -> [(name: String, path: String)] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return files.sorted().compactMap { f in
            guard f.hasSuffix(".sqlite") else { return nil }
            let name = String(f.dropLast(7))
            guard (try? ShowName.validate(name)) != nil else { return nil }
            return (name, (dir as NSString).appendingPathComponent(f))
        }
    }
}
