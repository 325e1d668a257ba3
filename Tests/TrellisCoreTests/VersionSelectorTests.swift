import Testing
import TrellisCore

@Suite("VersionSelector")
struct VersionSelectorTests {
    @Test(
        "parseReference",
        arguments: [
            ("assistant", "assistant", nil),
            ("assistant@3", "assistant", 3),
            ("assistant@12", "assistant", 12),
            ("a@b@3", "a@b", 3),
            ("x@0", "x@0", nil),
            ("x@-1", "x@-1", nil),
            ("x@3x", "x@3x", nil),
            ("x@", "x@", nil),
            ("x@+3", "x@+3", nil),
            ("x@ 3", "x@ 3", nil),
            ("x@3.0", "x@3.0", nil),
            ("x@٣", "x@٣", nil),  // an Arabic-Indic digit is not an ASCII digit
            ("x@99999999999999999999999", "x@99999999999999999999999", nil),
        ] as [(String, String, Int?)])
    func parseReference(reference: String, name: String, version: Int?) {
        let parsed = VersionSelector.parseReference(reference)
        #expect(parsed.name == name)
        #expect(parsed.version == version)
    }

    /// Share of `keys` sticky keys that each version receives.
    private func shares(_ model: IndustryModel, keys: Int = 20_000) -> [Int: Double] {
        var counts: [Int: Int] = [:]
        for i in 0..<keys {
            if let v = VersionSelector.select(model, stickyKey: "user-\(i)") { counts[v.version, default: 0] += 1 }
        }
        return counts.mapValues { Double($0) / Double(keys) }
    }

    @Test("a 90/10 split lands within ±3 points over 20000 users")
    func ninetyTen() throws {
        let model = try Fixtures.model("assistant", versions: [1, 2], traffic: [1: 90, 2: 10])
        let s = shares(model)
        // One standard deviation is 0.2 points here: ±3 points never flakes, and a wrong weight (say 80/20 or
        // 95/5) is far outside it.
        #expect((0.87...0.93).contains(s[1] ?? 0), "v1 share \(s[1] ?? 0)")
        #expect((0.07...0.13).contains(s[2] ?? 0), "v2 share \(s[2] ?? 0)")
    }

    @Test("a three-way 50/30/20 split, given as weights of any scale")
    func threeWay() throws {
        let model = try Fixtures.model("m", versions: [1, 2, 3], traffic: [1: 5, 2: 3, 3: 2])
        let s = shares(model)
        #expect((0.47...0.53).contains(s[1] ?? 0), "\(s)")
        #expect((0.27...0.33).contains(s[2] ?? 0), "\(s)")
        #expect((0.17...0.23).contains(s[3] ?? 0), "\(s)")
    }

    @Test("a 99/1 split still gives the small version some traffic, and not much")
    func tinyShare() throws {
        let model = try Fixtures.model("m", versions: [1, 2], traffic: [1: 99, 2: 1])
        let s = shares(model)
        #expect((0.003...0.02).contains(s[2] ?? 0), "\(s)")
    }

    @Test("the split does not depend on the model name in a biased way")
    func differentNames() throws {
        for name in ["a", "assistant", "claims-v2", "模型"] {
            let model = try Fixtures.model(name, versions: [1, 2], traffic: [1: 50, 2: 50])
            let s = shares(model, keys: 10_000)
            #expect((0.46...0.54).contains(s[1] ?? 0), "\(name): \(s)")
        }
    }

    @Test("sticky: the same key gets the same version every time")
    func sticky() throws {
        let model = try Fixtures.model("assistant", versions: [1, 2, 3], traffic: [1: 34, 2: 33, 3: 33])
        for i in 0..<500 {
            let key = "user-\(i)"
            let first = VersionSelector.select(model, stickyKey: key)?.version
            #expect(first != nil)
            for _ in 0..<5 {
                #expect(VersionSelector.select(model, stickyKey: key)?.version == first)
            }
        }
    }

    @Test("sticky across rebuilt models: the choice depends on name, key and split only")
    func stickyAcrossInstances() throws {
        let a = try Fixtures.model("assistant", versions: [1, 2], traffic: [1: 50, 2: 50])
        let b = try Fixtures.model("assistant", versions: [1, 2], traffic: [2: 50, 1: 50])
        for i in 0..<200 {
            #expect(VersionSelector.select(a, stickyKey: "k\(i)")?.version == VersionSelector.select(b, stickyKey: "k\(i)")?.version)
        }
    }

    @Test("zero-weight versions are never drawn")
    func zeroWeight() throws {
        let model = try Fixtures.model("m", versions: [1, 2, 3], traffic: [1: 0, 2: 100, 3: 0])
        let s = shares(model, keys: 5_000)
        #expect(s == [2: 1.0])
    }

    @Test("traffic naming a version that does not exist is ignored")
    func missingVersion() throws {
        let model = try Fixtures.model("m", versions: [1, 2], traffic: [2: 50, 7: 50])
        #expect(shares(model, keys: 2_000) == [2: 1.0])
    }

    @Test("no traffic, or only zero weights: the latest version")
    func emptyTraffic() throws {
        for traffic in [[:], [1: 0, 2: 0], [9: 100]] as [[Int: Int]] {
            let model = try Fixtures.model("m", versions: [1, 3, 2], traffic: traffic)
            for i in 0..<50 {
                #expect(VersionSelector.select(model, stickyKey: "u\(i)")?.version == 3, "\(traffic)")
            }
        }
    }

    @Test("a model with no versions selects none")
    func noVersions() throws {
        let model = try Fixtures.model("m", versions: [], traffic: [:])
        #expect(VersionSelector.select(model, stickyKey: "u") == nil)
    }

    @Test("StableHash is FNV-1a-based and deterministic")
    func stableHash() {
        #expect(StableHash.fnv1a64("abc") == StableHash.fnv1a64("abc"))
        #expect(StableHash.fnv1a64("abc") != StableHash.fnv1a64("abd"))
        #expect(StableHash.fnv1a64("") != StableHash.fnv1a64("\u{0}"))
    }
}
