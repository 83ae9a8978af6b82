import Foundation

/// A JSON value whose objects keep their key order, so records read the same on every run.
public enum JSONValue: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByFloatLiteral
{
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.serialized() == rhs.serialized() }

    public subscript(key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields.last(where: { $0.0 == key })?.1 }
        return nil
    }

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int64(d)
        case .string(let s): return Int64(s)
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }

    /// Compact serialization, one line, no trailing newline.
    public func serialized() -> String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if d.isFinite {
                if d.rounded() == d && abs(d) < 1e15 { out += String(Int64(d)) + ".0" } else { out += String(d) }
            } else {
                out += "null"
            }
        case .string(let s): JSONValue.writeString(s, to: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                v.write(to: &out)
            }
            out += "]"
        case .object(let fields):
            out += "{"
            for (i, (k, v)) in fields.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(k, to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    /// Parses one JSON document (used by the JSON-lines readers).
    public static func parse(_ text: String) throws -> JSONValue {
        guard let data = text.data(using: .utf8) else { throw SAError(.badJSON, "not UTF-8") }
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw SAError(.badJSON, "not valid JSON: \(text.prefix(80))")
        }
        return try from(any: any)
    }

    private static func checked(_ s: String) throws -> String {
        // A NUL would cut the string wherever it becomes a C string (a path, an SQL value).
        if s.utf8.contains(0) { throw SAError(.badJSON, "a string contains a NUL character (\\u0000)") }
        return s
    }

    private static func from(any: Any) throws -> JSONValue {
        switch any {
        case is NSNull: return .null
        case let n as NSNumber:
            if String(describing: type(of: n)).contains("Boolean") { return .bool(n.boolValue) }
            let kind = String(cString: n.objCType)
            if kind == "d" || kind == "f" { return .double(n.doubleValue) }
            // Unsigned values beyond Int64 would trap on conversion: they stay doubles (and fail as ids).
            if kind == "Q" || kind == "L" {
                return n.uint64Value <= UInt64(Int64.max) ? .int(Int64(n.uint64Value)) : .double(n.doubleValue)
            }
            return .int(n.int64Value)
        case let s as String: return .string(try checked(s))
        case let a as [Any]: return .array(try a.map(from(any:)))
        case let o as [String: Any]: return .object(try o.keys.sorted().map { (try checked($0), try from(any: o[$0]!)) })
        default: return .null
        }
    }
}
