import Crypto
import Foundation

/// Tenant API keys: `trk-` followed by 43 base64url characters of 256 random bits. Only the SHA-256 digest is
/// stored; the first 12 characters (`trk-` and 8 more) are kept as the display prefix, which identifies a key in
/// lists and logs but carries 48 of its 256 bits at most, too few to matter.
public enum APIKeys {
    public static let marker = "trk-"
    public static let prefixLength = 12

    public struct Issued: Sendable {
        public let key: String
        public let prefix: String
        public let digest: KeyDigest
    }

    public static func generate() -> Issued {
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8](repeating: 0, count: 32)
        for i in bytes.indices { bytes[i] = generator.next() }
        let key = marker + base64URL(bytes)
        return Issued(key: key, prefix: String(key.prefix(prefixLength)), digest: KeyDigest(of: key))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A random identifier such as `key_3f9a0c1d2e4b5a69`: 64 random bits in hex after a type tag.
    public static func identifier(_ tag: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let value: UInt64 = generator.next()
        let hex = String(value, radix: 16)
        return tag + "_" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// The SHA-256 digest of a key: what the store keeps and the in-memory key map is keyed by.
public struct KeyDigest: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(of key: String) {
        self.bytes = Array(SHA256.hash(data: Array(key.utf8)))
    }

    public init?(hex: String) {
        guard hex.utf8.count == 64 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(32)
        var high: UInt8?
        for c in hex.utf8 {
            let v: UInt8
            switch c {
            case 0x30...0x39: v = c - 0x30
            case 0x61...0x66: v = c - 0x61 + 10
            default: return nil
            }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        self.bytes = out
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares every byte whatever the first difference, so the time taken says nothing about where it is.
    public func constantTimeEquals(_ other: KeyDigest) -> Bool {
        guard bytes.count == other.bytes.count else { return false }
        var diff: UInt8 = 0
        for i in bytes.indices { diff |= bytes[i] ^ other.bytes[i] }
        return diff == 0
    }
}
