import OpenAIWire
import TrellisCore

/// Typed, strict reading of an administration request body: the body must be an object, unknown fields are
/// refused (a misspelt field must not be silently ignored), and each getter names the field in its error.
struct BodyReader {
    let object: JSONObject
    /// `"timeouts."` for a nested object, so errors name the field in full.
    let prefix: String

    /// `path` names a nested object in errors (`timeouts.connect_ms`).
    init(_ value: JSONValue, allowed: [String], path: String? = nil) throws(TrellisError) {
        let prefix = path.map { $0 + "." } ?? ""
        guard case .object(let object) = value else {
            throw path.map { .invalidField($0, "must be an object") } ?? .invalidRequest("The request body must be a JSON object.")
        }
        for key in object.keys where !allowed.contains(key) {
            throw .invalidRequest(
                "Unknown field '\(prefix)\(key.prefix(64))'; allowed fields are \(allowed.joined(separator: ", ")).",
                param: prefix + String(key.prefix(64)), code: "unknown_parameter")
        }
        self.object = object
        self.prefix = prefix
    }

    /// The field's full name, as errors give it.
    func name(_ key: String) -> String { prefix + key }

    func has(_ key: String) -> Bool {
        if let v = object[key], !v.isNull { return true }
        return false
    }

    func value(_ key: String) -> JSONValue? {
        guard let v = object[key], !v.isNull else { return nil }
        return v
    }

    func string(_ key: String, maxBytes: Int = 256) throws(TrellisError) -> String? {
        guard let v = value(key) else { return nil }
        guard case .string(let s) = v else { throw .invalidField(name(key), "must be a string") }
        guard s.utf8.count <= maxBytes else { throw .invalidField(name(key), "must be at most \(maxBytes) bytes") }
        return s
    }

    func requiredString(_ key: String, maxBytes: Int = 256) throws(TrellisError) -> String {
        guard let s = try string(key, maxBytes: maxBytes) else { throw .missingField(name(key)) }
        guard !s.isEmpty else { throw .invalidField(name(key), "must not be empty") }
        return s
    }

    func int(_ key: String, in range: ClosedRange<Int>) throws(TrellisError) -> Int? {
        guard let v = value(key) else { return nil }
        guard let n = v.numberValue?.intValue, range.contains(n) else {
            throw .invalidField(name(key), "must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    func strings(_ key: String, maxCount: Int = 256, maxBytes: Int = 256) throws(TrellisError) -> [String]? {
        guard let v = value(key) else { return nil }
        guard case .array(let items) = v else { throw .invalidField(name(key), "must be an array of strings") }
        guard items.count <= maxCount else { throw .invalidField(name(key), "must have at most \(maxCount) entries") }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item, !s.isEmpty, s.utf8.count <= maxBytes else {
                throw .invalidField("\(name(key))[\(i)]", "must be a non-empty string of at most \(maxBytes) bytes")
            }
            out.append(s)
        }
        return out
    }

    func object(_ key: String) throws(TrellisError) -> JSONObject? {
        guard let v = value(key) else { return nil }
        guard case .object(let o) = v else { throw .invalidField(name(key), "must be an object") }
        return o
    }
}
