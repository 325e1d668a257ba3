import Foundation

/// A header value with parameters (`multipart/form-data; boundary="x"`, `form-data; name="file"`): the one
/// reader of Content-Type and Content-Disposition values.
enum MediaType {
    /// The first `;`-separated piece that is not empty, trimmed and lower-cased: `text/plain` for
    /// `Text/Plain; charset=utf-8`; empty for a value with no piece (`""`, `";"`).
    static func base(of value: String) -> String {
        // What nearly every client sends, as is: the general path below splits, trims and lower-cases through
        // Foundation, a few µs on every JSON request.
        if value == "application/json" { return value }
        return value.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
    }

    /// A parameter's value, unquoted (`boundary` in `multipart/form-data; boundary="x"` is `x`); the name is
    /// matched without case. Nil when the value has no such parameter.
    static func parameter(_ name: String, in value: String) -> String? {
        for piece in value.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            var parameter = pair[1].trimmingCharacters(in: .whitespaces)
            if parameter.hasPrefix("\""), parameter.hasSuffix("\""), parameter.count >= 2 { parameter = String(parameter.dropFirst().dropLast()) }
            return parameter
        }
        return nil
    }
}
