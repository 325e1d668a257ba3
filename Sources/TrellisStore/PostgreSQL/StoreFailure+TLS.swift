import NIOSSL
import PostgresNIO

extension StoreFailure {
    /// A connection's TLS failure in words an operator can act on (which setting to look at), for `describe`;
    /// nil when `error` is not one. NIOSSL's own text names a source file of the build and is cut mid-word.
    static func tlsProblem(_ error: PSQLError) -> String? {
        if error.code == .sslUnsupported {
            return "TLS: the database server does not offer TLS (sslmode=require or verify-full needs ssl=on on the server)"
        }
        if let extra = error.underlying as? NIOSSLExtraError, extra == .failedToValidateHostname {
            return "TLS: the server's certificate does not name the host in store.url (sslmode=verify-full checks the name)"
        }
        guard let ssl = error.underlying as? NIOSSLError else { return nil }
        let text = String(describing: ssl)
        if text.contains("CERTIFICATE_VERIFY_FAILED") {
            return "TLS: the server's certificate is not trusted (CERTIFICATE_VERIFY_FAILED); sslmode=verify-full checks it against "
                + "store.ca_file or sslrootcert, else the system's roots"
        }
        // Another TLS failure: its first reason, without the build's file paths.
        let reason = text.split(separator: " at /", maxSplits: 1).first.map(String.init) ?? text
        return "TLS failed (\(reason.prefix(160)))"
    }
}
