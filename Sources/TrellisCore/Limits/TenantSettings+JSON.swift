import OpenAIWire

extension TenantSettings {
    public static let fields = ["rpm", "tpm", "concurrency", "monthly_token_quota", "capture"]

    /// `{"rpm","tpm","concurrency","monthly_token_quota","capture": {"enabled","retention_days"}}`; each
    /// field optional; null clears it. Fields not given keep `base`'s value.
    public static func parse(_ object: JSONObject, base: TenantSettings = TenantSettings()) throws(TrellisError) -> TenantSettings {
        var s = base
        func limit(_ key: String, _ range: ClosedRange<Int>) throws(TrellisError) -> Int?? {
            guard let v = object[key] else { return .none }
            if v.isNull { return .some(nil) }
            guard let n = v.numberValue?.intValue, range.contains(n) else {
                throw .invalidField(key, "must be an integer from \(range.lowerBound) to \(range.upperBound), or null for no limit")
            }
            return .some(n)
        }
        if let v = try limit("rpm", 1...100_000_000) { s.limits.requestsPerMinute = v }
        if let v = try limit("tpm", 1...1_000_000_000_000) { s.limits.tokensPerMinute = v }
        if let v = try limit("concurrency", 1...1_000_000) { s.limits.concurrency = v }
        if let v = try limit("monthly_token_quota", 1...1_000_000_000_000_000) { s.monthlyTokenQuota = v }
        if let c = object["capture"] {
            if c.isNull {
                s.capture = nil
            } else {
                s.capture = try CaptureSettings.parse(c, path: "capture")
            }
        }
        return s
    }

    public var json: JSONValue {
        [
            "rpm": limits.requestsPerMinute.map { .int($0) } ?? .null, "tpm": limits.tokensPerMinute.map { .int($0) } ?? .null,
            "concurrency": limits.concurrency.map { .int($0) } ?? .null,
            "monthly_token_quota": monthlyTokenQuota.map { .int($0) } ?? .null, "capture": capture?.json ?? .null,
        ]
    }
}

extension CaptureSettings {
    public static func parse(_ value: JSONValue, path: String) throws(TrellisError) -> CaptureSettings {
        guard case .object(let o) = value else { throw .invalidField(path, "must be {\"enabled\": true, \"retention_days\": 30}") }
        for key in o.keys where key != "enabled" && key != "retention_days" {
            throw .invalidRequest("Unknown field '\(path).\(key.prefix(64))'.", param: "\(path).\(key.prefix(64))", code: "unknown_parameter")
        }
        guard case .bool(let enabled)? = o["enabled"] else { throw .invalidField("\(path).enabled", "must be true or false") }
        var days = 30
        if let d = o["retention_days"], !d.isNull {
            guard let n = d.numberValue?.intValue, (1...3650).contains(n) else { throw .invalidField("\(path).retention_days", "must be 1 to 3650") }
            days = n
        }
        return CaptureSettings(enabled: enabled, retentionDays: days)
    }

    public var json: JSONValue { ["enabled": .bool(enabled), "retention_days": .int(retentionDays)] }
}
