/// Rules for the names clients put in paths and bodies.
public enum Names {
    /// Tenant names: `[a-z0-9][a-z0-9-]*`, at most 63 characters (they appear in URLs and metric labels).
    public static func isValidTenant(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 63 else { return false }
        var first = true
        for b in name.utf8 {
            let ok = (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || (!first && b == 0x2D)
            if !ok { return false }
            first = false
        }
        return true
    }

    /// Catalog object names (models, upstreams, prompts, knowledge bases, adapters): a letter or digit, then
    /// letters, digits, `.`, `_` and `-`, at most 128 characters. `@` is kept for `name@version`, `/` and `..`
    /// never appear, so a name is always one path segment.
    public static func isValidObject(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 128 else { return false }
        var first = true
        var previousDot = false
        for b in name.utf8 {
            let alnum = (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39)
            let punct = b == 0x2E || b == 0x5F || b == 0x2D
            if first ? !alnum : !(alnum || punct) { return false }
            if b == 0x2E && previousDot { return false }
            previousDot = b == 0x2E
            first = false
        }
        return true
    }

    public static let tenantRule = "[a-z0-9][a-z0-9-]*, at most 63 characters"
    public static let objectRule = "a letter or digit, then letters, digits, '.', '_' or '-', at most 128 characters"
}
