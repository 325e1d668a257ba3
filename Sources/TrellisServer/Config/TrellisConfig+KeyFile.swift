#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension TrellisConfig {
    /// Why a file holding the operator key must not be used, or nil: like ssh with a private key, a key file
    /// that its group or other users may read or write (any of the mode bits 0o077) is refused, naming the
    /// file, its mode and the fix. The mode is the one of the file a symbolic link points to (Kubernetes and
    /// Docker mount secrets through links).
    static func keyFileProblem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return "cannot read the file '\(path)'" }
        let mode = Int(info.st_mode) & 0o7777
        guard mode & 0o077 != 0 else { return nil }
        return "the file '\(path)' has mode \(format4(mode)), so users other than its owner may read or change it; "
            + "make it private: chmod 600 '\(path)' (for a mounted secret, set its mode to 0400 or 0600)"
    }

    private static func format4(_ mode: Int) -> String {
        let octal = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - octal.count)) + octal
    }
}
