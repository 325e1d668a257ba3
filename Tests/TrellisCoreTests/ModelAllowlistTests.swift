import Testing
import TrellisCore

@Suite("ModelAllowlist")
struct ModelAllowlistTests {
    @Test("`*` allows every model")
    func all() {
        for name in ["assistant", "claims", "x", "a.b-c_d"] {
            #expect(ModelAllowlist.all.allows(name))
            #expect(ModelAllowlist(["*"]).allows(name))
        }
    }

    @Test("exact names allow only themselves")
    func exact() {
        let list = ModelAllowlist(["assistant", "claims"])
        #expect(list.allows("assistant"))
        #expect(list.allows("claims"))
        #expect(!list.allows("assistant2"))
        #expect(!list.allows("assistan"))
        #expect(!list.allows("Assistant"))
        #expect(!list.allows("claims-v2"))
    }

    @Test("a prefix ending in `*` allows names starting with it, nothing else")
    func prefix() {
        let list = ModelAllowlist(["claims-*"])
        #expect(list.allows("claims-v1"))
        #expect(list.allows("claims-"))
        #expect(!list.allows("claims"))
        #expect(!list.allows("xclaims-v1"))
        #expect(!list.allows("assistant"))
    }

    @Test("an empty list allows nothing")
    func empty() {
        #expect(!ModelAllowlist([]).allows("assistant"))
    }

    @Test("any matching pattern is enough")
    func several() {
        let list = ModelAllowlist(["a", "b-*"])
        #expect(list.allows("a"))
        #expect(list.allows("b-1"))
        #expect(!list.allows("c"))
    }

    @Test("valid patterns", arguments: ["*", "assistant", "claims-*", "a*", String(repeating: "m", count: 128), String(repeating: "m", count: 128) + "*"])
    func validPatterns(pattern: String) {
        #expect(ModelAllowlist.validate(pattern))
    }

    @Test("invalid patterns", arguments: ["", "**", "a*b", "*a", "a**", "a*b*", String(repeating: "m", count: 129)])
    func invalidPatterns(pattern: String) {
        #expect(!ModelAllowlist.validate(pattern))
    }
}
