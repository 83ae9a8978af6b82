import Foundation

/// Passwords inside URLs (`https://user:secret@host/…`, `postgres://u:pw@h/db`) never leave the
/// process: every message, log line, JSON line and HTTP answer that may carry a URL goes
/// through `Redaction.userinfo`, which keeps the user name and replaces the password.
public enum Redaction {
    private static let pattern = try! NSRegularExpression(
        pattern: "([A-Za-z][A-Za-z0-9+.-]*://)([^/?#@\\s:]*):([^/?#@\\s]*)@", options: [])

    public static func userinfo(_ text: String) -> String {
        // Cheap test first: most lines carry no URL with a user part.
        guard text.contains("@"), text.contains("://") else { return text }
        let range = NSRange(text.startIndex..., in: text)
        return pattern.stringByReplacingMatches(in: text, options: [], range: range, withTemplate: "$1$2:***@")
    }
}
