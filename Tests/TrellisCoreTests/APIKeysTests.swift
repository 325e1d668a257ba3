import Foundation
import Testing
import TrellisCore

@Suite("APIKeys and KeyDigest")
struct APIKeysTests {
    static let base64URL = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    @Test("a key is `trk-` and 43 base64url characters encoding 256 bits")
    func format() throws {
        for _ in 0..<100 {
            let issued = APIKeys.generate()
            #expect(issued.key.hasPrefix("trk-"))
            #expect(issued.key.count == 4 + 43)
            let body = issued.key.dropFirst(4)
            #expect(body.allSatisfy { Self.base64URL.contains($0) }, "\(issued.key)")
            // Decodes to exactly 32 bytes.
            let standard = body.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/") + "="
            let bytes = try #require(Data(base64Encoded: standard))
            #expect(bytes.count == 32)
        }
    }

    @Test("the display prefix is the first 12 characters, and the digest is the key's SHA-256")
    func prefixAndDigest() {
        let issued = APIKeys.generate()
        #expect(APIKeys.prefixLength == 12)
        #expect(issued.prefix.count == 12)
        #expect(issued.key.hasPrefix(issued.prefix))
        #expect(issued.prefix.hasPrefix("trk-"))
        #expect(issued.digest == KeyDigest(of: issued.key))
    }

    @Test("1000 keys are all different, as are their digests")
    func uniqueness() {
        var keys = Set<String>()
        var digests = Set<KeyDigest>()
        var prefixes = Set<String>()
        for _ in 0..<1000 {
            let issued = APIKeys.generate()
            keys.insert(issued.key)
            digests.insert(issued.digest)
            prefixes.insert(issued.prefix)
        }
        #expect(keys.count == 1000)
        #expect(digests.count == 1000)
        // 48 random bits each: a collision among 1000 has a probability of about 2e-9.
        #expect(prefixes.count == 1000)
    }

    @Test("every character position varies: the key is not mostly constant")
    func positionsVary() {
        let keys = (0..<1000).map { _ in Array(APIKeys.generate().key.dropFirst(4)) }
        // The first 42 characters carry 6 random bits each; 1000 draws from 64 values leave fewer than 40 distinct
        // with negligible probability. The last carries 4 bits (16 values).
        for position in 0..<42 {
            #expect(Set(keys.map { $0[position] }).count >= 40, "position \(position)")
        }
        #expect(Set(keys.map { $0[42] }).count > 8)
    }

    @Test("KeyDigest is SHA-256: the FIPS 180-2 test vectors")
    func sha256Vectors() {
        #expect(KeyDigest(of: "abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(KeyDigest(of: "").hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(KeyDigest(of: "abc").bytes.count == 32)
    }

    @Test("hex round trip")
    func hexRoundTrip() throws {
        for _ in 0..<100 {
            let digest = APIKeys.generate().digest
            #expect(digest.hex.count == 64)
            #expect(digest.hex.allSatisfy { "0123456789abcdef".contains($0) })
            let back = try #require(KeyDigest(hex: digest.hex))
            #expect(back == digest)
            #expect(back.bytes == digest.bytes)
        }
    }

    @Test("malformed hex is refused")
    func badHex() {
        let good = KeyDigest(of: "x").hex
        #expect(KeyDigest(hex: "") == nil)
        #expect(KeyDigest(hex: String(good.dropLast())) == nil)
        #expect(KeyDigest(hex: good + "0") == nil)
        #expect(KeyDigest(hex: String(repeating: "g", count: 64)) == nil)
        #expect(KeyDigest(hex: String(good.dropLast()) + " ") == nil)
        #expect(KeyDigest(hex: String(good.dropLast(2)) + "é") == nil)  // 64 bytes, not hex
    }

    @Test("constantTimeEquals: equal digests are equal; any single differing byte makes them unequal")
    func constantTimeEquals() throws {
        let a = KeyDigest(of: "trk-one")
        #expect(a.constantTimeEquals(KeyDigest(of: "trk-one")))
        #expect(!a.constantTimeEquals(KeyDigest(of: "trk-two")))
        // Flip one bit at each position in turn, via the hex form.
        var hex = Array(a.hex)
        for i in stride(from: 0, to: 64, by: 2) {
            let original = hex[i + 1]
            hex[i + 1] = original == "0" ? "1" : "0"
            let other = try #require(KeyDigest(hex: String(hex)))
            #expect(!a.constantTimeEquals(other), "byte \(i / 2)")
            #expect(!other.constantTimeEquals(a))
            hex[i + 1] = original
        }
    }

    @Test("identifiers are a tag, an underscore and 16 hex digits, and do not repeat")
    func identifiers() {
        var seen = Set<String>()
        for _ in 0..<1000 {
            let id = APIKeys.identifier("key")
            #expect(id.hasPrefix("key_"))
            let hex = id.dropFirst(4)
            #expect(hex.count == 16)
            #expect(hex.allSatisfy { "0123456789abcdef".contains($0) })
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }
}
