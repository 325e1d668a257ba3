import OpenAIWire
import Testing

@Suite("JSONNumber and JSONObject")
struct JSONValueTests {
    @Test("intValue is exact or nil, never rounded")
    func intValue() {
        func n(_ s: String) -> JSONNumber { JSONNumber(validatedLiteral: s) }
        #expect(n("42").intValue == 42)
        #expect(n("-7").intValue == -7)
        #expect(n("3.0").intValue == 3)
        #expect(n("3e2").intValue == 300)
        #expect(n("3.5").intValue == nil)
        #expect(n("1e400").intValue == nil)
        #expect(n("18446744073709551616").intValue == nil)
        #expect(n("9223372036854775807").intValue == Int.max)
        #expect(n("1e400").doubleValue?.isFinite == false)
    }

    @Test("numbers made from Swift values are valid JSON literals")
    func fromSwift() throws {
        #expect(JSONNumber(12).literal == "12")
        #expect(JSONNumber(3.0).literal == "3")
        #expect(JSONNumber(Double.nan).literal == "0")
        #expect(JSONNumber(Double.infinity).literal == "0")
        for d in [0.5, -0.25, 1e-7, 1.5e300, 123456.789] {
            let literal = JSONNumber(d).literal
            let parsed = try JSONParser.parse(literal)
            #expect(parsed.numberValue?.doubleValue == d, "\(literal)")
        }
    }

    @Test("subscript set replaces in place, appends new keys, and nil removes")
    func objectEditing() {
        var o: JSONObject = ["a": 1, "b": 2, "c": 3]
        o["b"] = "two"
        #expect(o.keys == ["a", "b", "c"])
        #expect(o["b"] == "two")
        o["d"] = 4
        #expect(o.keys == ["a", "b", "c", "d"])
        o["a"] = nil
        #expect(o.keys == ["b", "c", "d"])
        #expect(o.removeValue(forKey: "c") == 3)
        #expect(o.removeValue(forKey: "zz") == nil)
        #expect(o.keys == ["b", "d"])
    }
}
