import Foundation

/// The one error type of the toolkit. Its `code` says what went wrong; the code owns the
/// process exit status (sysexits), the HTTP status and the short word of the `error` JSON record.
public struct SAError: Error, CustomStringConvertible, Sendable {
    public var code: Code
    public var message: String
    /// Identifying fields of the input the error is about (show, section_id, …).
    public var context: [(String, JSONValue)]

    public init(_ code: Code, _ message: String, context: [(String, JSONValue)] = []) {
        self.code = code
        self.message = message
        self.context = context
    }

    public var description: String { message }
    public var exitStatus: ExitStatus { code.exitStatus }

    /// The `error` JSON-lines record for this error.
    public var record: JSONValue {
        var fields: [(String, JSONValue)] = [("type", "error"), ("code", .string(code.word)), ("message", .string(message))]
        fields.append(contentsOf: context)
        return .object(fields)
    }

    public static func config(_ message: String) -> SAError { SAError(.config, message) }
    public static func usage(_ message: String) -> SAError { SAError(.usage, message) }
    public static func io(_ message: String) -> SAError { SAError(.io, message) }
    public static func internalError(_ message: String) -> SAError { SAError(.internalError, message) }

    /// Wraps any error so that the tools can report it uniformly.
    public static func from(_ error: any Error) -> SAError {
        if let e = error as? SAError { return e }
        return SAError(.internalError, String(describing: error))
    }

    /// What went wrong. Several codes share a word in JSON records (scripts match the words,
    /// which stay as they were) while their exit statuses differ.
    public enum Code: Sendable, Equatable, CaseIterable {
        // 64: the command line or request was wrong.
        case usage, badParam, badShowName
        // 65: input or stored data is wrong.
        case badJSON, missingField, badFileName, badAudio, unsupported, corrupt, version, recipient, badDatabase
        case notAShowDatabase, storedShowName, sourceMismatch, badRecord, notRecordedYet, missing, corruptStorage
        // 66: a named file, database or show is not there.
        case notFound, unreadable
        // 69: a server is unreachable or answered nonsense.
        case unavailable, badResponse
        // 70: our fault, or the database's.
        case internalError, database, storageFault
        // 73, 74: files cannot be created or written.
        case cantCreate, databaseUncreatable, io, diskFull, uploadMismatch
        // 75: try again later.
        case busy, conflict, locked, changed, openSection
        // 77: not allowed.
        case auth, permission, forbidden, hostKey, deniedStorage
        // 78: the config is wrong.
        case config, settingsMismatch

        /// The word in `error` records and HTTP error bodies.
        public var word: String {
            switch self {
            case .usage: return "usage"
            case .badParam: return "bad_param"
            case .badShowName, .storedShowName: return "bad_show_name"
            case .badJSON: return "bad_json"
            case .missingField: return "missing_field"
            case .badFileName: return "bad_file_name"
            case .badAudio: return "bad_audio"
            case .unsupported: return "unsupported"
            case .corrupt: return "corrupt"
            case .version: return "version"
            case .recipient: return "recipient"
            case .badDatabase: return "bad_database"
            case .notAShowDatabase: return "not_a_show_database"
            case .sourceMismatch, .uploadMismatch, .settingsMismatch: return "mismatch"
            case .badRecord, .badResponse: return "bad_response"
            case .notRecordedYet: return "not_recorded_yet"
            case .missing, .notFound, .databaseUncreatable: return "not_found"
            case .unreadable, .cantCreate, .io, .busy, .corruptStorage, .storageFault, .deniedStorage: return "io"
            case .unavailable: return "unavailable"
            case .internalError: return "internal"
            case .database: return "db"
            case .diskFull: return "disk_full"
            case .conflict: return "conflict"
            case .locked: return "locked"
            case .changed: return "changed"
            case .openSection: return "open_section"
            case .auth: return "auth"
            case .permission: return "permission"
            case .forbidden: return "forbidden"
            case .hostKey: return "host_key"
            case .config: return "config"
            }
        }

        public var exitStatus: ExitStatus {
            switch self {
            case .usage, .badParam, .badShowName: return .usage
            case .badJSON, .missingField, .badFileName, .badAudio, .unsupported, .corrupt, .version, .recipient, .badDatabase,
                 .notAShowDatabase, .storedShowName, .sourceMismatch, .badRecord, .notRecordedYet, .missing, .corruptStorage:
                return .dataError
            case .notFound, .unreadable: return .noInput
            case .unavailable, .badResponse: return .unavailable
            case .internalError, .database, .storageFault: return .software
            case .cantCreate, .databaseUncreatable: return .cantCreate
            case .io, .diskFull, .uploadMismatch: return .ioError
            case .busy, .conflict, .locked, .changed, .openSection: return .tempFail
            case .auth, .permission, .forbidden, .hostKey, .deniedStorage: return .noPermission
            case .config, .settingsMismatch: return .config
            }
        }

        /// The status an HTTP API answers with.
        public var httpStatus: Int {
            switch self {
            case .usage, .badParam, .badShowName, .storedShowName: return 400
            case .auth: return 401
            case .recipient, .forbidden: return 403
            case .notFound, .missing, .notAShowDatabase, .notRecordedYet: return 404
            case .conflict, .locked, .openSection: return 409
            case .unavailable, .busy: return 503
            default: return 500
            }
        }
    }
}
