/// The one rule for show names: `[A-Za-z0-9_-]{1,48}`. Names become file names and database
/// names, so anything else is refused before it reaches a path or an SQL identifier.
public enum ShowName {
    public static func validate(_ name: String) throws -> String {
        let ok = !name.isEmpty && name.utf8.count <= 48 && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x5F || c == 0x2D
        }
        guard ok else {
            throw SAError(.badShowName,
                          "invalid show name '\(name)': use 1 to 48 characters from A-Z, a-z, 0-9, '_' and '-'")
        }
        return name
    }
}
