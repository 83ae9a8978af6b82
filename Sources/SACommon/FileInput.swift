import Foundation

/// Calls `body` with the file at `path` open for reading, or with standard input for "-";
/// a file that cannot be opened is `not_found`, naming it and why.
public func withInputFile<T>(_ path: String, _ body: (UnsafeMutablePointer<FILE>) throws -> T) throws -> T {
    if path == "-" { return try body(Glibc.stdin) }
    guard let file = fopen(path, "rb") else {
        throw SAError(.notFound, "cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { fclose(file) }
    return try body(file)
}

/// Reads `file` to its end in chunks of up to `chunkSize` bytes, handing each to `body`, which
/// returns false to stop early. A read error is `io`, naming `name` and why.
public func forEachChunk(of file: UnsafeMutablePointer<FILE>, name: String, chunkSize: Int = 1 << 16,
                         _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
    var buf = [UInt8](repeating: 0, count: chunkSize)
    while true {
        let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if n == 0 {
            if ferror(file) != 0 { throw SAError.io("read error on \(name): \(String(cString: strerror(errno)))") }
            return
        }
        guard try buf.withUnsafeBytes({ try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else { return }
    }
}
