import Testing
import TrellisCore

@Suite("Names")
struct NamesTests {
    @Test("valid tenant names", arguments: ["acme", "a", "0", "acme-corp", "team-42", "9lives", "a-b-c", String(repeating: "a", count: 63)])
    func validTenants(name: String) {
        #expect(Names.isValidTenant(name))
    }

    @Test(
        "invalid tenant names",
        arguments: [
            "", "Acme", "ACME", "-acme", "acme_corp", "acme.corp", "acme corp", " acme", "acme/x", "..", "../etc", "a/../b", "acme@1",
            "café", "租户", "acme\n", "a\u{0}b", String(repeating: "a", count: 64), String(repeating: "a", count: 1000),
        ])
    func invalidTenants(name: String) {
        #expect(!Names.isValidTenant(name))
    }

    @Test(
        "valid object names",
        arguments: [
            "assistant", "Claims-Assistant", "smollm2", "llama-3.1-8b", "qwen2.5_7b", "a", "7b", "a.b.c", "x_y-z.1",
            String(repeating: "m", count: 128),
        ])
    func validObjects(name: String) {
        #expect(Names.isValidObject(name))
    }

    @Test(
        "invalid object names: empty, too long, path tricks, version marker, spaces, non-ASCII",
        arguments: [
            "", ".", "..", "...", "a..b", "../secret", "a/../b", "a/b", "/a", "a/", "a\\b", ".hidden", "-x", "_x", "a@b", "a@1",
            "a b", "a\tb", "a\u{0}b", "a%2Fb", "a?b", "a#b", "a:b", "模型", "café", "ｆｕｌｌ", "a\u{200B}b",
            String(repeating: "m", count: 129),
        ])
    func invalidObjects(name: String) {
        #expect(!Names.isValidObject(name))
    }

    @Test("length limits count bytes, so multi-byte text cannot sneak past them")
    func byteLengths() {
        // Non-ASCII is refused anyway; what matters is that the limits are the documented ones.
        #expect(Names.isValidTenant(String(repeating: "z", count: 63)))
        #expect(!Names.isValidTenant(String(repeating: "z", count: 64)))
        #expect(Names.isValidObject(String(repeating: "Z", count: 128)))
        #expect(!Names.isValidObject(String(repeating: "Z", count: 129)))
    }
}
