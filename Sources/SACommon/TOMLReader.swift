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

    /// The value at `key` (nil when absent) as `extract` reads it; a value of another type
    /// fails with "must be `what`".
    private func value<T>(_ key: String, _ what: String, _ extract: (any TOMLValueConvertible) -> T?) throws -> T? {
        used.insert(key)
        guard let v = table[key] else { return nil }
        guard let t = extract(v) else { throw fail(key, "must be \(what)") }
        return t
    }

    func string(_ key: String) throws -> String? { try value(key, "a string") { $0.string } }

    func string(_ key: String, default d: String) throws -> String { try string(key) ?? d }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw fail(key, "is required") }
        return s
    }

    func int(_ key: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let i = try value(key, "an integer", { $0.int }) else { return nil }
        if let range, !range.contains(i) {
            throw fail(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
        }
        return i
    }

    func int(_ key: String, default d: Int, range: ClosedRange<Int>? = nil) throws -> Int {
        try int(key, range: range) ?? d
    }

    func bool(_ key: String, default d: Bool) throws -> Bool { try value(key, "true or false") { $0.bool } ?? d }

    func table(_ key: String) throws -> TOMLReader? {
        try value(key, "a table") { $0.table }.map { TOMLReader(table: $0, file: file, path: name(key)) }
    }

    /// An array of tables (`[[sessions]]`).
    func tables(_ key: String) throws -> [TOMLReader] {
        let what = "an array of tables ([[\(name(key))]])"
        guard let a = try value(key, what, { $0.array }) else { return [] }
        return try a.enumerated().map { i, item in
            guard let t = item.table else { throw fail(key, "must be \(what)") }
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
