import Foundation
import TOMLKit

/// Reads one TOML table, remembering which keys were read, so unknown keys (typos) can be
/// reported with the key and the file instead of silently doing nothing.
final class TOMLReader {
    let table: TOMLTable
    let file: String
    let path: String
    private var used: Set<String> = []

    init(table: TOMLTable, file: String, path: String = "") {
        self.table = table
        self.file = file
        self.path = path
    }

    static func load(file: String) throws -> TOMLReader {
        guard FileManager.default.isReadableFile(atPath: file) else {
            if FileManager.default.fileExists(atPath: file) {
                throw SAError(.permission, "cannot read config file \(file): permission denied")
            }
            throw SAError(.config, "config file \(file) does not exist")
        }
        let text: String
        do {
            text = try String(contentsOfFile: file, encoding: .utf8)
        } catch {
            throw SAError.config("cannot read config file \(file) as UTF-8 text")
        }
        // TOML allows NUL only as an escape; the parser's C strings would silently cut a value there.
        if text.utf8.contains(0) || text.range(of: #"\\(u0000|U00000000)"#, options: .regularExpression) != nil {
            throw SAError.config("\(file): a NUL character (\\u0000) is not allowed in a config file")
        }
        do {
            return TOMLReader(table: try TOMLTable(string: text), file: file)
        } catch let e as TOMLParseError {
            throw SAError.config("\(file): TOML syntax error at line \(e.source.begin.line), column \(e.source.begin.column): \(e.description)")
        }
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    private func fail(_ key: String, _ what: String) -> SAError {
        SAError.config("\(file): '\(name(key))' \(what)")
    }

    func has(_ key: String) -> Bool { table[key] != nil }

    func string(_ key: String) throws -> String? {
        used.insert(key)
        guard let v = table[key] else { return nil }
        guard let s = v.string else { throw fail(key, "must be a string") }
        return s
    }

    func string(_ key: String, default d: String) throws -> String { try string(key) ?? d }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw fail(key, "is required") }
        return s
    }

    func int(_ key: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        used.insert(key)
        guard let v = table[key] else { return nil }
        guard let i = v.int else { throw fail(key, "must be an integer") }
        if let range, !range.contains(i) {
            throw fail(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
        }
        return i
    }

    func int(_ key: String, default d: Int, range: ClosedRange<Int>? = nil) throws -> Int {
        try int(key, range: range) ?? d
    }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        used.insert(key)
        guard let v = table[key] else { return d }
        guard let b = v.bool else { throw fail(key, "must be true or false") }
        return b
    }

    func table(_ key: String) throws -> TOMLReader? {
        used.insert(key)
        guard let v = table[key] else { return nil }
        guard let t = v.table else { throw fail(key, "must be a table") }
        return TOMLReader(table: t, file: file, path: name(key))
    }

    /// An array of tables (`[[sessions]]`).
    func tables(_ key: String) throws -> [TOMLReader] {
        used.insert(key)
        guard let v = table[key] else { return [] }
        guard let a = v.array else { throw fail(key, "must be an array of tables ([[\(name(key))]])") }
        return try a.enumerated().map { i, item in
            guard let t = item.table else { throw fail(key, "must be an array of tables ([[\(name(key))]])") }
            return TOMLReader(table: t, file: file, path: "\(name(key))[\(i)]")
        }
    }

    /// The raw value for keys that accept several shapes.
    func raw(_ key: String) -> (any TOMLValueConvertible)? {
        used.insert(key)
        return table[key]
    }

    /// Call after reading every known key: any other key is an error naming it and the file.
    func rejectUnknownKeys() throws {
        for key in table.keys.sorted() where !used.contains(key) {
            throw SAError.config("\(file): unknown key '\(name(key))'")
        }
    }
}
