import Foundation

/// The one error type of the toolkit. It knows its exit status, its short machine code for the
/// `error` JSON record and the human message; later it will know its HTTP status too.
public struct SAError: Error, CustomStringConvertible, Sendable {
    public var status: ExitStatus
    /// Short machine word for the `error` record: `bad_json`, `missing_field`, `not_found`, `io`, …
    public var code: String
    public var message: String
    /// Identifying fields of the input the error is about (show, section_id, …).
    public var context: [(String, JSONValue)]

    public init(_ status: ExitStatus, code: String, _ message: String, context: [(String, JSONValue)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.context = context
    }

    public var description: String { message }

    /// The `error` JSON-lines record for this error.
    public var record: JSONValue {
        var fields: [(String, JSONValue)] = [("type", "error"), ("code", .string(code)), ("message", .string(message))]
        fields.append(contentsOf: context)
        return .object(fields)
    }

    public static func config(_ message: String) -> SAError { SAError(.config, code: "config", message) }
    public static func usage(_ message: String) -> SAError { SAError(.usage, code: "usage", message) }
    public static func io(_ message: String) -> SAError { SAError(.ioError, code: "io", message) }
    public static func internalError(_ message: String) -> SAError { SAError(.software, code: "internal", message) }
}

extension SAError {
    /// Wraps any error so that the tools can report it uniformly.
    public static func from(_ error: any Error) -> SAError {
        if let e = error as? SAError { return e }
        return SAError(.software, code: "internal", String(describing: error))
    }
}
