/// Which version of a model serves a request.
public enum VersionSelector {
    /// Splits `name@3` into the name and the pinned version. A trailing `@` part that is not a positive integer
    /// is part of no valid name, so it is returned as the whole name and fails to resolve.
    public static func parseReference(_ reference: String) -> (name: String, version: Int?) {
        guard let at = reference.lastIndex(of: "@") else { return (reference, nil) }
        let tail = reference[reference.index(after: at)...]
        guard let v = Int(tail), v > 0, tail.allSatisfy({ $0.isASCII && $0.isNumber }) else { return (reference, nil) }
        return (String(reference[..<at]), v)
    }

    /// The version for an unpinned request: drawn by the traffic weights, the same for the same `stickyKey`
    /// (an end user, else the key) so one user keeps seeing one version while the split is unchanged.
    public static func select(_ model: IndustryModel, stickyKey: String) -> ModelVersion? {
        let weighted = model.traffic.filter { $0.value > 0 && model.version($0.key) != nil }.sorted { $0.key < $1.key }
        guard !weighted.isEmpty else { return model.versions.last }
        let total = weighted.reduce(0) { $0 + $1.value }
        let point = Int(StableHash.fnv1a64(model.name + "\u{0}" + stickyKey) % UInt64(total))
        var acc = 0
        for (version, weight) in weighted {
            acc += weight
            if point < acc { return model.version(version) }
        }
        return model.version(weighted[weighted.count - 1].key)
    }
}

public enum StableHash {
    /// FNV-1a, 64-bit, finished with a murmur-style mix so nearby inputs spread evenly: stable across
    /// processes and restarts, unlike `Hasher`.
    public static func fnv1a64(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in s.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}
